"""Validation during training: a fixed set of LR/HR pairs, scored the way `bench` scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from srcli.data.patches import find_images, load_rgb
from srcli.imaging.degrade import degrade
from srcli.metrics import psnr


@dataclass
class ValSet:
    name: str
    lr: list[torch.Tensor]  # [1,3,h,w] float in [0,1]
    hr: list[np.ndarray]  # uint8 HR (modcropped)


def load_val_set(spec: str, scale: int, degradation: str, limit: int) -> ValSet:
    """Validation pairs from a benchmark name or a folder of HR images (fixed DN seed)."""
    from srcli.data.benchmark import resolve_dataset  # the bench's dataset lookup

    folder = resolve_dataset(spec)
    paths = find_images([folder])[: limit or None]
    rng = np.random.default_rng(0)
    lrs, hrs = [], []
    for p in paths:
        hr = load_rgb(p)
        lr = degrade(hr, scale, degradation, rng)
        hrs.append(hr[: lr.shape[0] * scale, : lr.shape[1] * scale])
        lrs.append(torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1)[None] / 255.0)
    return ValSet(spec, lrs, hrs)


@torch.no_grad()
def validate(model: nn.Module, val: ValSet, scale: int, device: torch.device) -> float:
    """Mean Y-PSNR (crop = scale) with outputs clamped and rounded to uint8, as `bench` does."""
    model.eval()
    scores = []
    for lr, hr in zip(val.lr, val.hr, strict=True):
        sr = model(lr.to(device)).clamp_(0, 1).mul_(255).round_().byte()
        scores.append(psnr(sr[0].permute(1, 2, 0).cpu().numpy(), hr, crop=scale))
    model.train()
    return float(np.mean(scores))


def validate_live_and_ema(model: nn.Module, ema: dict[str, torch.Tensor] | None, val: ValSet,
                          scale: int, device: torch.device) -> dict[str, float]:
    """{"psnr": live weights, "psnr_ema": the EMA's (only with an EMA)}; the model keeps
    its live weights afterwards."""
    scores = {"psnr": validate(model, val, scale, device)}
    if ema is not None:
        live = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(ema)
        scores["psnr_ema"] = validate(model, val, scale, device)
        model.load_state_dict(live)
    return scores
