"""Colour conversions used for scoring: the BT.601 luma of MATLAB's `rgb2ycbcr`."""

from __future__ import annotations

import numpy as np

# MATLAB rgb2ycbcr, studio swing: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, R,G,B in
# 0-255. (super-image uses other coefficients, which shifts its published numbers.)
Y_COEFFS = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0


def to_float255(img: np.ndarray) -> np.ndarray:
    """Any integer or float image as float64 on the 0-255 scale (16-bit is divided by 257)."""
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 257.0
    return img.astype(np.float64)


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Y channel (16-235 range, float64) of an H×W×3 RGB image on the 0-255 scale."""
    return 16.0 + to_float255(img[..., :3]) @ Y_COEFFS
