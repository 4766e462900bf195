"""Blocks shared by several architectures: upsamplers and the mean shift."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

#: Mean RGB of DIV2K in [0, 1], the mean shift of the EDSR/RCAN family of models.
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def conv3x3(in_ch: int, out_ch: int, bias: bool = True, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=bias, groups=groups)


class Upsampler(nn.Sequential):
    """EDSR-style sub-pixel upsampler: (conv F->r²F, shuffle r) per factor, ×4 as two ×2 stages.

    Indices match the EDSR/RCAN/MSRN checkpoints: convs at .0 and .2, shuffles at .1 and .3.
    `act` inserts a ReLU after each conv (CARN and DRLN place one before the shuffle);
    `groups` makes the convs grouped (CARN-M).
    """

    def __init__(self, scale: int, channels: int, act: bool = False, groups: int = 1) -> None:
        layers: list[nn.Module] = []
        if scale in (2, 4, 8):
            for _ in range(int(math.log2(scale))):
                layers.append(conv3x3(channels, 4 * channels, groups=groups))
                if act:
                    layers.append(nn.ReLU(inplace=True))
                layers.append(nn.PixelShuffle(2))
        elif scale == 3:
            layers.append(conv3x3(channels, 9 * channels, groups=groups))
            if act:
                layers.append(nn.ReLU(inplace=True))
            layers.append(nn.PixelShuffle(3))
        else:
            raise ValueError(f"unsupported scale {scale}")
        super().__init__(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if (not x.is_contiguous(memory_format=torch.channels_last) or x.shape[1] == 1
                or any(getattr(m, "groups", 1) != 1 for m in self)):
            # grouped convs (CARN-M): permuting output channels would mix the groups
            return super().forward(x)
        # channels_last: each conv's output channels are taken in (i, j, c) order instead of
        # the checkpoint's (c, i, j), so the shuffle copies whole runs of C values instead of
        # gathering every r²-th one. Same numbers, same state dict; on one CPU core this made
        # a ×4 DAN training step ≈ 15 % faster in bf16 (scripts/bench_train_amp.py), where
        # F.pixel_shuffle and its backward on channels_last tensors took a quarter of the step.
        layers = list(self)
        i = 0
        while i < len(layers):
            conv = layers[i]
            j = i + 1
            while not isinstance(layers[j], nn.PixelShuffle):
                j += 1
            x = _conv_shuffle(x, conv, layers[i + 1:j], layers[j].upscale_factor)
            i = j + 1
        return x


def _conv_shuffle(x: Tensor, conv: nn.Module, acts: list[nn.Module], r: int) -> Tensor:
    """`shuffle(acts(conv(x)), r)` for channels_last tensors, computed in NHWC order."""
    assert isinstance(conv, nn.Conv2d)
    c = conv.out_channels // (r * r)
    perm = torch.arange(conv.out_channels, device=x.device).view(c, r * r).t().reshape(-1)
    bias = conv.bias[perm] if conv.bias is not None else None
    y = conv._conv_forward(x, conv.weight[perm], bias)
    for act in acts:  # elementwise (ReLU), so it commutes with the channel permutation
        y = act(y)
    n, _, h, w = y.shape
    y = y.permute(0, 2, 3, 1).reshape(n, h, w, r, r, c)  # free view for channels_last y
    y = y.permute(0, 1, 3, 2, 4, 5).reshape(n, h * r, w * r, c)  # rows (h, i), cols (w, j)
    return y.permute(0, 3, 1, 2)  # logical NCHW, channels_last memory


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

    def __init__(self, scale: int, channels: int, groups: int = 1) -> None:
        super().__init__()
        self.body = Upsampler(scale, channels, act=True, groups=groups)

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
