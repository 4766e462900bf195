"""MSRN (Li et al., ECCV 2018) and MSRN-BAM, laid out like super-image's `MsrnModel`.

Forward conventions follow `compat/semantics.md` §3.1: the mean shifts exist (so hub
checkpoints load) but are NOT applied; the block outputs are concatenated with the head output
LAST; BAM sits on the 1x1 `confusion` output of every MSRB, before the block's residual add.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import MeanShift, Upsampler
from srcli.models.registry import register_model


@dataclass(frozen=True)
class MSRNConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 64
    n_blocks: int = 8
    attention: str = "none"  # any make_attention name; "bam" for MSRN-BAM
    reduction: int = 16
    rgb_range: float = 255.0  # only initialises the (unused) mean-shift tensors


def _conv(in_ch: int, out_ch: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, k, padding=k // 2)


class MSRB(nn.Module):
    """Multi-scale residual block: parallel 3x3/5x5 paths, twice, fused by a 1x1 conv."""

    def __init__(self, c: int, attention: str, reduction: int) -> None:
        super().__init__()
        # Creation order fixes the state_dict order of the hub checkpoints.
        self.conv_3_1 = _conv(c, c, 3)
        self.conv_3_2 = _conv(2 * c, 2 * c, 3)
        self.conv_5_1 = _conv(c, c, 5)
        self.conv_5_2 = _conv(2 * c, 2 * c, 5)
        self.confusion = nn.Conv2d(4 * c, c, 1)
        self.attention = make_attention(attention, c, reduction)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        u = torch.cat([self.relu(self.conv_3_1(x)), self.relu(self.conv_5_1(x))], dim=1)
        v = torch.cat([self.relu(self.conv_3_2(u)), self.relu(self.conv_5_2(u))], dim=1)
        y = self.confusion(v)
        if self.attention is not None:
            y = self.attention(y)
        return y + x


class MSRN(nn.Module):
    def __init__(self, cfg: MSRNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        f = cfg.n_feats
        self.sub_mean = MeanShift(cfg.rgb_range, sign=-1)
        self.add_mean = MeanShift(cfg.rgb_range, sign=1)
        self.head = nn.Sequential(_conv(cfg.n_colors, f, 3))
        self.body = nn.ModuleList(
            MSRB(f, cfg.attention, cfg.reduction) for _ in range(cfg.n_blocks)
        )
        self.tail = nn.Sequential(
            nn.Conv2d(f * (cfg.n_blocks + 1), f, 1),
            _conv(f, f, 3),
            Upsampler(cfg.scale, f),
            _conv(f, cfg.n_colors, 3),
        )

    def descriptor_hints(self) -> dict[str, object]:
        cfg = self.cfg
        per_block = 4 + (3 if cfg.attention in SPATIAL_7X7 else 0)
        return {
            "input_range": 1.0,
            "global_pooling": cfg.attention in GLOBAL_POOLING,
            "receptive_radius": 1 + cfg.n_blocks * per_block + 3,
        }

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)
        outs = []
        y = h
        for block in self.body:
            y = block(y)
            outs.append(y)
        outs.append(h)  # head features last (super-image order)
        return self.tail(torch.cat(outs, dim=1))


_PAPER = "Multi-scale Residual Network for Image Super-Resolution (MSRN), ECCV 2018"
register_model("msrn", MSRN, MSRNConfig, family="msrn", paper=_PAPER,
               description="MSRN, hub config (64 feats, 8 MSRBs)")
register_model("msrn-bam", MSRN, MSRNConfig, family="msrn", paper=_PAPER, attention="bam",
               description="MSRN with BAM at the end of every MSRB (eugenesiow/msrn-bam)")
