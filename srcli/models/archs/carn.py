"""CARN (Ahn et al., ECCV 2018) and CARN-BAM, laid out like super-image's `CarnModel`.

Forward (`compat/semantics.md` §3.4): sub_mean (applied, a 1x1 conv from the state dict) ->
entry conv -> three CARN blocks with global cascading (1x1 conv + ReLU units c1..c3) ->
upsampler (conv, ReLU, shuffle) -> exit conv -> add_mean. BAM follows each global cascading
unit (paper §2.1: "behind each CARN block"), making c_i a Sequential(unit, BAM).

Like super-image, the model always holds the x2, x3 and x4 upsamplers (`multi_scale`) and uses
only its own scale's; the other two are frozen so optimisers and DDP ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import MeanShift, UpsampleBlock, conv3x3
from srcli.models.registry import register_model


@dataclass(frozen=True)
class CARNConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 64
    attention: str = "none"  # "bam" for CARN-BAM
    reduction: int = 16
    multi_scale: bool = True  # keep all three upsamplers, as the hub checkpoints do


class BasicBlock(nn.Module):
    """conv + ReLU under `.body` (1x1 for the cascading units)."""

    def __init__(self, in_ch: int, out_ch: int, k: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_ch, out_ch, k, padding=k // 2),
                                  nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class ResidualBlock(nn.Module):
    """ReLU(conv(ReLU(conv(x))) + x)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv3x3(c, c), nn.ReLU(inplace=True), conv3x3(c, c))

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + x)


class Cascade(nn.Module):
    """Three units with cascading 1x1 fusion: o_i = c_i([o_0, u_1(o_0), ..., u_i(o_{i-1})]).

    Used twice: inside a CARN block (units = residual blocks) and globally (units = blocks).
    """

    def unit(self, i: int) -> nn.Module:
        """u_i; CARN-M's blocks override this to apply one shared unit three times."""
        return getattr(self, f"b{i}")

    def forward(self, x: Tensor) -> Tensor:
        cat = o = x
        for i in (1, 2, 3):
            cat = torch.cat([cat, self.unit(i)(o)], dim=1)
            o = getattr(self, f"c{i}")(cat)
        return o


class Block(Cascade):
    def __init__(self, c: int) -> None:
        super().__init__()
        for i in (1, 2, 3):
            setattr(self, f"b{i}", ResidualBlock(c))
        for i in (1, 2, 3):
            setattr(self, f"c{i}", BasicBlock(c * (i + 1), c))


class CARN(Cascade):
    def __init__(self, cfg: CARNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.n_feats
        self.sub_mean = MeanShift(1.0, sign=-1)
        self.add_mean = MeanShift(1.0, sign=1)
        self.entry = nn.Conv2d(cfg.n_colors, c, 3, padding=1)
        for i in (1, 2, 3):
            setattr(self, f"b{i}", self.make_block(c))
        for i in (1, 2, 3):
            unit = BasicBlock(c * (i + 1), c)
            att = make_attention(cfg.attention, c, cfg.reduction)
            setattr(self, f"c{i}", unit if att is None else nn.Sequential(unit, att))
        scales = (2, 3, 4) if cfg.multi_scale else (cfg.scale,)
        self.upsample = nn.ModuleDict({f"up{s}": self.make_upsampler(s, c) for s in scales})
        for name, up in self.upsample.items():
            if name != f"up{cfg.scale}":
                up.requires_grad_(False)  # held for the multi-scale layout, never used
        self.exit = nn.Conv2d(c, cfg.n_colors, 3, padding=1)

    def make_block(self, c: int) -> nn.Module:
        """One global cascading unit; CARN-M overrides this (and the upsampler) only."""
        return Block(c)

    def make_upsampler(self, scale: int, c: int) -> nn.Module:
        return UpsampleBlock(scale, c)

    def descriptor_hints(self) -> dict[str, object]:
        att = self.cfg.attention
        # entry, 3 blocks x 3 residual blocks (CARN-M: 3 recursions) x two 3x3 convs, BAM's
        # 7x7, upsampler and exit
        return {
            "input_range": 1.0,
            "global_pooling": att in GLOBAL_POOLING,
            "receptive_radius": 1 + 18 + (9 if att in SPATIAL_7X7 else 0) + 2,
        }

    def forward(self, x: Tensor) -> Tensor:
        h = self.entry(self.sub_mean(x))
        o = super().forward(h)
        return self.add_mean(self.exit(self.upsample[f"up{self.cfg.scale}"](o)))


_PAPER = "Fast, Accurate, and Lightweight SR with Cascading Residual Network (CARN), ECCV 2018"
register_model("carn", CARN, CARNConfig, family="carn", paper=_PAPER,
               description="CARN as on the hub (64 feats, 3 cascading blocks)")
register_model("carn-bam", CARN, CARNConfig, family="carn", paper=_PAPER, attention="bam",
               description="CARN with BAM after each global cascading unit (eugenesiow/carn-bam)")
