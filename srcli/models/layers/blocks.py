"""Blocks shared by several architectures: upsamplers and the mean shift."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

#: Mean RGB of DIV2K in [0, 1], the mean shift of the EDSR/RCAN family of models.
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def conv3x3(in_ch: int, out_ch: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=bias)


class Upsampler(nn.Sequential):
    """EDSR-style sub-pixel upsampler: (conv F->r²F, shuffle r) per factor, ×4 as two ×2 stages.

    Indices match the EDSR/RCAN/MSRN checkpoints: convs at .0 and .2, shuffles at .1 and .3.
    `act` inserts a ReLU after each conv (CARN and DRLN place one before the shuffle).
    """

    def __init__(self, scale: int, channels: int, act: bool = False) -> None:
        layers: list[nn.Module] = []
        if scale in (2, 4, 8):
            for _ in range(int(math.log2(scale))):
                layers.append(conv3x3(channels, 4 * channels))
                if act:
                    layers.append(nn.ReLU(inplace=True))
                layers.append(nn.PixelShuffle(2))
        elif scale == 3:
            layers.append(conv3x3(channels, 9 * channels))
            if act:
                layers.append(nn.ReLU(inplace=True))
            layers.append(nn.PixelShuffle(3))
        else:
            raise ValueError(f"unsupported scale {scale}")
        super().__init__(*layers)


class MeanShift(nn.Conv2d):
    """x -> x + sign·range·mean/std as a frozen 1x1 conv (a general 3x3 matrix plus bias, so
    checkpoints whose shift drifted during training still load exactly)."""

    def __init__(self, rgb_range: float = 1.0, rgb_mean: tuple[float, ...] = DIV2K_MEAN,
                 rgb_std: tuple[float, ...] = (1.0, 1.0, 1.0), sign: int = -1) -> None:
        super().__init__(3, 3, 1)
        std = torch.tensor(rgb_std)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1)
        self.bias.data = sign * rgb_range * torch.tensor(rgb_mean) / std
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x)


class UpsampleBlock(nn.Module):
    """CARN/DRLN upsampler: `Upsampler(act=True)` (ReLU before each shuffle) under `.body`.

    The extra level of nesting only reproduces the checkpoint key names (`up.body.0.weight`).
    """

    def __init__(self, scale: int, channels: int) -> None:
        super().__init__()
        self.body = Upsampler(scale, channels, act=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class WNConv2d(nn.Conv2d):
    """A weight-normalised conv (AWSRN): weight = g · v / ‖v‖, the norm per output channel.

    Parameters are stored as `bias`, `weight_g` [out,1,1,1], `weight_v` [out,in,k,k] in that
    order, exactly like legacy `torch.nn.utils.weight_norm(conv, dim=0)`, so super-image
    checkpoints load by name. There is no stored `weight`; it is derived on every forward.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=bias)
        v = self.weight.detach().clone()
        del self._parameters["weight"]
        self.weight_g = nn.Parameter(_channel_norm(v))
        self.weight_v = nn.Parameter(v)

    def effective_weight(self) -> Tensor:
        return self.weight_v * (self.weight_g / _channel_norm(self.weight_v))

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.effective_weight(), self.bias)


def _channel_norm(v: Tensor) -> Tensor:
    """L2 norm over every dim but the first (output channels), kept as [out,1,1,1]."""
    return v.pow(2).sum(dim=tuple(range(1, v.dim())), keepdim=True).sqrt()


class Scale(nn.Module):
    """A learned scalar multiplier (AWSRN); stored as the 1-element parameter `scale`."""

    def __init__(self, init: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([float(init)]))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale
