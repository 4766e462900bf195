"""Learning-rate schedules as pure functions of the iteration (easy to test and to resume)."""

from __future__ import annotations

import math

from srcli.train.config import TrainConfig


def lr_at(it: int, cfg: TrainConfig) -> float:
    """Learning rate for iteration `it` (0-based)."""
    if cfg.warmup_iters and it < cfg.warmup_iters:
        return cfg.lr * (it + 1) / cfg.warmup_iters
    if cfg.lr_schedule == "step":
        epoch = it // max(cfg.epoch_iters, 1)
        return cfg.lr * cfg.gamma ** (epoch // max(cfg.decay_epochs, 1))
    if cfg.lr_schedule == "cosine":
        span = max(cfg.iters - cfg.warmup_iters, 1)
        t = min(max(it - cfg.warmup_iters, 0) / span, 1.0)
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t))
    raise ValueError(f"unknown lr schedule {cfg.lr_schedule!r}")
