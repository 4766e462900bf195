"""Degradations that make LR images from HR ones, shared by `bench` (test data) and `train`.

The three test-data recipes of the SR literature (DAN §IV-A, after RDN's published scripts):

- BI: `imresize(modcrop(HR, s), 1/s)`, MATLAB-compatible bicubic, rounded to the image's
  integer type (see resize.py for the rounding between the two axis passes).
- BD: `modcrop(HR, s)` blurred by a 7×7 Gaussian, σ = 1.6, with replicate padding (MATLAB
  `imfilter(·, fspecial('gaussian', 7, 1.6), 'replicate')`, which rounds back to the image's
  integer type), then `imresize(·, 1/s, 'nearest')`. MATLAB's nearest resize has no
  antialiasing and samples input pixel floor(s/2) of every s×s cell (0-based), i.e. the
  centre pixel 1 of each 3×3 cell at s = 3, the scale the papers use.
- DN: the BI image (already rounded) plus Gaussian noise of standard deviation 30 on the
  0-255 scale, rounded and clipped. Test data passes a generator with a fixed seed so every
  run sees the same noise; training passes none (or its own) and gets fresh noise.

Rounding is MATLAB's (half away from zero) wherever MATLAB rounds, so a value landing exactly
on .5 is resolved the way the published test data was.
"""

from __future__ import annotations

import numpy as np

from srcli.errors import ConfigError
from srcli.imaging.resize import imresize, modcrop

DEGRADATIONS = ("bi", "bd", "dn")
BD_KERNEL_SIZE = 7
BD_SIGMA = 1.6
DN_SIGMA = 30.0


def _int_range(dtype: np.dtype) -> tuple[int, int]:
    if not np.issubdtype(dtype, np.integer):
        raise ValueError(f"degradations expect an integer image (uint8/uint16), got {dtype}")
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _round_clip(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """MATLAB's conversion of a float result back to an integer class."""
    lo, hi = _int_range(dtype)
    return np.clip(np.floor(x + 0.5), lo, hi).astype(dtype)


def degrade_bi(hr: np.ndarray, scale: int) -> np.ndarray:
    """BI degradation of an integer H×W(×C) image."""
    return imresize(modcrop(hr, scale), 1.0 / scale)


def gaussian_kernel(size: int = BD_KERNEL_SIZE, sigma: float = BD_SIGMA) -> np.ndarray:
    """1-D factor of MATLAB `fspecial('gaussian', size, sigma)` (the 2-D kernel is its outer
    product: both are normalised to sum 1, so the factorisation is exact)."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    k = np.exp(-(r * r) / (2.0 * sigma * sigma))
    return k / k.sum()


def gaussian_blur(img: np.ndarray, size: int = BD_KERNEL_SIZE,
                  sigma: float = BD_SIGMA) -> np.ndarray:
    """Blur with replicate padding, computed in float64; integer images come back rounded
    and clipped to their type (as `imfilter` does), float images as float64."""
    k = gaussian_kernel(size, sigma)
    half = size // 2
    x = img.astype(np.float64)
    pad = [(half, half), (half, half)] + [(0, 0)] * (x.ndim - 2)
    p = np.pad(x, pad, mode="edge")
    h, w = x.shape[:2]
    rows = sum(k[i] * p[i : i + h] for i in range(size))  # vertical pass
    out = sum(k[i] * rows[:, i : i + w] for i in range(size))  # horizontal pass
    assert isinstance(out, np.ndarray)
    return _round_clip(out, img.dtype) if np.issubdtype(img.dtype, np.integer) else out


def nearest_downscale(img: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB `imresize(img, 1/scale, 'nearest')` for an image whose sides divide by scale."""
    off = scale // 2
    return img[off::scale, off::scale]


def degrade_bd(hr: np.ndarray, scale: int) -> np.ndarray:
    """BD degradation: Gaussian blur (7×7, σ 1.6, replicate) then nearest 1/scale."""
    return nearest_downscale(gaussian_blur(modcrop(hr, scale)), scale)


def add_noise(lr: np.ndarray, rng: np.random.Generator, sigma: float = DN_SIGMA) -> np.ndarray:
    """DN noise: Gaussian with std `sigma` on the 0-255 scale (so ×257 for uint16), rounded
    and clipped to the image's integer type."""
    unit = 257.0 if lr.dtype == np.uint16 else 1.0
    noisy = lr.astype(np.float64) + rng.normal(0.0, sigma * unit, size=lr.shape)
    return _round_clip(noisy, lr.dtype)


def degrade_dn(hr: np.ndarray, scale: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """DN degradation: BI, then noise from `rng` (a fresh, unseeded generator when None)."""
    return add_noise(degrade_bi(hr, scale), rng if rng is not None else np.random.default_rng())


def degrade(hr: np.ndarray, scale: int, kind: str = "bi",
            rng: np.random.Generator | None = None) -> np.ndarray:
    """LR image for degradation `kind` (bi | bd | dn) of an integer H×W(×C) image.

    `rng` only matters for dn: pass a seeded generator for reproducible test data.
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    _int_range(hr.dtype)
    if kind == "bi":
        return degrade_bi(hr, scale)
    if kind == "bd":
        return degrade_bd(hr, scale)
    if kind == "dn":
        return degrade_dn(hr, scale, rng)
    raise ConfigError(f"unknown degradation {kind!r} (use one of {', '.join(DEGRADATIONS)})")
