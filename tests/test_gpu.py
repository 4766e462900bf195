"""GPU paths (CUDA or MPS): skipped on machines without one (see conftest's `gpu` marker)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srcli.inference.engine import EngineOptions, Upscaler
from srcli.metrics import psnr
from srcli.models.pretrained import load_pretrained

pytestmark = pytest.mark.gpu


def _lr(benchmark_dir: Path) -> np.ndarray:
    img = Image.open(benchmark_dir / "Set5" / "LR_bicubic" / "X4" / "img_002.png")
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _run(lr: np.ndarray, **options: object) -> np.ndarray:
    up = Upscaler(load_pretrained("dan", 4), EngineOptions(**options))  # type: ignore[arg-type]
    return (np.clip(up.upscale(lr), 0, 1) * 255).round().astype(np.uint8)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_bundled_dan_on_the_gpu_matches_the_cpu(benchmark_dir: Path, precision: str) -> None:
    if precision == "bf16" and not torch.cuda.is_available():
        pytest.skip("bf16 is checked on CUDA only")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    lr = _lr(benchmark_dir)
    cpu = _run(lr, device="cpu", precision="fp32", tile=0)
    gpu = _run(lr, device="auto", precision=precision, tile=0)
    assert gpu.shape == cpu.shape
    # fp32 agrees to rounding; half precision within a few grey levels.
    assert psnr(gpu, cpu, crop=4) > (60 if precision == "fp32" else 40)


def test_tiled_gpu_output_matches_whole_image(benchmark_dir: Path) -> None:
    lr = _lr(benchmark_dir)
    whole = _run(lr, device="auto", tile=0)
    tiled = _run(lr, device="auto", tile=48)
    assert psnr(tiled, whole, crop=4) > 45
