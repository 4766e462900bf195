"""PSNR and SSIM with the conventions of the SR literature (RCAN/RDN/SAN evaluation code).

- Inputs are the SR output and the HR image as integer images (the output already clamped and
  rounded to uint8, or to uint16 for 16-bit images); both are compared on the 0-255 scale.
- Colour images are scored on the BT.601 Y channel of MATLAB `rgb2ycbcr`
  (Y = 16 + (65.481 R + 128.553 G + 24.966 B)/255), computed in float64. A single-channel
  image is scored on its own intensity (this is how Set14's grayscale image enters the tables).
  `y_channel=False` scores all RGB channels instead (RGB-PSNR).
- `crop` pixels (the scale, by convention) are removed from every border before scoring.
- PSNR = 10 log10(255² / MSE). SSIM: 11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03,
  L = 255, 'valid' region only (Wang et al.'s reference implementation), averaged.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from srcli.imaging.color import rgb_to_y, to_float255


def _prepare(img: np.ndarray, crop: int, y_channel: bool) -> np.ndarray:
    x = img if img.ndim == 2 else (img[..., 0] if img.shape[2] == 1 else img)
    if x.ndim == 3:
        x = rgb_to_y(x) if y_channel else to_float255(x[..., :3])
    else:
        x = to_float255(x)
    if crop > 0:
        x = x[crop:-crop, crop:-crop]
    return x


def _check(sr: np.ndarray, hr: np.ndarray, crop: int, least: int) -> None:
    if sr.shape != hr.shape:
        raise ValueError(f"SR {sr.shape} and HR {hr.shape} differ in shape")
    if crop < 0 or min(hr.shape[:2]) - 2 * crop < least:
        raise ValueError(f"crop {crop} leaves less than {least}x{least} pixels of "
                         f"{hr.shape[0]}x{hr.shape[1]}")


def psnr(sr: np.ndarray, hr: np.ndarray, crop: int = 0, y_channel: bool = True) -> float:
    """PSNR in dB between two integer images (see module docstring for the conventions)."""
    _check(sr, hr, crop, 1)
    a, b = _prepare(sr, crop, y_channel), _prepare(hr, crop, y_channel)
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = cv2.getGaussianKernel(11, 1.5)
    win = g @ g.T

    def filt(x: np.ndarray) -> np.ndarray:  # 'valid' correlation: drop the 5-pixel margins
        return cv2.filter2D(x, cv2.CV_64F, win, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def ssim(sr: np.ndarray, hr: np.ndarray, crop: int = 0, y_channel: bool = True) -> float:
    """Mean SSIM between two integer images; RGB mode averages the three channels."""
    _check(sr, hr, crop, 11)  # the SSIM window must fit
    a, b = _prepare(sr, crop, y_channel), _prepare(hr, crop, y_channel)
    if a.ndim == 2:
        return _ssim_plane(a, b)
    return float(np.mean([_ssim_plane(a[..., c], b[..., c]) for c in range(a.shape[2])]))
