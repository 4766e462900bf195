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

REAL (srcli's own, for photos as people have them): a first-order pipeline in the order of
Real-ESRGAN's first stage and BSRGAN (blur -> downscale -> noise -> JPEG), with ranges chosen
for ordinary camera/phone photos and web JPEGs rather than for "any image on the internet", so
the weights trained on it stay PSNR-oriented and lose little on clean inputs:

- blur, probability 0.7, on the HR image: Gaussian with σ drawn uniformly in
  [0.2, 0.5·scale] HR pixels per axis; isotropic (one σ) 60 % of the time, anisotropic (two σ,
  rotated by θ uniform in [0, π)) 40 %; kernel radius ceil(2.5σ), replicate padding, rounded to
  the image type. Why: lens softness, focus and demosaicing spread a point over about one
  sensor pixel; 0.5·scale is the BD setting's σ 1.6 at ×3 (the literature's strong blur), and
  the lower end is nearly sharp. Real-ESRGAN goes to σ 3 at ×4 and adds sinc/plateau kernels,
  which suit generative training, not PSNR.
- downscale: MATLAB bicubic by 1/scale (exactly BI's `imresize`).
- Gaussian noise, probability 0.5: σ uniform in [1, 12] on the 0-255 scale, gray (one value
  for all channels, like luminance noise) 40 % of the time, colour otherwise. Why: daylight
  and indoor phone photos after in-camera denoising measure σ ≈ 1-8; 12 covers dim scenes.
  DN's σ 30 (and Real-ESRGAN's 1-30) is a stress test, far noisier than ordinary photos.
- JPEG, probability 0.8: quality uniform integer in [35, 95], Pillow/libjpeg with its
  default 4:2:0 chroma subsampling, encoded and decoded in memory. Why: cameras save at
  90-95, social sites and messengers re-encode at 70-85, and 35-50 is the heavily compressed
  end worth undoing; below 35 blocks dominate and detail is gone for any PSNR model
  (Real-ESRGAN uses 30-95). 16-bit images are compressed at 8 bits and scaled back.

Every random choice is drawn from the generator passed in, in a fixed order (all parameters
first, then the noise field), so a seeded generator gives bit-identical LR images.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PIL import Image

from srcli.errors import ConfigError
from srcli.imaging.resize import cubic, imresize, modcrop
from srcli.vocabulary import DEGRADATIONS

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


# --------------------------------------------------------------------------- real

REAL_BLUR_PROB = 0.7
REAL_ANISO_PROB = 0.4  # of the blurred images
REAL_BLUR_SIGMA = (0.2, 0.5)  # (HR pixels, × scale): σ in [0.2, 0.5·scale]
REAL_NOISE_PROB = 0.5
REAL_NOISE_SIGMA = (1.0, 12.0)  # on the 0-255 scale
REAL_GRAY_NOISE_PROB = 0.4
REAL_JPEG_PROB = 0.8
REAL_JPEG_QUALITY = (35, 95)  # inclusive
#: LR pixels of context around a training patch: bicubic 1/s reaches 1.5·s HR pixels beyond
#: an output's cell and the blur at most ceil(1.25·s) more, under 4·s in all.
REAL_MARGIN = 4


@dataclass(frozen=True)
class RealParams:
    """One draw of the REAL pipeline's parameters; a step that is off has None."""

    blur: tuple[float, float, float] | None  # (σ along θ, σ across, θ radians), HR pixels
    noise: tuple[float, bool] | None  # (σ on 0-255, gray)
    jpeg: int | None  # quality


def sample_real(rng: np.random.Generator, scale: int) -> RealParams:
    """Draw the parameters; always the same number of draws, so each step's values do not
    depend on whether another step is on."""
    u = rng.random(7)
    lo, hi = REAL_BLUR_SIGMA[0], REAL_BLUR_SIGMA[1] * scale
    s1, s2 = lo + (hi - lo) * u[2], lo + (hi - lo) * u[3]
    if u[1] >= REAL_ANISO_PROB:
        s2 = s1
    sigma_n = REAL_NOISE_SIGMA[0] + (REAL_NOISE_SIGMA[1] - REAL_NOISE_SIGMA[0]) * u[5]
    quality = int(rng.integers(REAL_JPEG_QUALITY[0], REAL_JPEG_QUALITY[1] + 1))
    theta = float(rng.uniform(0.0, math.pi))
    return RealParams(
        blur=(float(s1), float(s2), theta) if u[0] < REAL_BLUR_PROB else None,
        noise=(float(sigma_n), bool(u[6] < REAL_GRAY_NOISE_PROB))
        if u[4] < REAL_NOISE_PROB else None,
        jpeg=quality if rng.random() < REAL_JPEG_PROB else None)


