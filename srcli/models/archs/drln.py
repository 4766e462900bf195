"""DRLN (Anwar & Barnes, TPAMI 2020) and DRLN-BAM, laid out like super-image's `DrlnModel`.

Twenty densely connected residual blocks (b1..b20) end with an attention: DRLN's Laplacian
(multi-dilation) channel attention, or BAM in DRLN-BAM (paper: "LA replaced with BAM").
Six cascades of 3 (the last two of 4) blocks are joined by 3x3 conv + ReLU units c1..c20 and
skip connections (`compat/semantics.md` §3.6); a group's concatenation starts from the previous
group's last cascade output, its first block reads the previous group's output plus skip.
Reproduced quirk: the fourth block's cascade unit c4 is computed in super-image but its
output is never used (b5 reads a1, not o4); c4 stays in the state dict for checkpoint
compatibility and is frozen here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import MeanShift, UpsampleBlock
from srcli.models.registry import register_model

#: Blocks per cascade: a_k = o_last + a_{k-1} closes each group (semantics.md §3.6).
GROUPS = (3, 3, 3, 3, 4, 4)


@dataclass(frozen=True)
class DRLNConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 64
    attention: str = "la"  # "la" (Laplacian attention, DRLN) or a make_attention name ("bam")
    reduction: int = 16


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, k: int = 3, dilation: int = 1,
                 act: nn.Module | None = None) -> None:
        super().__init__()
        pad = (k // 2) * dilation
        self.body = nn.Sequential(nn.Conv2d(in_ch, out_ch, k, padding=pad, dilation=dilation),
                                  act if act is not None else nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class LaplacianAttention(nn.Module):
    """DRLN's CALayer: pooled features through 3x3 convs dilated 3/5/7 (+ReLU), concatenated,
    a 3x3 conv + sigmoid, then channel re-weighting. On the 1x1 pooled map only the centre
    taps act, but the full kernels are kept for checkpoint compatibility."""

    def __init__(self, c: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = c // reduction
        self.c1 = BasicBlock(c, hidden, 3, dilation=3)
        self.c2 = BasicBlock(c, hidden, 3, dilation=5)
        self.c3 = BasicBlock(c, hidden, 3, dilation=7)
        self.c4 = BasicBlock(hidden * 3, c, 3, act=nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        y = x.mean(dim=(2, 3), keepdim=True)
        return x * self.c4(torch.cat([self.c1(y), self.c2(y), self.c3(y)], dim=1))


class ResidualBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + x)


class Block(nn.Module):
    """Dense residual block: r1, r2, r3 on growing concatenations, 1x1 fusion, attention."""

    def __init__(self, c: int, attention: str, reduction: int) -> None:
        super().__init__()
        self.r1 = ResidualBlock(c)
        self.r2 = ResidualBlock(2 * c)
        self.r3 = ResidualBlock(4 * c)
        self.g = BasicBlock(8 * c, c, 1)
        if attention == "la":
            self.ca: nn.Module | None = LaplacianAttention(c, reduction)
        else:
            self.ca = make_attention(attention, c, reduction)

    def forward(self, x: Tensor) -> Tensor:
        c = x
        for r in (self.r1, self.r2, self.r3):
            c = torch.cat([c, r(c)], dim=1)
        g = self.g(c)
        return g if self.ca is None else self.ca(g)


def _cascade_inputs() -> list[int]:
    """Input width (in multiples of C) of c1..c20: 2,3,4 per group of 3; 2,3,4,5 per 4."""
    return [k + 2 for n in GROUPS for k in range(n)]


class DRLN(nn.Module):
    def __init__(self, cfg: DRLNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.n_feats
        self.sub_mean = _Shifter(-1)
        self.add_mean = _Shifter(1)
        self.head = nn.Conv2d(cfg.n_colors, c, 3, padding=1)
        n_blocks = sum(GROUPS)
        for i in range(1, n_blocks + 1):
            setattr(self, f"b{i}", Block(c, cfg.attention, cfg.reduction))
        for i, width in enumerate(_cascade_inputs(), start=1):
            setattr(self, f"c{i}", BasicBlock(width * c, c, 3))
        self.c4.requires_grad_(False)  # computed but unused by super-image; see docstring
        self.upsample = _Up(cfg.scale, c)
        self.tail = nn.Conv2d(c, cfg.n_colors, 3, padding=1)

    def descriptor_hints(self) -> dict[str, object]:
        att = self.cfg.attention
        # per block: r1..r3 (two 3x3 each) + the 3x3 cascade unit
        per_block = 7 + (3 if att in SPATIAL_7X7 else 0)
        return {
            "input_range": 1.0,
            "global_pooling": att == "la" or att in GLOBAL_POOLING,
            "receptive_radius": 1 + sum(GROUPS) * per_block + 2,
        }

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(self.sub_mean(x))
        a = o = h  # a: output of the last group (with its skip); o: last cascade unit output
        n = 0
        for size in GROUPS:
            cat = o  # each group's concatenation starts from the previous group's last o
            for k in range(size):
                n += 1
                # A group's first block reads a. b5 reads a1 too instead of o4: super-image
                # never uses c4's output, so c4 is not evaluated here.
                b = getattr(self, f"b{n}")(a if k == 0 or n == 5 else o)
                cat = torch.cat([cat, b], dim=1)
                if n != 4:
                    o = getattr(self, f"c{n}")(cat)
            a = o + a
        return self.add_mean(self.tail(self.upsample(a + h)))


class _Shifter(nn.Module):
    """DRLN's MeanShift wrapper (`sub_mean.shifter.*`): x ∓ DIV2K mean, range 1."""

    def __init__(self, sign: int) -> None:
        super().__init__()
        self.shifter = MeanShift(1.0, sign=sign)

    def forward(self, x: Tensor) -> Tensor:
        return self.shifter(x)


class _Up(nn.Module):
    """`upsample.up.body.*`: conv, ReLU, shuffle (twice for x4)."""

    def __init__(self, scale: int, c: int) -> None:
        super().__init__()
        self.up = UpsampleBlock(scale, c)

    def forward(self, x: Tensor) -> Tensor:
        return self.up(x)


_PAPER = "Densely Residual Laplacian Super-Resolution (DRLN), TPAMI 2020"
register_model("drln", DRLN, DRLNConfig, family="drln", paper=_PAPER,
               description="DRLN as on the hub (64 feats, 20 blocks, Laplacian attention)")
register_model("drln-bam", DRLN, DRLNConfig, family="drln", paper=_PAPER, attention="bam",
               description="DRLN with BAM replacing the Laplacian attention (eugenesiow/drln-bam)")
