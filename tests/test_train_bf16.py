"""bf16 autocast training on the CPU (`srcli train --amp bf16`) and the NHWC sub-pixel shuffle
it relies on for speed: same numbers as fp32 up to bf16 rounding, fp32 master weights."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TRAIN_DATA
from torch import nn

from srcli.models import create_model
from srcli.models.layers.blocks import Upsampler
from srcli.train.checkpoint import load_checkpoint
from srcli.train.config import TrainConfig
from srcli.train.loop import _amp_context
from srcli.train.losses import LOSS_FUNCTIONS

RECIPE = {"n_feats": 16, "n_blocks": 2, "distance": 1, "reduction": 4,
          "image_skip": "bicubic"}


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("act", [False, True])
def test_channels_last_upsampler_equals_the_plain_shuffle(scale: int, act: bool) -> None:
    """The reordered NHWC shuffle computes exactly the checkpoint layout's F.pixel_shuffle, and
    its gradients agree to float rounding (only the summation order differs)."""
    torch.manual_seed(scale)
    up = Upsampler(scale, 8, act=act)
    x = torch.randn(2, 8, 7, 5)
    ref_in = x.clone().requires_grad_()
    ref = nn.Sequential.forward(up, ref_in)
    ref.square().sum().backward()
    ref_grads = [p.grad.clone() for p in up.parameters()]
    up.zero_grad()
    cl_in = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    out = up(cl_in)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, ref)
    out.square().sum().backward()
    torch.testing.assert_close(cl_in.grad, ref_in.grad, rtol=1e-5, atol=1e-5)
    for got, want in zip((p.grad for p in up.parameters()), ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_bf16_step_gives_fp32_loss_and_gradients_close_to_fp32() -> None:
    """Autocast runs the convs in bf16; the loss is fp32 and the gradients of the fp32 master
    weights point the same way as an fp32 step's (cosine > 0.99 on every large tensor)."""
    torch.manual_seed(0)
    model = create_model("dan", 2, **RECIPE).to(memory_format=torch.channels_last)
    with torch.no_grad():  # DAN's tail starts at zero (output = bicubic): move off it
        for p in model.parameters():
            p.add_(torch.randn_like(p), alpha=0.02)
    twin = copy.deepcopy(model)
    lr = torch.rand(4, 3, 24, 24).contiguous(memory_format=torch.channels_last)
    hr = torch.rand(4, 3, 48, 48)
    autocast, scaler = _amp_context(TrainConfig(amp="bf16", device="cpu"), torch.device("cpu"))
    assert scaler is None  # bf16 has fp32's exponent range: no loss scaling
    seen: list[torch.dtype] = []
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    first_conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with autocast():
        sr = model(lr)
    assert seen == [torch.bfloat16]
    loss = LOSS_FUNCTIONS["l1y"](sr.float(), hr)
    assert loss.dtype == torch.float32
    loss.backward()
    LOSS_FUNCTIONS["l1y"](twin(lr), hr).backward()
    for (name, p), q in zip(model.named_parameters(), twin.parameters(), strict=True):
        assert p.dtype == torch.float32
        if p.numel() >= 256:
            cos = torch.nn.functional.cosine_similarity(p.grad.flatten(), q.grad.flatten(), 0)
            assert cos > 0.99, (name, float(cos))


@pytest.fixture(scope="module")
def train_images() -> Path:
    return TRAIN_DATA  # four real T91 images in tests/data


def _train(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "srcli", "train", "--model", "dan", "--scale", "2",
           *[a for k, v in RECIPE.items() for a in ("--set", f"{k}={v}")],
           "--data", str(data), "--patch", "16", "--batch", "4", "--iters", "6",
           "--val", "", "--log-every", "1", "--threads", "1", "--channels-last",
           "--out", str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_train_amp_bf16_runs_on_cpu_and_keeps_fp32_master_weights(
        train_images: Path, tmp_path: Path) -> None:
    res = _train(train_images, tmp_path / "run", "--amp", "bf16", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(tmp_path / "run" / "ckpt_00000006.pt")
    assert ck["config"]["amp"] == "bf16"
    assert all(t.dtype == torch.float32 for t in ck["model"].values()
               if t.dtype.is_floating_point)
    assert all(torch.isfinite(t).all() for t in ck["model"].values())


def test_train_amp_fp16_on_cpu_is_a_one_line_error(train_images: Path, tmp_path: Path) -> None:
    res = _train(train_images, tmp_path / "run", "--amp", "fp16", "--device", "cpu")
    assert res.returncode != 0
    assert res.stderr.strip().splitlines() == [
        "error: --amp fp16 needs a CUDA device; on a CPU use --amp bf16"]
