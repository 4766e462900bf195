"""s-LWSR (Li et al., "s-LWSR: Super Lightweight Super-Resolution Network", IEEE TIP 2020),
the 32-channel s-LWSR32 host of the BAM paper, with and without BAM.

s-LWSR borrows U-Net's symmetric encoder-decoder at one resolution:

- encoder: five stages of residual blocks (3, 3, 3, 3, 2 blocks); each stage after the first
  starts from the sum of the previous stage's first and last outputs;
- information pool: a 1x1 conv (no bias) over the head output, the first outputs of stages
  2-5 and the last output of stage 5, concatenated (6C -> C);
- decoder: four stages mirroring encoder stages 4, 3, 2, 1; each concatenates the previous
  output with ½·(mirrored encoder stage's last output) + ½·pool, fuses them by a 1x1 conv
  inside a residual block, then runs two residual blocks;
- a global skip from the head, and EDSR's sub-pixel tail. BAM goes before the up-sampling
  (BAM paper §2.1), on the decoder output before the global skip, as in the authors' code.

The BAM paper's host has this layout (its authors' s_LWSR/s_LWSR.py, 32 channels);
`scripts/model_table.py` measures ×2/×3/×4 = 534,139 / 580,379 / 571,131 parameters (Table 2:
534.1 / 580.4 / 571.1 K) and BAM (32 channels, r = 16) adds 179 (534.3 / 580.6 / 571.3 K).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import MeanShift, Upsampler, conv3x3
from srcli.models.registry import register_model

ENCODER_BLOCKS = (3, 3, 3, 3, 2)
DECODER_STAGES = 4


@dataclass(frozen=True)
class SLWSRConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 32  # s-LWSR32
    attention: str = "none"  # "bam" for s-LWSR32-BAM (one block before the tail)
    reduction: int = 16


class ResBlock(nn.Module):
    """x + conv(ReLU(conv(x))); with `fuse`, x is first a 1x1 conv of a 2C concatenation."""

    def __init__(self, c: int, fuse: bool = False) -> None:
        super().__init__()
        self.fuse = nn.Conv2d(2 * c, c, 1) if fuse else None
        self.body = nn.Sequential(conv3x3(c, c), nn.ReLU(inplace=True), conv3x3(c, c))

    def forward(self, x: Tensor) -> Tensor:
        if self.fuse is not None:
            x = self.fuse(x)
        return x + self.body(x)


class SLWSR(nn.Module):
    def __init__(self, cfg: SLWSRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.n_feats
        self.sub_mean = MeanShift(1.0, sign=-1)
        self.add_mean = MeanShift(1.0, sign=1)
        self.head = nn.Sequential(conv3x3(cfg.n_colors, c))
        self.encoder = nn.ModuleList(
            nn.Sequential(*(ResBlock(c) for _ in range(n))) for n in ENCODER_BLOCKS)
        self.pool = nn.Conv2d(6 * c, c, 1, bias=False)
        self.decoder = nn.ModuleList(
            nn.Sequential(ResBlock(c, fuse=True), ResBlock(c), ResBlock(c))
            for _ in range(DECODER_STAGES))
        self.attention = make_attention(cfg.attention, c, cfg.reduction)
        self.tail = nn.Sequential(Upsampler(cfg.scale, c), conv3x3(c, cfg.n_colors))

    def descriptor_hints(self) -> dict[str, object]:
        att = self.cfg.attention
        convs = 2 * sum(ENCODER_BLOCKS) + 2 * 3 * DECODER_STAGES  # 3x3 convs on the path
        return {
            "input_range": 1.0,
            "global_pooling": att in GLOBAL_POOLING,
            "receptive_radius": 1 + convs + (3 if att in SPATIAL_7X7 else 0) + 2,
        }

    def _encode(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """(first, last) block outputs of every encoder stage."""
        firsts: list[Tensor] = []
        lasts: list[Tensor] = []
        for k, stage in enumerate(self.encoder):
            y = x if k == 0 else firsts[-1] + lasts[-1]
            outs = []
            for block in stage:
                y = block(y)
                outs.append(y)
            firsts.append(outs[0])
            lasts.append(outs[-1])
        return firsts, lasts

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.head(self.sub_mean(x))
        firsts, lasts = self._encode(x1)
        pool = self.pool(torch.cat([x1, *firsts[1:], lasts[-1]], dim=1))
        y = lasts[-1]
        # decoder stage j mirrors encoder stage 3 - j (the last one has no mirror)
        for j, stage in enumerate(self.decoder):
            skip = 0.5 * lasts[DECODER_STAGES - 1 - j] + 0.5 * pool
            y = stage(torch.cat([y, skip], dim=1))
        if self.attention is not None:
            y = self.attention(y)
        return self.add_mean(self.tail(y + x1))


_PAPER = "s-LWSR: Super Lightweight Super-Resolution Network (IEEE TIP 2020)"
register_model("s-lwsr32", SLWSR, SLWSRConfig, family="s-lwsr", paper=_PAPER,
               description="s-LWSR32: U-Net-like encoder-decoder with an information pool")
register_model("s-lwsr32-bam", SLWSR, SLWSRConfig, family="s-lwsr", paper=_PAPER,
               attention="bam", description="s-LWSR32 with BAM before the up-sampling")
