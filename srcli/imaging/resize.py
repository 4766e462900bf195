"""MATLAB-compatible bicubic `imresize`, the resize every published SR number depends on.

Conventions of MATLAB's `imresize(img, s, 'bicubic')` (Antialiasing on), all reproduced:

- Keys cubic kernel with a = -0.5, support 4 pixels.
- Shrinking by s < 1 widens the kernel to 4/s pixels and scales it by s (antialiasing).
- Output size ceil(in · s); output pixel x (1-based) samples input u = x/s + (1 - 1/s)/2.
- Edges are mirrored symmetrically (..., 2, 1, 1, 2, ...), weights renormalised to sum 1,
  as current MATLAB does. `edge="replicate"` clamps instead, like the older MATLAB that made
  the SelfExSR LR files the literature evaluates on: with it those files are reproduced
  bit-exactly (tests/test_resize.py); the two rules differ only near the border.
- Rounding (integer images) is MATLAB's: half away from zero, not numpy's half to even.
- The two axes are resized one after the other, the one with the smaller factor first (height
  first on a tie). MATLAB keeps the image's class between the two passes, so a uint8/uint16
  image is rounded and clipped after each pass; float images are never rounded. Measured on
  the MATLAB-made Set5/Set14 LR references: 98.6-99.2 % of pixels bit-exact with the
  intermediate rounding, only 85-89 % without it (tests/test_resize.py).

OpenCV, Pillow and torch bicubic all differ from this (different a, no antialiasing or a
different edge rule), which is why LR inputs made with them shift published PSNR numbers.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

ArrayLike = np.ndarray | Tensor


def cubic(x: Tensor) -> Tensor:
    """Keys (1981) cubic convolution kernel with a = -0.5, as MATLAB's `cubic`."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


@functools.lru_cache(maxsize=256)
def contributions(in_len: int, out_len: int, scale: float, antialias: bool = True,
                  edge: str = "mirror") -> tuple[Tensor, Tensor]:
    """Per output pixel: the input indices (0-based, inside the image) and their weights.

    Returns (indices [out_len, P] int64, weights [out_len, P] float64). Cached: benchmark
    sets repeat a handful of image sizes, and this is a large part of a small resize.
    """
    kernel_width = 4.0
    shrink = scale < 1 and antialias
    if shrink:
        kernel_width /= scale
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left.unsqueeze(1) + torch.arange(taps, dtype=torch.float64).unsqueeze(0)
    dist = u.unsqueeze(1) - idx
    w = scale * cubic(dist * scale) if shrink else cubic(dist)
    w = w / w.sum(dim=1, keepdim=True)
    if edge == "mirror":  # 1-based indices folded into [1, n] by aux = [1..n, n..1]
        aux = torch.cat([torch.arange(in_len), torch.arange(in_len - 1, -1, -1)])
        inside = aux[torch.remainder(idx.long() - 1, 2 * in_len)]
    elif edge == "replicate":
        inside = (idx.long() - 1).clamp(0, in_len - 1)
    else:
        raise ValueError(f"edge must be 'mirror' or 'replicate', not {edge!r}")
    keep = (w != 0).any(dim=0)  # MATLAB drops all-zero tap columns
    return inside[:, keep], w[:, keep]


def matlab_round(x: Tensor) -> Tensor:
    """MATLAB's round: halves go away from zero (torch.round goes to even)."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def _resize_axis(x: Tensor, axis: int, out_len: int, scale: float, antialias: bool,
                 edge: str) -> Tensor:
    idx, w = contributions(x.shape[axis], out_len, scale, antialias, edge)
    w = w.to(dtype=x.dtype, device=x.device)
    idx = idx.to(x.device)
    out = None
    # One gather per tap keeps memory at O(output) even for very large images.
    for p in range(idx.shape[1]):
        shape = [1] * x.ndim
        shape[axis] = out_len
        term = x.index_select(axis, idx[:, p]) * w[:, p].view(shape)
        out = term if out is None else out + term
    assert out is not None
    return out


def output_size(in_hw: tuple[int, int], scale: float) -> tuple[int, int]:
    return math.ceil(in_hw[0] * scale), math.ceil(in_hw[1] * scale)


def imresize_tensor(x: Tensor, scale: float | None = None,
                    size: tuple[int, int] | None = None, antialias: bool = True,
                    int_range: tuple[int, int] | None = None, edge: str = "mirror") -> Tensor:
    """Resize the last two axes of a float tensor (..., H, W) like MATLAB.

    `int_range` (lo, hi) emulates an integer image: round and clip after each axis pass.
    """
    h, w = x.shape[-2:]
    if size is None:
        if scale is None:
            raise ValueError("give scale or size")
        size = output_size((h, w), scale)
        sh = sw = scale
    else:
        sh, sw = (scale, scale) if scale is not None else (size[0] / h, size[1] / w)
    # MATLAB resizes the axis with the smaller factor first (height on a tie).
    order = [(-2, size[0], sh), (-1, size[1], sw)]
    if sw < sh:
        order.reverse()
    for axis, n, s in order:
        x = _resize_axis(x, x.ndim + axis, n, s, antialias, edge)
        if int_range is not None:
            x = matlab_round(x).clamp(*int_range)
    return x


def imresize(img: np.ndarray, scale: float | None = None,
             size: tuple[int, int] | None = None, antialias: bool = True,
             edge: str = "mirror") -> np.ndarray:
    """MATLAB `imresize(img, scale, 'bicubic')` on an H×W or H×W×C array.

    Computed in float64; uint8/uint16 inputs come back rounded and clipped to their type,
    float inputs come back as float64 without clipping.
    """
    if img.ndim not in (2, 3):
        raise ValueError(f"expected H×W or H×W×C image, got shape {img.shape}")
    int_range = None
    if np.issubdtype(img.dtype, np.integer):
        info = np.iinfo(img.dtype)
        int_range = (int(info.min), int(info.max))
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float64))
    if img.ndim == 3:
        t = t.permute(2, 0, 1)
    y = imresize_tensor(t, scale, size, antialias, int_range, edge)
    if img.ndim == 3:
        y = y.permute(1, 2, 0)
    return y.numpy().astype(img.dtype) if int_range else y.numpy()


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop H and W down to multiples of `scale`, keeping the top-left corner."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]
