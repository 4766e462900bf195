"""The engine: devices, precision, value range, size multiple, ensemble, OOM, auto tile."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from srcli.errors import ConfigError
from srcli.imaging.resize import imresize
from srcli.inference.engine import (
    CPU_FAST_TILE_BYTES,
    CPU_TILE_BUDGET,
    EngineOptions,
    Upscaler,
    resolve_device,
    resolve_dtype,
    set_threads,
)
from srcli.inference.memory import SAFETY, bytes_per_pixel
from srcli.models import ModelDescriptor, create_model


def _lr(benchmark_dir: Path, name: str = "img_004.png") -> np.ndarray:
    path = benchmark_dir / "Set14" / "LR_bicubic" / "X4" / name
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


def _with_descriptor(model: nn.Module, **changes: object) -> nn.Module:
    model.descriptor = dataclasses.replace(model.descriptor, **changes)
    return model


class _Probe(nn.Module):
    """Nearest-neighbour x2 that records what it was given and can misbehave on purpose.

    `seen` is shared through a bound method, which deepcopy (done by the engine for half
    precision) does not duplicate."""

    def __init__(self, multiple: int = 1, oom_above: int = 0, overflow: bool = False) -> None:
        super().__init__()
        self.multiple, self.oom_above, self.overflow = multiple, oom_above, overflow
        self.seen: list[tuple[int, int, float, torch.dtype]] = []
        self.record = self.seen.append
        self.descriptor = ModelDescriptor("probe", "test", 2, size_multiple=multiple)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        self.record((h, w, float(x.max()), x.dtype))
        if h % self.multiple or w % self.multiple:
            raise AssertionError(f"{h}x{w} is not a multiple of {self.multiple}")
        if self.oom_above and h * w > self.oom_above:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        if self.overflow:  # 1e5 overflows fp16 (max 65504) but not fp32
            x = (x * 1e5) / 1e5
        return x.repeat_interleave(2, -2).repeat_interleave(2, -1)


def test_device_resolution_on_this_machine() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    auto = resolve_device("auto")
    if not torch.cuda.is_available():
        assert auto.type in ("cpu", "mps")
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda:0")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("gpu")


def test_precision_follows_descriptor() -> None:
    desc = ModelDescriptor("m", "f", 2, supports_fp16=False, supports_bf16=False)
    assert resolve_dtype("auto", torch.device("cpu"), desc) == torch.float32
    with pytest.raises(ConfigError, match="bf16"):
        resolve_dtype("bf16", torch.device("cpu"), desc)
    desc = ModelDescriptor("m", "f", 2, supports_fp16=False)
    assert resolve_dtype("bf16", torch.device("cpu"), desc) == torch.bfloat16
    with pytest.raises(ConfigError, match="fp16"):
        resolve_dtype("fp16", torch.device("cpu"), desc)


def test_set_threads_is_explicit() -> None:
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        with pytest.raises(ConfigError):
            set_threads(0)
    finally:
        torch.set_num_threads(before)


def test_bicubic_model_matches_matlab_imresize(benchmark_dir: Path) -> None:
    lr = _lr(benchmark_dir)
    out = Upscaler(create_model("bicubic", 4), EngineOptions(device="cpu", tile=0)).upscale(lr)
    ref = np.clip(imresize(lr.astype(np.float64), 4.0), 0, 1)
    assert out.shape == (lr.shape[0] * 4, lr.shape[1] * 4, 3)
    assert np.abs(out - ref).max() < 1e-5


def test_ensemble_of_a_symmetric_model_changes_nothing(benchmark_dir: Path) -> None:
    lr = _lr(benchmark_dir)
    single = Upscaler(create_model("bicubic", 2), EngineOptions(device="cpu", tile=0))
    ens = Upscaler(create_model("bicubic", 2), EngineOptions(device="cpu", tile=0,
                                                             ensemble=True))
    assert np.abs(single.upscale(lr) - ens.upscale(lr)).max() < 1e-5


def test_ensemble_output_is_rotation_and_flip_equivariant(benchmark_dir: Path) -> None:
    torch.manual_seed(1)
    model = create_model("dan", 2, n_feats=8, n_blocks=2, distance=1)
    eng = Upscaler(model, EngineOptions(device="cpu", tile=0, ensemble=True))
    lr = _lr(benchmark_dir)[:40, :52]
    base = eng.upscale(lr)
    rotated = eng.upscale(np.ascontiguousarray(np.rot90(lr)))
    flipped = eng.upscale(np.ascontiguousarray(lr[:, ::-1]))
    assert np.abs(np.rot90(base) - rotated).max() < 1e-5
    assert np.abs(base[:, ::-1] - flipped).max() < 1e-5
    plain = Upscaler(model, EngineOptions(device="cpu", tile=0)).upscale(lr)
    assert np.abs(plain - base).max() > 1e-4  # a random DAN is not symmetric by itself


def test_size_multiple_pads_then_crops(benchmark_dir: Path) -> None:
    probe = _Probe(multiple=8)
    lr = _lr(benchmark_dir)[:37, :29]
    out = Upscaler(probe, EngineOptions(device="cpu", tile=0)).upscale(lr)
    assert probe.seen[0][:2] == (40, 32)
    assert out.shape == (74, 58, 3)
    assert np.array_equal(out[::2, ::2], lr)


def test_input_range_is_applied(benchmark_dir: Path) -> None:
    bic = _with_descriptor(create_model("bicubic", 2), input_range=255.0)
    lr = _lr(benchmark_dir)
    out = Upscaler(bic, EngineOptions(device="cpu", tile=0)).upscale(lr)
    ref = Upscaler(create_model("bicubic", 2), EngineOptions(device="cpu", tile=0)).upscale(lr)
    assert np.abs(out - ref).max() < 1e-5
    probe = _with_descriptor(_Probe(), input_range=255.0)
    Upscaler(probe, EngineOptions(device="cpu", tile=0)).upscale(lr)
    assert probe.seen[0][2] > 200


def test_nonfinite_half_precision_tile_is_recomputed_in_fp32(benchmark_dir: Path) -> None:
    probe = _Probe(overflow=True)
    lr = _lr(benchmark_dir)
    out = Upscaler(probe, EngineOptions(device="cpu", precision="fp16", tile=0)).upscale(lr)
    assert [s[3] for s in probe.seen] == [torch.float16, torch.float32]
    assert np.isfinite(out).all()
    assert np.abs(out[::2, ::2] - lr).max() < 1e-6


def test_out_of_memory_halves_the_tile_and_retries(benchmark_dir: Path) -> None:
    probe = _Probe(oom_above=50 * 50)
    lr = _lr(benchmark_dir)  # 72 x 88
    eng = Upscaler(probe, EngineOptions(device="cpu", tile=0, tile_overlap=4))
    out = eng.upscale(lr)
    assert eng.tile == 44  # 88 -> 44: the first size whose tiles fit
    assert np.abs(out[::2, ::2] - lr).max() < 1e-6


def test_channels_last_gives_the_same_result(benchmark_dir: Path) -> None:
    torch.manual_seed(2)
    model = create_model("dan", 2, n_feats=8, n_blocks=2, distance=1)
    lr = _lr(benchmark_dir)
    a = Upscaler(model, EngineOptions(device="cpu", tile=0, channels_last=True)).upscale(lr)
    b = Upscaler(model, EngineOptions(device="cpu", tile=0, channels_last=False)).upscale(lr)
    assert np.abs(a - b).max() < 1e-5


def test_auto_tile_on_cpu_is_the_fast_size_within_the_budget() -> None:
    model = create_model("dan", 4)  # the paper configuration: ~23 KB per LR pixel
    assert 10_000 < bytes_per_pixel(model) < 60_000
    for precision in ("fp32", "bf16"):
        eng = Upscaler(model, EngineOptions(device="cpu", tile="auto", precision=precision))
        per_pixel = bytes_per_pixel(model, eng.dtype, channels_last=True)
        assert eng.tile % 8 == 0 and eng.tile >= 64
        assert per_pixel * eng.tile**2 <= CPU_FAST_TILE_BYTES  # fastest, not largest
        assert per_pixel * SAFETY * eng.tile**2 <= CPU_TILE_BUDGET
        limit = min(CPU_FAST_TILE_BYTES / per_pixel,
                    min(CPU_TILE_BUDGET, eng.memory_budget()) / (per_pixel * SAFETY))
        assert (eng.tile + 8) ** 2 > limit, precision


def test_bad_tile_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="twice"):
        Upscaler(create_model("bicubic", 2), EngineOptions(device="cpu", tile=16,
                                                           tile_overlap=8))
    with pytest.raises(ConfigError):
        Upscaler(create_model("bicubic", 2), EngineOptions(device="cpu", tile="big"))
