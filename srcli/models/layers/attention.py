"""Attention layers, reusable by any host network.

BAM (balanced attention, BAM paper §3) and its ablations, RCAN's channel attention, IMDN's
contrast-aware channel attention, PAN's pixel attention, and DAN's GCA and LEA (DAN paper
§III). Hosts take an attention by name through `make_attention("bam", channels, reduction)`,
so "EDSR with BAM" is one argument, not a copied class.

Parameter names follow super-image's `BamBlock` (`ca.fc1`, `ca.relu1`, `ca.fc2`, `sa.conv1`)
so hub checkpoints load without renaming.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# ---------------------------------------------------------------------------- BAM family


class ACAM(nn.Module):
    """Avgpool channel attention: GAP -> 1x1 C->C/r -> PReLU -> 1x1 C/r->C -> sigmoid.

    With `use_max=True` this is ACAM*: average and max pooling through the shared MLP, summed
    before the sigmoid (the BAM paper's ablation).
    """

    def __init__(self, channels: int, reduction: int = 16, use_max: bool = False) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.relu1 = nn.PReLU(hidden)  # one slope per hidden channel, as super-image
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.use_max = use_max

    def _mlp(self, p: Tensor) -> Tensor:
        return self.fc2(self.relu1(self.fc1(p)))

    def forward(self, x: Tensor) -> Tensor:
        logits = self._mlp(x.mean(dim=(2, 3), keepdim=True))
        if self.use_max:
            logits = logits + self._mlp(x.amax(dim=(2, 3), keepdim=True))
        return torch.sigmoid(logits)


class MSAM(nn.Module):
    """Maxpool spatial attention: channel max -> 7x7 conv 1->1 (no bias) -> sigmoid (49 weights).

    With `use_avg=True` this is MSAM*: channel max and mean stacked, 7x7 conv 2->1.
    """

    def __init__(self, kernel_size: int = 7, use_avg: bool = False) -> None:
        super().__init__()
        self.use_avg = use_avg
        self.conv1 = nn.Conv2d(2 if use_avg else 1, 1, kernel_size, padding=kernel_size // 2,
                               bias=False)

    def forward(self, x: Tensor) -> Tensor:
        m = x.amax(dim=1, keepdim=True)
        if self.use_avg:
            m = torch.cat([m, x.mean(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv1(m))


class BAM(nn.Module):
    """Balanced attention: BAM(x) = ACAM(x) ⊙ MSAM(x) ⊙ x, the two branches in parallel.

    `channel_star` / `spatial_star` select the ablations ACAM* / MSAM* (both: BAM*).
    """

    def __init__(self, channels: int, reduction: int = 16, *, channel_star: bool = False,
                 spatial_star: bool = False) -> None:
        super().__init__()
        self.ca = ACAM(channels, reduction, use_max=channel_star)
        self.sa = MSAM(use_avg=spatial_star)

    def forward(self, x: Tensor) -> Tensor:
        return x * (self.ca(x) * self.sa(x))


class CBAM(nn.Module):
    """CBAM ordering for the ablation: channel attention (avg+max), then spatial, in series."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.ca = ACAM(channels, reduction, use_max=True)
        self.sa = MSAM(use_avg=True)

    def forward(self, x: Tensor) -> Tensor:
        x = x * self.ca(x)
        return x * self.sa(x)


# ------------------------------------------------------------------- host-network attentions


class ChannelAttention(nn.Module):
    """RCAN's CALayer: GAP -> 1x1 (bias) -> ReLU -> 1x1 (bias) -> sigmoid -> x * y."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1), nn.Sigmoid(),
        )

    def statistic(self, x: Tensor) -> Tensor:
        return x.mean(dim=(2, 3), keepdim=True)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv_du(self.statistic(x))


class ContrastChannelAttention(ChannelAttention):
    """IMDN's CCA: channel statistic = per-channel std + mean instead of the mean alone."""

    def statistic(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).sqrt()
        return mean + std


class PixelAttention(nn.Module):
    """PAN's pixel attention: x ⊙ sigmoid(1x1 conv(x))."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        del reduction  # same signature as the other attentions
        self.conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.conv(x))


class Gate(nn.Module):
    """x ⊙ g(x) for a branch g that returns weights: ACAM or MSAM alone (BAM paper Table 3)."""

    def __init__(self, gate: nn.Module) -> None:
        super().__init__()
        self.gate = gate

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)


AttentionFactory = Callable[[int, int], nn.Module]

ATTENTIONS: dict[str, AttentionFactory] = {
    "bam": lambda c, r: BAM(c, r),
    "bam-acam*": lambda c, r: BAM(c, r, channel_star=True),
    "bam-msam*": lambda c, r: BAM(c, r, spatial_star=True),
    "bam*": lambda c, r: BAM(c, r, channel_star=True, spatial_star=True),
    "cbam": CBAM,
    "ca": ChannelAttention,
    "cca": ContrastChannelAttention,
    "pa": PixelAttention,
    # Single-branch ablations of BAM paper Table 3.
    "acam": lambda c, r: Gate(ACAM(c, r)),
    "acam*": lambda c, r: Gate(ACAM(c, r, use_max=True)),
    "msam": lambda c, r: Gate(MSAM()),
    "msam*": lambda c, r: Gate(MSAM(use_avg=True)),
}

#: Attentions that pool over the whole image (a tile sees other statistics than the image).
GLOBAL_POOLING = frozenset(
    {"bam", "bam-acam*", "bam-msam*", "bam*", "cbam", "ca", "cca", "acam", "acam*"}
)
#: Attentions with MSAM's 7x7 spatial conv: they widen the receptive field by 3 pixels.
SPATIAL_7X7 = frozenset({"bam", "bam-acam*", "bam-msam*", "bam*", "cbam", "msam", "msam*"})


def make_attention(kind: str | AttentionFactory | None, channels: int,
                   reduction: int = 16) -> nn.Module | None:
    """An attention module by name (see ATTENTIONS) or factory; None/"none" gives None."""
    if kind is None or kind == "none":
        return None
    if callable(kind):
        return kind(channels, reduction)
    try:
        return ATTENTIONS[kind.lower()](channels, reduction)
    except KeyError:
        raise ValueError(f"unknown attention {kind!r}; known: {sorted(ATTENTIONS)}") from None


# ---------------------------------------------------------------------------- DAN: GCA, LEA


class GCA(nn.Module):
    """Global cross-layer attention (DAN eq. 6-7), and GCA-S (eq. 10) with `position_wise`.

    s = σ(W2 · h(W1·x_n ⊙ W0·x_m)) re-weights the channels of x_n; x_m comes from an earlier
    layer. The Hadamard product of two low-rank projections is the factorised bilinear model
    (eq. 3-4). GCA-S skips the pooling h and maps C/r -> 1 for a per-position weight.
    """

    def __init__(self, channels: int, reduction: int = 16, position_wise: bool = False) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.w1 = nn.Conv2d(channels, hidden, 1)
        self.w0 = nn.Conv2d(channels, hidden, 1)
        self.w2 = nn.Conv2d(hidden, 1 if position_wise else channels, 1)
        self.position_wise = position_wise

    def forward(self, x_n: Tensor, x_m: Tensor) -> Tensor:
        g = self.w1(x_n) * self.w0(x_m)
        if not self.position_wise:
            g = g.mean(dim=(2, 3), keepdim=True)
        return x_n * torch.sigmoid(self.w2(g))


class LEA(nn.Module):
    """Local enhanced attention (DAN eq. 8-9): σ(Wβ f_d(Wα X)) re-weights positions of X.

    Wα reduces C -> C/r, f_d is three successive dilated 3x3 convs (ReLU between them, as
    the paper omits activations only for brevity) and Wβ maps C/r -> 1.
    """

    def __init__(self, channels: int, reduction: int = 16,
                 dilations: tuple[int, ...] = (2, 2, 2)) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.w_alpha = nn.Conv2d(channels, hidden, 1)
        self.dilated = nn.ModuleList(
            nn.Conv2d(hidden, hidden, 3, padding=d, dilation=d) for d in dilations
        )
        self.w_beta = nn.Conv2d(hidden, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.w_alpha(x)
        for conv in self.dilated:
            y = F.relu(conv(y))
        return x * torch.sigmoid(self.w_beta(y))


class LEAChannel(ChannelAttention):
    """LEA-C: the channel-wise (RCAN-style) variant of LEA from DAN §III-C."""
