"""OISR-LF (He et al., "ODE-inspired Network Design for Single Image Super-Resolution",
CVPR 2019) with leapfrog blocks, OISR-LF-s (64 channels) and OISR-LF (122), with and without BAM.

OISR is EDSR's layout (mean shift, head conv, body of blocks + conv, global skip, sub-pixel
tail) whose residual block is replaced by a numerical ODE step. The LF-block is two leapfrog
steps y_{n+1} = y_{n-1} + 2h·G(y_n) with G = conv3x3 ∘ PReLU and a learned step 2h per stage
(initialised to 2): four convs, four PReLUs, four scalars. As in OISR's reference code, the
first stage has no y_{n-1} term (y1 = s1·G1(y0)). BAM sits once after the body, before the
global skip: that is where the BAM authors' code puts it and what Table 2's "+0.6K" (one BAM of
64 channels, 565 parameters) and "+1.8K" (one of 122 channels, 1,764) count; the paper's text
"at the end of each LF-block" would add 565 per block instead.

Depth. OISR's own LF-s has 8 LF-blocks (1.52 M parameters at ×4). The BAM paper's Table 2
counts are those of 24 block convs (6 LF-blocks) at ×2 and ×3 for OISR-LF-s, 48 (12 LF-blocks)
at ×4, and 24 for OISR-LF at every scale; their GFLOPs agree (×4 OISR-LF-s has twice the body
cost of ×2). So `n_blocks=None` takes `paper_blocks[scale]`; pass `n_blocks=8` for OISR's own
LF models. The BAM authors' code builds the same conv/PReLU count from eight 3-conv blocks (16
at ×4), and Table 2 leaves out the learned step scalars (4 per block here), so the counts
differ by at most 48 parameters (measured with `scripts/model_table.py`): ×2/×3/×4 =
1,076,019 / 1,260,659 / 2,111,563 (Table 2: 1076.0 / 1260.6 / 2111.5 K) and 3,897,951 /
4,568,341 / 4,434,263 (3897.9 / 4568.3 / 4434.2 K); with BAM 1076.6 / 1261.2 / 2112.1 K and
3899.7 / 4570.1 / 4436.0 K, the table's -BAM rows exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import MeanShift, Upsampler, conv3x3
from srcli.models.registry import register_model


@dataclass(frozen=True)
class OISRConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 64
    n_blocks: int | None = None  # None: paper_blocks for the scale
    paper_blocks: tuple[int, ...] = (6, 6, 6)  # x2, x3, x4 depths giving BAM Table 2's counts
    attention: str = "none"  # "bam" for the -BAM hosts (one block after the body)
    reduction: int = 16

    def blocks(self) -> int:
        if self.n_blocks is not None:
            return self.n_blocks
        return self.paper_blocks[min(self.scale, 4) - 2]


class LeapfrogBlock(nn.Module):
    """Two leapfrog steps: y1 = s1·G1(y0), y2 = y0 + s2·G2(y1), y3 = y1 + s3·G3(y2),
    out = y2 + s4·G4(y3), where G_i = conv_i ∘ PReLU_i (pre-activation)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        for i in (1, 2, 3, 4):
            setattr(self, f"conv{i}", conv3x3(c, c))
        for i in (1, 2, 3, 4):
            setattr(self, f"relu{i}", nn.PReLU(c, 0.25))
        for i in (1, 2, 3, 4):
            setattr(self, f"scale{i}", nn.Parameter(torch.tensor([2.0])))

    def _step(self, i: int, y: Tensor) -> Tensor:
        g = getattr(self, f"conv{i}")(getattr(self, f"relu{i}")(y))
        return g * getattr(self, f"scale{i}")

    def forward(self, x: Tensor) -> Tensor:
        y1 = self._step(1, x)
        y2 = x + self._step(2, y1)
        y3 = y1 + self._step(3, y2)
        return y2 + self._step(4, y3)


class OISR(nn.Module):
    def __init__(self, cfg: OISRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.n_feats
        self.sub_mean = MeanShift(1.0, sign=-1)
        self.add_mean = MeanShift(1.0, sign=1)
        self.head = nn.Sequential(conv3x3(cfg.n_colors, c))
        self.body = nn.Sequential(*(LeapfrogBlock(c) for _ in range(cfg.blocks())),
                                  conv3x3(c, c))
        self.attention = make_attention(cfg.attention, c, cfg.reduction)
        self.tail = nn.Sequential(Upsampler(cfg.scale, c), conv3x3(c, cfg.n_colors))

    def descriptor_hints(self) -> dict[str, object]:
        att = self.cfg.attention
        # head, four 3x3 convs per block, body conv, BAM's 7x7, upsampler and exit conv
        return {
            "input_range": 1.0,
            "global_pooling": att in GLOBAL_POOLING,
            "receptive_radius": 1 + 4 * self.cfg.blocks() + 1
            + (3 if att in SPATIAL_7X7 else 0) + 2,
        }

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(self.sub_mean(x))
        res = self.body(h)
        if self.attention is not None:
            res = self.attention(res)
        return self.add_mean(self.tail(res + h))


_PAPER = "ODE-inspired Network Design for Single Image Super-Resolution (OISR), CVPR 2019"
_S = {"n_feats": 64, "paper_blocks": (6, 6, 12)}
_M = {"n_feats": 122, "paper_blocks": (6, 6, 6)}
register_model("oisr-lf-s", OISR, OISRConfig, family="oisr", paper=_PAPER, **_S,
               description="OISR-LF-s: leapfrog blocks, 64 feats, BAM Table 2 depth")
register_model("oisr-lf-s-bam", OISR, OISRConfig, family="oisr", paper=_PAPER, **_S,
               attention="bam", description="OISR-LF-s with BAM after the body")
register_model("oisr-lf", OISR, OISRConfig, family="oisr", paper=_PAPER, **_M,
               description="OISR-LF: leapfrog blocks, 122 feats, BAM Table 2 depth")
register_model("oisr-lf-bam", OISR, OISRConfig, family="oisr", paper=_PAPER, **_M,
               attention="bam", description="OISR-LF with BAM after the body")
