"""bf16 on the CPU: detection, what `--precision auto` picks and why, and that tiling, the
ensemble and the non-finite fallback keep working when the model runs in bf16."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from srcli.hardware import cpu_bf16, fast_bf16_flag, flags_from_cpuinfo
from srcli.inference.engine import EngineOptions, Upscaler, choose_precision
from srcli.models import ModelDescriptor, create_model
from srcli.weights.manifest import BF16_MAX_LOSS_DB, PACKAGE_MANIFEST, load_manifest

CPU = torch.device("cpu")
# Excerpts of real /proc/cpuinfo files: a Sapphire Rapids Xeon (this project's CI), an older
# Skylake Xeon (AVX-512 without BF16) and an ARM Neoverse N1.
SAPPHIRE = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\n"
            "flags\t\t: fpu vme sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n")
SKYLAKE = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.00GHz\n"
           "flags\t\t: fpu vme sse2 avx2 avx512f avx512dq avx512cd avx512bw avx512vl\n")
NEOVERSE = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull crc32\n"


def test_cpu_flags_are_read_from_cpuinfo_text() -> None:
    assert fast_bf16_flag(flags_from_cpuinfo(SAPPHIRE)) == "amx_bf16"
    assert fast_bf16_flag(flags_from_cpuinfo(SKYLAKE)) is None
    assert "asimd" in flags_from_cpuinfo(NEOVERSE)
    assert fast_bf16_flag(flags_from_cpuinfo(NEOVERSE)) is None
    assert flags_from_cpuinfo("") == frozenset()


def test_auto_follows_the_cpu_the_descriptor_and_the_weights() -> None:
    fast, why = cpu_bf16()
    desc = ModelDescriptor("m", "f", 2)
    dtype, reason = choose_precision("auto", CPU, desc)
    assert dtype == (torch.bfloat16 if fast else torch.float32)
    assert reason.startswith("auto: ") and why in reason
    no_bf16 = dataclasses.replace(desc, supports_bf16=False)
    assert choose_precision("auto", CPU, no_bf16)[0] == torch.float32
    refused = (False, "bf16 loses 0.031 dB on dan x4 (> 0.02 dB, manifest), fp32 kept")
    dtype, reason = choose_precision("auto", CPU, desc, refused)
    assert dtype == torch.float32
    if fast:  # the weights' verdict is what the user is told
        assert "0.031 dB" in reason
    assert choose_precision("fp32", CPU, desc, refused) == (torch.float32, "requested")
    assert choose_precision("bf16", CPU, desc, refused) == (torch.bfloat16, "requested")


def test_every_bundled_file_has_a_bf16_figure_and_a_verdict() -> None:
    for entry in load_manifest(PACKAGE_MANIFEST).entries:
        if not entry.bundled:
            continue
        loss = entry.bf16_loss_db()
        assert loss is not None, f"{entry.tag}: no quality_bf16 figures"
        assert {q.dataset for q in entry.quality_bf16} == {"Set5", "Set14", "BSD100"}
        allowed, reason = entry.bf16_verdict()
        assert allowed == (loss <= BF16_MAX_LOSS_DB), entry.tag
        assert entry.tag in reason


def test_a_file_that_loses_too_much_keeps_fp32(tmp_path: Path) -> None:
    data = PACKAGE_MANIFEST.read_text(encoding="utf-8")
    import json

    raw = json.loads(data)
    entry = next(w for w in raw["weights"] if w["bundled"] and w["scale"] == 4)
    entry["quality_bf16"] = [dict(q, psnr=q["psnr"] - 0.05) for q in entry["quality"]
                             if "ensemble" not in q["source"]]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(raw))
    e = load_manifest(path).find("dan", 4)
    assert e.bf16_loss_db() == pytest.approx(0.05)
    allowed, reason = e.bf16_verdict()
    assert not allowed and "0.050 dB" in reason and "fp32 kept" in reason
    assert e.to_json()["quality_bf16"] == entry["quality_bf16"]


def _lr(benchmark_dir: Path) -> np.ndarray:
    path = benchmark_dir / "Set14" / "LR_bicubic" / "X4" / "img_004.png"
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)[:48, :64] / 255.0


def test_bf16_with_tiles_and_ensemble_stays_close_to_fp32(benchmark_dir: Path) -> None:
    torch.manual_seed(3)
    model = create_model("dan", 2, n_feats=16, n_blocks=2, distance=1)
    lr = _lr(benchmark_dir)
    for tile, ensemble in ((0, False), (40, False), (40, True)):
        def run(precision: str, tile: int = tile, ensemble: bool = ensemble) -> Upscaler:
            return Upscaler(model, EngineOptions(device="cpu", precision=precision, tile=tile,
                                                 tile_overlap=8, ensemble=ensemble))

        ref = run("fp32").upscale(lr)
        eng = run("bf16")
        out = eng.upscale(lr)
        assert eng.precision == "bf16" and out.dtype == np.float32
        assert out.shape == ref.shape and np.isfinite(out).all()
        # bf16 keeps 8 bits of mantissa: within a few grey levels of fp32 (random weights).
        assert np.abs(out - ref).max() < 4 / 255, (tile, ensemble)


class _NanInBf16(nn.Module):
    """Nearest x2 that returns NaN when run in bf16 (the failure the fallback is for)."""

    def __init__(self) -> None:
        super().__init__()
        self.dtypes: list[torch.dtype] = []
        self.record = self.dtypes.append  # shared with the engine's deepcopy
        self.descriptor = ModelDescriptor("nan", "test", 2)

    def forward(self, x: Tensor) -> Tensor:
        self.record(x.dtype)
        y = x.repeat_interleave(2, -2).repeat_interleave(2, -1)
        return y * torch.nan if x.dtype == torch.bfloat16 else y


def test_a_nonfinite_bf16_tile_is_recomputed_in_fp32(benchmark_dir: Path) -> None:
    probe = _NanInBf16()
    lr = _lr(benchmark_dir)
    out = Upscaler(probe, EngineOptions(device="cpu", precision="bf16", tile=32,
                                        tile_overlap=4)).upscale(lr)
    assert np.isfinite(out).all() and np.abs(out[::2, ::2] - lr).max() < 1e-6
    assert probe.dtypes.count(torch.bfloat16) == probe.dtypes.count(torch.float32) > 1
