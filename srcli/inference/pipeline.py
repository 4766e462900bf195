"""One image through the engine: grayscale, alpha and the optional final resize.

Grayscale images are replicated to RGB for the (RGB) model and the output converted back to
BT.601 luma, so they stay single-channel; for R = G = B input a colour model's output is
nearly gray anyway, and luma keeps its brightness. Alpha is not shown to the model: it is
upscaled on its own with MATLAB-style bicubic (srcli.imaging.resize) and re-attached.
`outscale` resizes the model output to (input size × outscale) with the same antialiased
bicubic, the high-quality choice for both shrinking and enlarging.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from srcli.imaging.io import ImageData, gray_to_rgb, rgb_to_luma
from srcli.imaging.resize import imresize_tensor
from srcli.inference.engine import Progress, Upscaler


def resize_planes(arr: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Antialiased bicubic resize of an H×W or H×W×C float32 array, clipped to [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    t = t.permute(2, 0, 1) if arr.ndim == 3 else t
    y = imresize_tensor(t, size=size_hw).clamp_(0.0, 1.0)
    y = y.permute(1, 2, 0) if arr.ndim == 3 else y
    return y.numpy()


def output_size(width: int, height: int, scale: int, outscale: float | None) -> tuple[int, int]:
    """(width, height) of the result for an input of width × height."""
    factor = outscale if outscale else scale
    return max(1, math.floor(width * factor + 0.5)), max(1, math.floor(height * factor + 0.5))


def upscale_image(image: ImageData, upscaler: Upscaler, *, outscale: float | None = None,
                  progress: Progress | None = None) -> ImageData:
    """Upscale pixels with the model (alpha with bicubic) and carry the metadata along."""
    width, height = image.size
    rgb = gray_to_rgb(image.pixels) if image.is_gray else image.pixels
    out = upscaler.upscale(rgb, progress)
    scale = upscaler.scale
    alpha = None
    if image.alpha is not None:
        alpha = resize_planes(image.alpha, (height * scale, width * scale))
    target_w, target_h = output_size(width, height, scale, outscale)
    if (target_h, target_w) != out.shape[:2]:
        out = resize_planes(out, (target_h, target_w))
        if alpha is not None:
            alpha = resize_planes(alpha, (target_h, target_w))
    pixels = rgb_to_luma(out) if image.is_gray else out
    return image.with_pixels(pixels, alpha, dpi_factor=target_w / width)