def real_radius(sigma: float) -> int:
    """Blur kernel radius ceil(2.5σ): keeps 98.8 % of the Gaussian's mass along an axis, and
    keeps the kernel of σ 2 (the ×4 maximum) at 11×11, the largest that OpenCV's filter2D
    runs directly (13×13 switches to its DFT path, 3-4× slower on a training patch)."""
    return math.ceil(2.5 * sigma)


def anisotropic_kernel(s1: float, s2: float, theta: float) -> np.ndarray:
    """2-D Gaussian with σ `s1` along direction θ and `s2` across it, radius
    `real_radius(max σ)`, normalised to sum 1 (float32, for OpenCV)."""
    r = real_radius(max(s1, s2))
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * x + s * y, -s * x + c * y  # coordinates along / across θ
    k = np.exp(-0.5 * ((u / s1) ** 2 + (v / s2) ** 2))
    return (k / k.sum()).astype(np.float32)


def _blur_f32(x: np.ndarray, blur: tuple[float, float, float], top: float) -> np.ndarray:
    """Blur a float32 image with replicate padding, rounded and clipped to [0, top] as an
    integer image would be. The isotropic case runs as two 1-D passes (much cheaper)."""
    s1, s2, _ = blur
    if s1 == s2:
        k = gaussian_kernel(2 * real_radius(s1) + 1, s1).astype(np.float32)
        x = cv2.sepFilter2D(x, -1, k, k, borderType=cv2.BORDER_REPLICATE)
    else:
        x = cv2.filter2D(x, -1, anisotropic_kernel(*blur), borderType=cv2.BORDER_REPLICATE)
    np.add(x, np.float32(0.5), out=x)  # in place: this is a full-resolution array
    np.floor(x, out=x)
    return np.clip(x, 0, top, out=x)


def _blur_real(img: np.ndarray, blur: tuple[float, float, float]) -> np.ndarray:
    top = float(np.iinfo(img.dtype).max)
    return _blur_f32(img.astype(np.float32), blur, top).astype(img.dtype)


def _noise_real(lr: np.ndarray, rng: np.random.Generator, sigma: float,
                gray: bool) -> np.ndarray:
    unit = 257.0 if lr.dtype == np.uint16 else 1.0
    shape = lr.shape[:2] + ((1,) if gray and lr.ndim == 3 else lr.shape[2:])
    n = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma * unit)
    return _round_clip(lr.astype(np.float32) + n, lr.dtype)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode with Pillow at `quality` (4:2:0 for colour) and decode, in memory; 16-bit
    images go through 8 bits."""
    deep = img.dtype == np.uint16
    x = np.floor(img / 257.0 + 0.5).astype(np.uint8) if deep else img
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(x)).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        out = np.array(im)  # a writable copy (torch.from_numpy warns on read-only arrays)
    return (out.astype(np.uint16) * 257) if deep else out


def _real_tail(lr: np.ndarray, p: RealParams, rng: np.random.Generator) -> np.ndarray:
    """The LR-side steps: noise, then JPEG."""
    if p.noise is not None:
        lr = _noise_real(lr, rng, *p.noise)
    return jpeg_roundtrip(lr, p.jpeg) if p.jpeg is not None else lr


def degrade_real(hr: np.ndarray, scale: int, rng: np.random.Generator | None = None,
                 params: RealParams | None = None) -> np.ndarray:
    """REAL degradation of a whole image (parameters drawn from `rng` unless given)."""
    rng = rng if rng is not None else np.random.default_rng()
    p = params if params is not None else sample_real(rng, scale)
    x = modcrop(hr, scale)
    if p.blur is not None:
        x = _blur_real(x, p.blur)
    return _real_tail(imresize(x, 1.0 / scale), p, rng)


@functools.lru_cache(maxsize=16)
def _bicubic_taps(scale: int) -> tuple[int, np.ndarray]:
    """MATLAB's antialiased bicubic 1/scale as a fixed filter: output i (0-based) is
    sum_j w[j] · x[i·scale + first + j] over the mirrored input. Every output row of
    `contributions` has these same weights for an integer factor (only the folding of
    indices at the edges differs), so a strided filter reproduces `imresize`."""
    centre = 0.5 * scale - 0.5  # position of output 0 in input coordinates, 0-based
    first = math.floor(centre - 2 * scale) + 1
    q = np.arange(first, math.ceil(centre + 2 * scale))
    w = cubic(torch.from_numpy((centre - q) / scale)).numpy() / scale
    nz = np.flatnonzero(w)  # trim zero end taps; inner zeros (cubic(±1) at ×3) stay in place
    w = w[nz[0] : nz[-1] + 1]
    return int(q[nz[0]]), (w / w.sum()).astype(np.float32)


def _downscale_axis(x: np.ndarray, axis: int, scale: int, top: float) -> np.ndarray:
    """One pass: OpenCV filters every row (or column) with the taps, SIMD-fast, and every
    scale-th result is kept; BORDER_REFLECT is MATLAB's mirror (..., x1, x0 | x0, x1, ...)."""
    first, w = _bicubic_taps(scale)
    a = len(w) // 2  # OpenCV's anchor: result r = sum_j w[j] · x[r - a + j]
    k, anchor = (w[:, None], (0, a)) if axis == 0 else (w[None, :], (a, 0))
    y = cv2.filter2D(x, -1, k, anchor=anchor, borderType=cv2.BORDER_REFLECT)
    n = x.shape[axis] // scale
    keep = slice(first + a, first + a + (n - 1) * scale + 1, scale)  # first + a >= 0
    y = y[keep] if axis == 0 else y[:, keep]
    return np.clip(np.floor(y + np.float32(0.5)), 0, top)  # MATLAB rounds after each pass


