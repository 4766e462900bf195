"""RCAN (Zhang et al., ECCV 2018) and RCAN-BAM, laid out like super-image's `RcanModel`.

Residual in residual: 10 groups of 20 RCABs, RCAB(x) = x + Att(conv(ReLU(conv(x)))), where Att
is RCAN's channel attention or BAM (RCAN-BAM, paper: "CA replaced with BAM").

The mean shifts ARE applied with rgb_range 255 on [0, 1] input (`compat/semantics.md` §3.7):
the network sees x − 255·mean ≈ −110 and adds 255·mean back at the end. That is the hub
model's convention, kept so its weights work; it is also why RCAN is not marked fp16-safe.
There is no residual scaling (super-image comments it out), so `res_scale` is not a field.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import DIV2K_MEAN, MeanShift, Upsampler, conv3x3
from srcli.models.registry import register_model


@dataclass(frozen=True)
class RCANConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 64
    n_resgroups: int = 10
    n_resblocks: int = 20
    reduction: int = 16
    attention: str = "ca"  # "ca" (RCAN) or "bam" (RCAN-BAM); any make_attention name
    rgb_range: float = 255.0
    rgb_mean: tuple[float, ...] = DIV2K_MEAN
    rgb_std: tuple[float, ...] = (1.0, 1.0, 1.0)


class RCAB(nn.Module):
    def __init__(self, c: int, attention: str, reduction: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv3x3(c, c), nn.ReLU(inplace=True), conv3x3(c, c)]
        att = make_attention(attention, c, reduction)
        if att is not None:
            layers.append(att)
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResidualGroup(nn.Module):
    def __init__(self, cfg: RCANConfig) -> None:
        super().__init__()
        c = cfg.n_feats
        self.body = nn.Sequential(
            *(RCAB(c, cfg.attention, cfg.reduction) for _ in range(cfg.n_resblocks)),
            conv3x3(c, c),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class RCAN(nn.Module):
    def __init__(self, cfg: RCANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.n_feats
        self.sub_mean = MeanShift(cfg.rgb_range, cfg.rgb_mean, cfg.rgb_std, sign=-1)
        self.add_mean = MeanShift(cfg.rgb_range, cfg.rgb_mean, cfg.rgb_std, sign=1)
        self.head = nn.Sequential(conv3x3(cfg.n_colors, c))
        self.body = nn.Sequential(*(ResidualGroup(cfg) for _ in range(cfg.n_resgroups)),
                                  conv3x3(c, c))
        self.tail = nn.Sequential(Upsampler(cfg.scale, c), conv3x3(c, cfg.n_colors))

    def descriptor_hints(self) -> dict[str, object]:
        cfg = self.cfg
        att = cfg.attention
        per_block = 2 + (3 if att in SPATIAL_7X7 else 0)
        half_ok = cfg.rgb_range <= 2  # the ±110 offsets of range 255 defeat half precision
        return {
            "input_range": 1.0,
            "supports_fp16": half_ok,
            "supports_bf16": half_ok,
            "global_pooling": att in GLOBAL_POOLING,
            "receptive_radius": 1 + cfg.n_resgroups * (cfg.n_resblocks * per_block + 1) + 3,
        }

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(self.sub_mean(x))
        res = self.body(h) + h
        return self.add_mean(self.tail(res))


_PAPER = "Image Super-Resolution Using Very Deep Residual Channel Attention Networks (RCAN)"
register_model("rcan", RCAN, RCANConfig, family="rcan", paper=_PAPER,
               description="RCAN, hub config (10 groups x 20 RCABs, 64 feats)")
register_model("rcan-bam", RCAN, RCANConfig, family="rcan", paper=_PAPER, attention="bam",
               description="RCAN with BAM replacing channel attention (eugenesiow/rcan-bam, x4)")
