"""IMDN (Hui et al., ACM MM 2019) and IMDN-BAM, the BAM paper's ablation host (Table 3).

IMDN = 3x3 conv -> 6 information multi-distillation blocks (IMDB) -> 1x1 fusion + LeakyReLU
-> 3x3 conv + long skip -> conv to 3·s² channels + pixel shuffle. An IMDB splits off a quarter
of the channels after each of three 3x3 convs (LeakyReLU 0.05), concatenates the distilled
parts with a fourth conv's output, re-weights them with contrast-aware channel attention
(CCA) and fuses them with a 1x1 conv plus the block input. IMDN-BAM replaces CCA by BAM;
`attention` accepts every Table 3 variant (acam, acam*, msam, msam*, bam, bam*, cbam).
Key names follow the official IMDN code (`fea_conv`, `IMDB1..6`, `c`, `LR_conv`, `upsampler`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.registry import register_model


@dataclass(frozen=True)
class IMDNConfig:
    scale: int = 4
    in_nc: int = 3
    out_nc: int = 3
    nf: int = 64
    num_modules: int = 6
    distillation_rate: float = 0.25
    attention: str = "cca"  # "cca" (IMDN), "bam" (IMDN-BAM) or any Table 3 ablation
    reduction: int = 16


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.05)


def _conv(in_ch: int, out_ch: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, k, padding=k // 2)


class IMDB(nn.Module):
    def __init__(self, c: int, rate: float, attention: str, reduction: int) -> None:
        super().__init__()
        self.distilled = int(c * rate)
        self.remaining = c - self.distilled
        self.c1 = _conv(c, c, 3)
        self.c2 = _conv(self.remaining, c, 3)
        self.c3 = _conv(self.remaining, c, 3)
        self.c4 = _conv(self.remaining, self.distilled, 3)
        self.c5 = _conv(self.distilled * 4, c, 1)
        self.cca = make_attention(attention, self.distilled * 4, reduction)

    def forward(self, x: Tensor) -> Tensor:
        parts = []
        y = x
        for conv in (self.c1, self.c2, self.c3):
            d, y = torch.split(_lrelu(conv(y)), (self.distilled, self.remaining), dim=1)
            parts.append(d)
        parts.append(self.c4(y))
        out = torch.cat(parts, dim=1)
        if self.cca is not None:
            out = self.cca(out)
        return self.c5(out) + x


class IMDN(nn.Module):
    def __init__(self, cfg: IMDNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        nf = cfg.nf
        self.fea_conv = _conv(cfg.in_nc, nf, 3)
        for i in range(1, cfg.num_modules + 1):
            setattr(self, f"IMDB{i}", IMDB(nf, cfg.distillation_rate, cfg.attention,
                                           cfg.reduction))
        self.c = nn.Sequential(_conv(nf * cfg.num_modules, nf, 1), nn.LeakyReLU(0.05))
        self.LR_conv = _conv(nf, nf, 3)
        self.upsampler = nn.Sequential(_conv(nf, cfg.out_nc * cfg.scale ** 2, 3),
                                       nn.PixelShuffle(cfg.scale))

    def descriptor_hints(self) -> dict[str, object]:
        att = self.cfg.attention
        per_block = 4 + (3 if att in SPATIAL_7X7 else 0)
        return {
            "input_range": 1.0,
            "global_pooling": att in GLOBAL_POOLING,
            "receptive_radius": 1 + self.cfg.num_modules * per_block + 2,
        }

    def forward(self, x: Tensor) -> Tensor:
        fea = self.fea_conv(x)
        outs = []
        y = fea
        for i in range(1, self.cfg.num_modules + 1):
            y = getattr(self, f"IMDB{i}")(y)
            outs.append(y)
        lr = self.LR_conv(self.c(torch.cat(outs, dim=1))) + fea
        return self.upsampler(lr)


_PAPER = "Lightweight Image Super-Resolution with Information Multi-distillation Network"
register_model("imdn", IMDN, IMDNConfig, family="imdn", paper=_PAPER,
               description="IMDN with contrast-aware channel attention (CCA)")
register_model("imdn-bam", IMDN, IMDNConfig, family="imdn", paper=_PAPER, attention="bam",
               description="IMDN with BAM replacing CCA (BAM paper Table 3)")