def fast_downscale(img: np.ndarray, scale: int, top: float | None = None) -> np.ndarray:
    """`imresize(img, 1/scale)` of an image whose sides divide by `scale`, in float32 with
    OpenCV filters: about 10× faster than the exact float64 `imresize` and equal to it but
    for rare ±1 differences where float32 rounding meets a .5 tie. Integer images come back
    in their type; float32 images holding integer values in [0, top] stay float32. Used for
    training patches, where speed matters and a tie's rounding does not."""
    if top is None:
        top = float(np.iinfo(img.dtype).max)
    x = img.astype(np.float32, copy=False)
    x = _downscale_axis(_downscale_axis(x, 0, scale, top), 1, scale, top)  # height first
    return x if img.dtype == np.float32 else x.astype(img.dtype)


def degrade_real_patch(hr: np.ndarray, scale: int, y: int, x: int, size: int,
                       rng: np.random.Generator) -> np.ndarray:
    """REAL LR patch size×size at LR position (y, x) of `hr` (sides multiples of `scale`).

    Blur and downscale run on the patch plus REAL_MARGIN LR pixels of real context (clipped
    at the image's edges), so the patch matches the whole image's degradation up to float
    rounding, at a fraction of the cost; noise and JPEG (8×8 grid on the patch) come after.
    """
    p = sample_real(rng, scale)
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    y0, x0 = max(y - REAL_MARGIN, 0), max(x - REAL_MARGIN, 0)
    y1, x1 = min(y + size + REAL_MARGIN, h), min(x + size + REAL_MARGIN, w)
    top = float(np.iinfo(hr.dtype).max)
    region = hr[y0 * scale : y1 * scale, x0 * scale : x1 * scale].astype(np.float32)
    if p.blur is not None:
        region = _blur_f32(region, p.blur, top)
    lr = fast_downscale(region, scale, top)[y - y0 : y - y0 + size, x - x0 : x - x0 + size]
    return _real_tail(lr.astype(hr.dtype), p, rng)


def degrade(hr: np.ndarray, scale: int, kind: str = "bi",
            rng: np.random.Generator | None = None) -> np.ndarray:
    """LR image for degradation `kind` (bi | bd | dn | real) of an integer H×W(×C) image.

    `rng` only matters for dn and real: pass a seeded generator for reproducible test data.
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
    if kind == "real":
        return degrade_real(hr, scale, rng)
    raise ConfigError(f"unknown degradation {kind!r} (use one of {', '.join(DEGRADATIONS)})")
