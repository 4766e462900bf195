"""MDSR (Lim et al., CVPR-W 2017) and MDSR-BAM, laid out like super-image's `MdsrModel`.

super-image builds only the requested scale's branch, so the scale appears in key names
(`pre_process.{S}.*`, `upsample.{S}.*`), and every conv is wrapped in its own Sequential
(`head.0.0.weight`). Mean shifts exist but are not applied (`compat/semantics.md` §3.2).
ResBlock(x) = x + res_scale · Att(conv(ReLU(conv(x)))), Att = BAM in the BAM variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import MeanShift, conv3x3
from srcli.models.registry import register_model


@dataclass(frozen=True)
class MDSRConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 64
    n_resblocks: int = 32
    n_preblocks: int = 2  # scale-specific ResBlocks in pre_process
    res_scale: float = 0.1
    attention: str = "none"  # "bam" for MDSR-BAM
    reduction: int = 16


def _wrapped_conv(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(conv3x3(in_ch, out_ch))


class ResBlock(nn.Module):
    def __init__(self, c: int, res_scale: float, attention: str, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_wrapped_conv(c, c), nn.ReLU(inplace=True), _wrapped_conv(c, c))
        self.attention = make_attention(attention, c, reduction)
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        if self.attention is not None:
            y = self.attention(y)
        return x + y * self.res_scale


def _upsampler(scale: int, c: int) -> nn.Sequential:
    """The EDSR upsampler with wrapped convs: keys `.0.0` and (x4) `.2.0`."""
    layers: list[nn.Module] = []
    if scale == 3:
        layers += [_wrapped_conv(c, 9 * c), nn.PixelShuffle(3)]
    elif scale in (2, 4, 8):
        for _ in range(int(math.log2(scale))):
            layers += [_wrapped_conv(c, 4 * c), nn.PixelShuffle(2)]
    else:
        raise ValueError(f"unsupported scale {scale}")
    return nn.Sequential(*layers)


class MDSR(nn.Module):
    def __init__(self, cfg: MDSRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        f, s = cfg.n_feats, str(cfg.scale)

        def block() -> ResBlock:
            return ResBlock(f, cfg.res_scale, cfg.attention, cfg.reduction)

        self.head = nn.Sequential(_wrapped_conv(cfg.n_colors, f))
        self.pre_process = nn.ModuleDict({s: nn.Sequential(*(block() for _ in
                                                             range(cfg.n_preblocks)))})
        self.body = nn.Sequential(*(block() for _ in range(cfg.n_resblocks)), _wrapped_conv(f, f))
        self.upsample = nn.ModuleDict({s: _upsampler(cfg.scale, f)})
        self.tail = nn.Sequential(_wrapped_conv(f, cfg.n_colors))
        self.sub_mean = MeanShift(255.0, sign=-1)  # present in checkpoints, never applied
        self.add_mean = MeanShift(255.0, sign=1)

    def descriptor_hints(self) -> dict[str, object]:
        cfg = self.cfg
        per_block = 2 + (3 if cfg.attention in SPATIAL_7X7 else 0)
        return {
            "input_range": 1.0,
            "global_pooling": cfg.attention in GLOBAL_POOLING,
            "receptive_radius": 1 + (cfg.n_preblocks + cfg.n_resblocks) * per_block + 3,
        }

    def forward(self, x: Tensor) -> Tensor:
        s = str(self.cfg.scale)
        h = self.pre_process[s](self.head(x))
        res = self.body(h) + h
        return self.tail(self.upsample[s](res))


_PAPER = "Enhanced Deep Residual Networks for SISR (EDSR/MDSR), CVPR-W 2017"
register_model("mdsr", MDSR, MDSRConfig, family="mdsr", paper=_PAPER,
               description="MDSR single-scale branch as on the hub (64 feats, 32 ResBlocks)")
register_model("mdsr-bam", MDSR, MDSRConfig, family="mdsr", paper=_PAPER, attention="bam",
               description="MDSR with BAM in every ResBlock (eugenesiow/mdsr-bam)")
