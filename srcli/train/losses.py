"""Pixel losses by `--loss` name, all on N×3×H×W tensors in the 0-1 range."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srcli.imaging.color import Y_COEFFS
from srcli.vocabulary import LOSSES

# Share of the plain RGB L1 kept in the l1y loss, so colour stays anchored to the target
# while most of the gradient goes to the luma error that PSNR/SSIM measure.
L1Y_RGB_WEIGHT = 0.25


def luma_l1_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """L1 of the BT.601 luma difference plus a quarter of the RGB L1 (N×3×H×W, 0-1 range)."""
    diff = sr - hr
    # The metric's luma weights (the channel every benchmark scores); on 0-1 RGB they give
    # luma on the 0-1 scale, and its 16/255 offset cancels in a difference.
    w = diff.new_tensor(Y_COEFFS).view(1, 3, 1, 1)
    return (diff * w).sum(dim=1).abs().mean() + L1Y_RGB_WEIGHT * diff.abs().mean()


#: Pixel losses by --loss name. FSRCNN and VDSR train on luma only; l1y leans that way but
#: keeps a colour term, since srcli upscales all three channels with one network.
LOSS_FUNCTIONS = {"l1": F.l1_loss, "l2": F.mse_loss, "l1y": luma_l1_loss}
assert tuple(LOSS_FUNCTIONS) == LOSSES  # one function per name of the vocabulary
