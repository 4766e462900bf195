"""AWSRN (Wang et al., 2019) and AWSRN-BAM, laid out like super-image's `AwsrnModel`.

Every conv is weight-normalised (`WNConv2d`). Forward (`compat/semantics.md` §3.3):
skip = shuffle(conv(x)) on the raw input; body = chain of LFBs (each a chain of AWRUs fused by
a conv, with learned residual/identity scalars); BAM once after the body (paper §2.1: before
the AWMS module); tail = AWMS, four kernel sizes with learned weights; out = tail + skip.

Normalisation: super-image's BAM variant applies none. Its non-BAM variant computes
(x − range·mean) / (range/2) and undoes it at the end with range = 255, which only suits
[0, 255] input; `load_super_image` reproduces that with `rgb_range=255`. srcli's own `awsrn`
defaults to `rgb_range=1`, the same normalisation for its [0, 1] images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.layers.blocks import DIV2K_MEAN, Scale, WNConv2d
from srcli.models.registry import register_model


@dataclass(frozen=True)
class AWSRNConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 32
    block_feats: int = 128
    n_resblocks: int = 4  # LFBs
    n_awru: int = 4  # AWRUs per LFB
    res_scale: float = 1.0  # initial value of the learned residual scalars
    attention: str = "none"  # "bam" for AWSRN-BAM (one block after the body)
    reduction: int = 8
    normalize: bool = True  # the non-BAM mean/range normalisation (see module docstring)
    rgb_range: float = 1.0
    rgb_mean: tuple[float, ...] = DIV2K_MEAN


class AWRU(nn.Module):
    """Adaptive weighted residual unit: λ_r · conv(ReLU(conv(x))) + λ_x · x."""

    def __init__(self, c: int, block_feats: int, res_scale: float) -> None:
        super().__init__()
        self.res_scale = Scale(res_scale)
        self.x_scale = Scale(1.0)
        self.body = nn.Sequential(WNConv2d(c, block_feats, 3), nn.ReLU(inplace=True),
                                  WNConv2d(block_feats, c, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.res_scale(self.body(x)) + self.x_scale(x)


class LFB(nn.Module):
    """Local fusion block: chained AWRUs, all outputs concatenated and fused by a conv."""

    def __init__(self, c: int, block_feats: int, n_awru: int, res_scale: float) -> None:
        super().__init__()
        self.lfl = nn.ModuleList(AWRU(c, block_feats, res_scale) for _ in range(n_awru))
        self.reduction = WNConv2d(c * n_awru, c, 3)
        self.res_scale = Scale(res_scale)
        self.x_scale = Scale(1.0)

    def forward(self, x: Tensor) -> Tensor:
        outs = []
        y = x
        for unit in self.lfl:
            y = unit(y)
            outs.append(y)
        return self.res_scale(self.reduction(torch.cat(outs, dim=1))) + self.x_scale(x)


class AWMS(nn.Module):
    """Adaptive weighted multi-scale reconstruction: Σ_k λ_k · shuffle(conv_k×k(x))."""

    KERNELS = (3, 5, 7, 9)

    def __init__(self, scale: int, c: int, n_colors: int) -> None:
        super().__init__()
        out = n_colors * scale * scale
        for k in self.KERNELS:
            setattr(self, f"tail_k{k}", WNConv2d(c, out, k))
        for k in self.KERNELS:
            setattr(self, f"scale_k{k}", Scale(0.25))
        self.pixelshuffle = nn.PixelShuffle(scale)  # a single shuffle by `scale`, even x4

    def forward(self, x: Tensor) -> Tensor:
        out = None
        for k in self.KERNELS:
            branch = self.pixelshuffle(getattr(self, f"scale_k{k}")(getattr(self, f"tail_k{k}")(x)))
            out = branch if out is None else out + branch
        assert out is not None
        return out


class AWSRN(nn.Module):
    def __init__(self, cfg: AWSRNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.n_feats
        self.head = nn.Sequential(WNConv2d(cfg.n_colors, c, 3))
        self.body = nn.Sequential(*(LFB(c, cfg.block_feats, cfg.n_awru, cfg.res_scale)
                                    for _ in range(cfg.n_resblocks)))
        self.tail = AWMS(cfg.scale, c, cfg.n_colors)
        self.skip = nn.Sequential(WNConv2d(cfg.n_colors, cfg.n_colors * cfg.scale ** 2, 3),
                                  nn.PixelShuffle(cfg.scale))
        self.attention = make_attention(cfg.attention, c, cfg.reduction)
        mean = torch.tensor(cfg.rgb_mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.register_buffer("rgb_mean", mean, persistent=False)

    def descriptor_hints(self) -> dict[str, object]:
        cfg = self.cfg
        body = cfg.n_resblocks * (cfg.n_awru * 2 + 1)
        big_range = cfg.normalize and cfg.rgb_range > 2
        return {
            "input_range": 1.0,
            # range-255 normalisation scales the output by 127.5: too coarse for half floats
            "supports_fp16": not big_range,
            "supports_bf16": not big_range,
            "global_pooling": cfg.attention in GLOBAL_POOLING,
            "receptive_radius": 1 + body + (3 if cfg.attention in SPATIAL_7X7 else 0) + 4,
        }

    def forward(self, x: Tensor) -> Tensor:
        cfg = self.cfg
        half = cfg.rgb_range / 2
        if cfg.normalize:
            x = (x - self.rgb_mean * cfg.rgb_range) / half
        skip = self.skip(x)
        y = self.body(self.head(x))
        if self.attention is not None:
            y = self.attention(y)
        out = self.tail(y) + skip
        if cfg.normalize:
            out = out * half + self.rgb_mean * cfg.rgb_range
        return out


_PAPER = "Lightweight Image Super-Resolution with Adaptive Weighted Learning Network (AWSRN)"
register_model("awsrn", AWSRN, AWSRNConfig, family="awsrn", paper=_PAPER,
               description="AWSRN (4 LFBs x 4 AWRUs, 32 feats), mean/range normalised")
register_model("awsrn-bam", AWSRN, AWSRNConfig, family="awsrn", paper=_PAPER, attention="bam",
               normalize=False,
               description="AWSRN with BAM before the AWMS tail (eugenesiow/awsrn-bam)")
