"""CARN-M (Ahn et al., ECCV 2018 §3.3), the mobile CARN, and CARN-M-BAM.

CARN-M keeps CARN's local and global cascading (`carn.Cascade`) and changes the block: each
CARN block applies ONE efficient residual block three times (recursive sharing), and that
block is grouped conv 3x3 -> ReLU -> grouped conv 3x3 -> ReLU -> pointwise 1x1, added to its
input and ReLU'd. The upsamplers are grouped too. BAM follows each global cascading unit, as
in CARN-BAM (BAM paper §2.1, Fig. 1).

Parameter counts (multi-scale model, every scale alike, like CARN's):
- `groups=4` (Ahn et al.'s CARN-M, the default): 414,811; CARN-M-BAM 416,506.
- `groups=1`: 1,161,307 = BAM paper Table 2's "1161.3K" exactly (CARN-M-BAM 1,163,002, the
  table's 1163.0K). The BAM paper's CARN-M row is this ungrouped variant: the authors' code
  fixes `group = 1` in its CARN-M (their repository's CARN/carn_m.py), so Table 2 cannot be
  matched by a grouped CARN-M. `create_model("carn-m", s, groups=1)` reproduces their host.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srcli.models.archs.carn import BasicBlock, Cascade
from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import MeanShift, UpsampleBlock
from srcli.models.registry import register_model


@dataclass(frozen=True)
class CARNMConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 64
    groups: int = 4  # 1 = the BAM paper's Table 2 host (see the module docstring)
    attention: str = "none"  # "bam" for CARN-M-BAM
    reduction: int = 16
    multi_scale: bool = True  # keep the x2, x3 and x4 upsamplers, as CARN does


class EResidualBlock(nn.Module):
    """ReLU(x + pw(ReLU(gconv(ReLU(gconv(x)))))): CARN-M's efficient residual block."""

    def __init__(self, c: int, groups: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, groups=groups), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, padding=1, groups=groups), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + x)


class RecursiveBlock(Cascade):
    """A CARN block whose three units are one shared efficient residual block (`b1`)."""

    def __init__(self, c: int, groups: int) -> None:
        super().__init__()
        self.b1 = EResidualBlock(c, groups)
        for i in (1, 2, 3):
            setattr(self, f"c{i}", BasicBlock(c * (i + 1), c))

    def unit(self, i: int) -> nn.Module:
        return self.b1  # recursion: the same weights at every step


class CARNM(Cascade):
    def __init__(self, cfg: CARNMConfig) -> None:
        super().__init__()
        if cfg.n_feats % cfg.groups:
            raise ValueError(f"n_feats {cfg.n_feats} is not divisible by groups {cfg.groups}")
        self.cfg = cfg
        c = cfg.n_feats
        self.sub_mean = MeanShift(1.0, sign=-1)
        self.add_mean = MeanShift(1.0, sign=1)
        self.entry = nn.Conv2d(cfg.n_colors, c, 3, padding=1)
        for i in (1, 2, 3):
            setattr(self, f"b{i}", RecursiveBlock(c, cfg.groups))
        for i in (1, 2, 3):
            unit = BasicBlock(c * (i + 1), c)
            att = make_attention(cfg.attention, c, cfg.reduction)
            setattr(self, f"c{i}", unit if att is None else nn.Sequential(unit, att))
        scales = (2, 3, 4) if cfg.multi_scale else (cfg.scale,)
        self.upsample = nn.ModuleDict(
            {f"up{s}": UpsampleBlock(s, c, groups=cfg.groups) for s in scales})
        for name, up in self.upsample.items():
            if name != f"up{cfg.scale}":
                up.requires_grad_(False)  # held for the multi-scale layout, never used
        self.exit = nn.Conv2d(c, cfg.n_colors, 3, padding=1)

    def descriptor_hints(self) -> dict[str, object]:
        att = self.cfg.attention
        # entry, 3 blocks x 3 recursions x two 3x3 convs, BAM's 7x7, upsampler and exit
        return {
            "input_range": 1.0,
            "global_pooling": att in GLOBAL_POOLING,
            "receptive_radius": 1 + 18 + (9 if att in SPATIAL_7X7 else 0) + 2,
        }

    def forward(self, x: Tensor) -> Tensor:
        h = self.entry(self.sub_mean(x))
        o = super().forward(h)
        return self.add_mean(self.exit(self.upsample[f"up{self.cfg.scale}"](o)))


_PAPER = "Fast, Accurate, and Lightweight SR with Cascading Residual Network (CARN-M), ECCV 2018"
register_model("carn-m", CARNM, CARNMConfig, family="carn-m", paper=_PAPER,
               description="CARN-M: recursive efficient residual blocks, group conv (g=4)")
register_model("carn-m-bam", CARNM, CARNMConfig, family="carn-m", paper=_PAPER,
               attention="bam",
               description="CARN-M with BAM after each global cascading unit")
