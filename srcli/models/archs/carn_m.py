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

from srcli.models.archs.carn import CARN, BasicBlock, Cascade
from srcli.models.layers.blocks import UpsampleBlock
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


class CARNM(CARN):
    """CARN with recursive grouped blocks and grouped upsamplers; the rest is CARN's."""

    cfg: CARNMConfig

    def __init__(self, cfg: CARNMConfig) -> None:
        if cfg.n_feats % cfg.groups:
            raise ValueError(f"n_feats {cfg.n_feats} is not divisible by groups {cfg.groups}")
        super().__init__(cfg)  # type: ignore[arg-type]  # CARNMConfig = CARNConfig + groups

    def make_block(self, c: int) -> nn.Module:
        return RecursiveBlock(c, self.cfg.groups)

    def make_upsampler(self, scale: int, c: int) -> nn.Module:
        return UpsampleBlock(scale, c, groups=self.cfg.groups)


_PAPER = "Fast, Accurate, and Lightweight SR with Cascading Residual Network (CARN-M), ECCV 2018"
register_model("carn-m", CARNM, CARNMConfig, family="carn-m", paper=_PAPER,
               description="CARN-M: recursive efficient residual blocks, group conv (g=4)")
register_model("carn-m-bam", CARNM, CARNMConfig, family="carn-m", paper=_PAPER,
               attention="bam",
               description="CARN-M with BAM after each global cascading unit")
