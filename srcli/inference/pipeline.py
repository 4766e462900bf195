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

from srcli.imaging.io import ImageData, gray_to_rgb, quantize, rgb_to_luma
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
                  progress: Progress | None = None, bits: int | None = None) -> ImageData:
    """Upscale pixels with the model (alpha with bicubic) and carry the metadata along.

    `bits` (8 or 16, see srcli.imaging.io.stored_bits): return pixels already quantized to
    that depth, converted band by band as the engine finishes them, so no full-size float
    image exists (a 4000×3000 photo at ×4 is 2.3 GB as float32, 576 MB as 8-bit). Values
    are those the writer would have produced from the float result. Ignored with a final
    resize (`outscale` other than the model's scale), which needs the float image.
    """
    width, height = image.size
    rgb = gray_to_rgb(image.pixels) if image.is_gray else image.pixels
    scale = upscaler.scale
    target_w, target_h = output_size(width, height, scale, outscale)
    resize = (target_h, target_w) != (height * scale, width * scale)
    if bits is not None and not resize:
        out = _upscale_quantized(rgb, upscaler, bits, gray=image.is_gray, progress=progress)
    else:
        out = upscaler.upscale(rgb, progress)
        bits = None
    alpha = None
    if image.alpha is not None:
        alpha = resize_planes(image.alpha, (height * scale, width * scale))
    if resize:
        out = resize_planes(out, (target_h, target_w))
        if alpha is not None:
            alpha = resize_planes(alpha, (target_h, target_w))
    if bits is not None and alpha is not None:
        alpha = quantize(alpha, bits)
    pixels = rgb_to_luma(out) if image.is_gray and bits is None else out
    return image.with_pixels(pixels, alpha, dpi_factor=target_w / width)


_ROWS = 64


def _upscale_quantized(rgb: np.ndarray, upscaler: Upscaler, bits: int, *, gray: bool,
                       progress: Progress | None) -> np.ndarray:
    """The model output as uint8/uint16 (luma for gray input), filled band by band."""
    s = upscaler.scale
    h, w = rgb.shape[:2]
    dtype = np.uint16 if bits == 16 else np.uint8
    # Colour is stored B, G, R and seen through a reversed view: OpenCV then encodes the
    # buffer itself, with no full-size copy (srcli.imaging.io writes 8-bit PNG and 16-bit so).
    out = (np.empty((h * s, w * s), dtype) if gray
           else np.empty((h * s, w * s, 3), dtype)[..., ::-1])

    def sink(row0: int, band: torch.Tensor) -> None:
        hwc = band.permute(1, 2, 0).numpy()  # the layout upscale() returns, for equal luma
        # A few rows at a time: quantize's float temporary stays small next to the band.
        for r in range(0, hwc.shape[0], _ROWS):
            rows = hwc[r:r + _ROWS]
            quantize(rgb_to_luma(rows) if gray else rows, bits,
                     out[row0 + r:row0 + r + rows.shape[0]])

    upscaler.upscale_bands(rgb, sink, progress)
    return out
