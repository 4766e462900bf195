"""Everything a training run needs, in one dataclass (stored whole in every checkpoint)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainConfig:
    model: str = "dan"
    scale: int = 2
    #: Overrides of the model's config fields, e.g. {"n_feats": 32, "n_blocks": 8}.
    model_config: dict[str, Any] = field(default_factory=dict)
    data: list[str] = field(default_factory=list)
    degradation: str = "bi"
    patch: int = 48  # LR patch side (DAN paper: 48; BAM hosts: 64)
    #: HR downscale factors added as extra training images (VDSR: 0.9 0.8 0.7 0.6); empty = off.
    scale_aug: list[float] = field(default_factory=list)
    batch: int = 16
    iters: int = 300_000
    # Paper schedule: lr 1e-4 halved every 200 epochs; an epoch is `epoch_iters` iterations
    # so that a CPU run can compress the schedule.
    lr: float = 1e-4
    lr_schedule: str = "step"  # step | cosine
    epoch_iters: int = 1000
    decay_epochs: int = 200
    gamma: float = 0.5
    warmup_iters: int = 0
    min_lr: float = 1e-6  # cosine floor
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    ema: float = 0.0  # EMA decay of the weights; 0 disables
    grad_clip: float = 0.0
    #: l1 (the papers) | l2 (mean squared error: what PSNR measures) | l1y (luma-weighted L1)
    loss: str = "l1"
    val: str = "set5"
    val_every: int = 1000
    val_limit: int = 0  # 0 = every image of the validation set
    ckpt_every: int = 500
    keep_ckpts: int = 3
    log_every: int = 50
    out: str = "runs/dan"
    seed: int = 0
    threads: int = 0  # 0 = leave torch's default
    device: str = "auto"
    amp: str = "none"  # none | bf16 | fp16 (CUDA only)
    channels_last: bool = False
    init_from: str = ""
    init_grow: bool = False  # embed a narrower model's weights (see surgery.grown)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        cfg = cls(**{k: v for k, v in d.items() if k in names})
        cfg.adam_betas = tuple(cfg.adam_betas)  # JSON turns tuples into lists
        return cfg
