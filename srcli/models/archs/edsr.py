"""EDSR (Lim et al., CVPR-W 2017): `edsr-base` (the hub's 16x64 baseline), `edsr` (the paper's
32x256 model, the BAM paper's control) and `edsr-bam`.

EDSR-BAM (BAM paper §2.1): one BAM "before the up-sampling layer", i.e. on the body output
after the long skip, the tensor the upsampler receives. With the 256-channel body that adds
8,257 parameters (BAM paper Table 2: 40729.6K -> 40737.9K at x2).

Mean shifts: super-image builds them but never applies them (`compat/semantics.md` §3.8), so
`apply_mean_shift` defaults to False; checkpoints carry the tensors either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import MeanShift, Upsampler, conv3x3
from srcli.models.registry import register_model


@dataclass(frozen=True)
class EDSRConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 64
    n_resblocks: int = 16
    res_scale: float = 1.0
    attention: str = "none"  # "bam": one BAM before the upsampler (EDSR-BAM)
    reduction: int = 16
    rgb_range: float = 255.0
    apply_mean_shift: bool = False


class ResBlock(nn.Module):
    def __init__(self, c: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(conv3x3(c, c), nn.ReLU(inplace=True), conv3x3(c, c))
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x) * self.res_scale


class EDSR(nn.Module):
    def __init__(self, cfg: EDSRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.n_feats
        self.sub_mean = MeanShift(cfg.rgb_range, sign=-1)
        self.add_mean = MeanShift(cfg.rgb_range, sign=1)
        self.head = nn.Sequential(conv3x3(cfg.n_colors, c))
        self.body = nn.Sequential(*(ResBlock(c, cfg.res_scale) for _ in range(cfg.n_resblocks)),
                                  conv3x3(c, c))
        self.attention = make_attention(cfg.attention, c, cfg.reduction)
        self.tail = nn.Sequential(Upsampler(cfg.scale, c), conv3x3(c, cfg.n_colors))

    def descriptor_hints(self) -> dict[str, object]:
        cfg = self.cfg
        half_ok = not (cfg.apply_mean_shift and cfg.rgb_range > 2)
        return {
            "input_range": 1.0,
            "supports_fp16": half_ok,
            "supports_bf16": half_ok,
            "global_pooling": cfg.attention in GLOBAL_POOLING,
            "receptive_radius": 2 + 2 * cfg.n_resblocks + 3
            + (3 if cfg.attention in SPATIAL_7X7 else 0),
        }

    def forward(self, x: Tensor) -> Tensor:
        if self.cfg.apply_mean_shift:
            x = self.sub_mean(x)
        h = self.head(x)
        res = self.body(h) + h
        if self.attention is not None:
            res = self.attention(res)
        out = self.tail(res)
        return self.add_mean(out) if self.cfg.apply_mean_shift else out


_PAPER = "Enhanced Deep Residual Networks for Single Image Super-Resolution (EDSR), CVPR-W 2017"
register_model("edsr-base", EDSR, EDSRConfig, family="edsr", paper=_PAPER,
               description="EDSR baseline as on the hub (16 ResBlocks, 64 feats; "
               "eugenesiow/edsr-base)")
register_model("edsr", EDSR, EDSRConfig, family="edsr", paper=_PAPER, n_feats=256,
               n_resblocks=32, res_scale=0.1,
               description="EDSR, paper config (32 ResBlocks, 256 feats, res_scale 0.1)")
register_model("edsr-bam", EDSR, EDSRConfig, family="edsr", paper=_PAPER, n_feats=256,
               n_resblocks=32, res_scale=0.1, attention="bam",
               description="EDSR (paper config) with one BAM before the upsampler (BAM §2.1)")
