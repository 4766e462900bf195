"""PAN (Zhao et al., ECCV-W 2020) and PAN-BAM, laid out like super-image's `PanModel`.

Forward (`compat/semantics.md` §3.5): conv_first -> nb SCPA blocks -> trunk_conv, plus the
conv_first features -> per x2 stage (or one x2/x3 stage): nearest upsampling, upconv,
LeakyReLU(Att(.)), LeakyReLU(HRconv) -> conv_last, plus a bilinear upsampling of the raw input
(align_corners=False). Att is pixel attention (PAN) or BAM (PAN-BAM, paper: "PA replaced with
BAM"). LeakyReLU slope 0.2 everywhere. The trunk block is a class attribute so A2N (a2n.py)
reuses everything but the block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srcli.models.layers.attention import GLOBAL_POOLING, SPATIAL_7X7, make_attention
from srcli.models.registry import register_model


@dataclass(frozen=True)
class PANConfig:
    scale: int = 4
    in_nc: int = 3
    out_nc: int = 3
    nf: int = 40
    unf: int = 24
    nb: int = 16
    attention: str = "pa"  # upsampling-branch attention: "pa" (PAN) or "bam" (PAN-BAM)
    reduction: int = 8


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


class PAConv(nn.Module):
    """k4(k3(x) ⊙ sigmoid(k2(x)))."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.k2 = nn.Conv2d(nf, nf, 1)
        self.k3 = nn.Conv2d(nf, nf, 3, padding=1, bias=False)
        self.k4 = nn.Conv2d(nf, nf, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.k4(self.k3(x) * torch.sigmoid(self.k2(x)))


class SCPA(nn.Module):
    """Self-calibrated block with pixel attention: a plain 3x3 path and a PAConv path."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        half = nf // 2
        self.conv1_a = nn.Conv2d(nf, half, 1, bias=False)
        self.conv1_b = nn.Conv2d(nf, half, 1, bias=False)
        self.k1 = nn.Sequential(nn.Conv2d(half, half, 3, padding=1, bias=False))
        self.PAConv = PAConv(half)
        self.conv3 = nn.Conv2d(2 * half, nf, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        a = _lrelu(self.k1(_lrelu(self.conv1_a(x))))
        b = _lrelu(self.PAConv(_lrelu(self.conv1_b(x))))
        return self.conv3(torch.cat([a, b], dim=1)) + x


class PAN(nn.Module):
    TRUNK_NAME: ClassVar[str] = "SCPA_trunk"

    def __init__(self, cfg: PANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        nf, unf = cfg.nf, cfg.unf
        self.conv_first = nn.Conv2d(cfg.in_nc, nf, 3, padding=1)
        setattr(self, self.TRUNK_NAME, nn.Sequential(*(self.make_block(cfg) for _ in
                                                       range(cfg.nb))))
        self.trunk_conv = nn.Conv2d(nf, nf, 3, padding=1)
        self.upconv1 = nn.Conv2d(nf, unf, 3, padding=1)
        self.att1 = make_attention(cfg.attention, unf, cfg.reduction)
        self.HRconv1 = nn.Conv2d(unf, unf, 3, padding=1)
        if cfg.scale == 4:
            self.upconv2 = nn.Conv2d(unf, unf, 3, padding=1)
            self.att2 = make_attention(cfg.attention, unf, cfg.reduction)
            self.HRconv2 = nn.Conv2d(unf, unf, 3, padding=1)
        elif cfg.scale not in (2, 3):
            raise ValueError(f"unsupported scale {cfg.scale}")
        self.conv_last = nn.Conv2d(unf, cfg.out_nc, 3, padding=1)

    @staticmethod
    def make_block(cfg: PANConfig) -> nn.Module:
        return SCPA(cfg.nf)

    def descriptor_hints(self) -> dict[str, object]:
        att = self.cfg.attention
        return {
            "input_range": 1.0,
            "global_pooling": att in GLOBAL_POOLING,
            "receptive_radius": 1 + 2 * self.cfg.nb + 1 + 2 + (3 if att in SPATIAL_7X7 else 0),
        }

    def _stage(self, fea: Tensor, factor: int, i: int) -> Tensor:
        fea = getattr(self, f"upconv{i}")(F.interpolate(fea, scale_factor=factor, mode="nearest"))
        att = getattr(self, f"att{i}")
        if att is not None:
            fea = att(fea)
        return _lrelu(getattr(self, f"HRconv{i}")(_lrelu(fea)))

    def forward(self, x: Tensor) -> Tensor:
        s = self.cfg.scale
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(getattr(self, self.TRUNK_NAME)(fea))
        if s == 4:
            fea = self._stage(self._stage(fea, 2, 1), 2, 2)
        else:
            fea = self._stage(fea, s, 1)
        ilr = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
        return self.conv_last(fea) + ilr


_PAPER = "Efficient Image Super-Resolution Using Pixel Attention (PAN), ECCV-W 2020"
register_model("pan", PAN, PANConfig, family="pan", paper=_PAPER,
               description="PAN as on the hub (nf 40, unf 24, 16 SCPA blocks)")
register_model("pan-bam", PAN, PANConfig, family="pan", paper=_PAPER, attention="bam",
               description="PAN with BAM replacing the upsampling pixel attention "
               "(eugenesiow/pan-bam)")
