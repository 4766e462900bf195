"""Blind measurements of what an input image went through, for `upscale --degradation auto`.

Torch-free and fast (a few ms on a photo): they run on every input before a model loads.

- Noise σ (0-255 scale): Immerkær's fast estimator (1996), restricted to flat regions. The
  image is filtered with a zero-mean high-pass mask that annihilates planes and low-order
  polynomials; for white Gaussian noise of std σ the filter output has std σ·‖mask‖, so
  σ = sqrt(π/2) · mean|output| / ‖mask‖. Immerkær's mask is the 3×3 outer product of
  [1, -2, 1]; we use the 5×5 outer product of [1, -4, 6, -4, 1] (‖mask‖ = 70), whose response
  sits closer to the Nyquist corner, where a bicubic-downscaled photo has little texture but
  white noise has as much energy as anywhere: on clean ×2/×4 downscales it measured about
  half the 3×3 mask's texture leak. Only the flattest 10 % of 8×8 blocks count (ranked by
  the gradient of a σ 1 smoothed copy, so noise does not choose its own blocks) and blocks
  touching clipped pixels (0 or full scale) are dropped, as clipping hides noise. Every
  channel is measured and the median kept: σ is the per-channel noise std.
- JPEG quality from the file's quantisation tables (Pillow `im.quantization`), matched
  against the IJG standard tables scaled by quality 1-100 (libjpeg's `jpeg_quality_scaling`).
  libjpeg/Pillow/most web encoders match one quality exactly; other encoders (cameras,
  Photoshop) get the nearest quality in the least-squares sense of log step sizes.
- Colour noise σ: the same estimator on two orthonormal opponent channels, (R-G)/√2 and
  (R+G-2B)/√6. Photographic texture is nearly the same in R, G and B, so it almost cancels
  there, while independent per-channel noise of std σ keeps std σ in each: fine grey texture
  (fur, stone, film grain) that reads σ 5-8 on the colour channels reads under 3 here, and
  σ 5 colour noise still reads about 5. Grey (luma-only) noise does not show here at all.
- JPEG grid (for pixels decoded from a JPEG and re-saved losslessly, e.g. as PNG): a JPEG
  stores each 8×8 block's DCT coefficients as multiples of its quantisation table, so the
  aligned 8×8 DCT of the decoded luma sits on that lattice up to the decoder's rounding
  (σ ≈ 0.35). For every libjpeg quality the score is the mean of cos(2π·c/step) over the
  distinct AC values with |c| > step/2 (those a JPEG kept as non-zero), less 3/sqrt(2n) for
  n values (what the best of ~100 qualities reaches by chance): near 1 on the lattice, at
  most ~0 off it. The best quality and its score are reported. Only the grid of an uncropped
  re-save (blocks starting at pixel 0) is looked for, and only libjpeg's tables (Pillow,
  most software); blocks with clipped pixels are left out.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

# IJG standard tables (JPEG spec Annex K), natural (row-major) order, as Pillow reports them.
IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)
IJG_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32, np.float64)

_D5 = np.array([1, -4, 6, -4, 1], np.float32)
NOISE_MASK = np.outer(_D5, _D5)  # ‖NOISE_MASK‖₂ = 70
NOISE_BLOCK = 8
NOISE_FLAT_FRACTION = 0.10
NOISE_MIN_BLOCKS = 64  # fewer (an image under ~70×70 px): too little flat area to trust
MAX_MEASURE_SIDE = 1024  # larger images are measured on their central crop (enough blocks)
# Orthonormal opponent axes: grey (R=G=B) maps to 0, i.i.d. channel noise keeps its std.
OPPONENT = np.array([[1, -1, 0], [1, 1, -2]], np.float32).T / np.array(
    [math.sqrt(2), math.sqrt(6)], np.float32)
JFIF_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # the Y a JPEG encoder quantises
_K = np.arange(8)
DCT8 = (np.sqrt(2 / 8) * np.cos((2 * _K[None, :] + 1) * _K[:, None] * np.pi / 16)).astype(
    np.float32)
DCT8[0] /= np.sqrt(2)  # orthonormal DCT-II: JPEG's FDCT, so quantised values are k·step
GRID_MAX_BLOCKS = 2048  # ~130k AC coefficients: plenty, and bounded time on big images
GRID_MIN_COEFS = 8  # fewer distinct non-zero coefficients at a quality: no verdict for it
GRID_QUALITIES = tuple(range(5, 100))  # 100 is all steps 1: no lattice to see


def ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    """libjpeg's table for `quality` (1-100), baseline-limited to 1..255."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality  # integer, as libjpeg
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


GRID_STEPS = tuple(ijg_table(IJG_LUMA, q)[1:].astype(np.float32) for q in GRID_QUALITIES)


@dataclass(frozen=True)
class JpegQuality:
    quality: int
    exact: bool  # the tables are exactly libjpeg's at this quality


def jpeg_quality(tables: dict[int, Any]) -> JpegQuality | None:
    """Nearest IJG quality for quantisation tables ({0: luma 64, 1: chroma 64, ...})."""
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    luma = np.asarray(tables[0], np.float64)
    chroma = np.asarray(tables[1], np.float64) if 1 in tables and len(tables[1]) == 64 else None
    best: tuple[float, int, bool] | None = None
    for q in range(1, 101):
        tl = ijg_table(IJG_LUMA, q)
        exact = bool(np.array_equal(tl, luma))
        err = float(np.sum((np.log(tl) - np.log(luma)) ** 2))
        if chroma is not None:
            tc = ijg_table(IJG_CHROMA, q)
            exact = exact and bool(np.array_equal(tc, chroma))
            err += float(np.sum((np.log(tc) - np.log(chroma)) ** 2))
        if best is None or err < best[0]:
            best = (err, q, exact)
    assert best is not None
    return JpegQuality(best[1], best[2])


def file_jpeg_quality(path: str | Path) -> JpegQuality | None:
    """JPEG quality of a file, or None when it is not a JPEG (or has no tables)."""
    try:
        with Image.open(path) as im:
            if im.format != "JPEG":
                return None
            return jpeg_quality(getattr(im, "quantization", None) or {})
    except OSError:
        return None


def _to_255(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """H×W×C float32 on the 0-255 scale and its clip value (floats in [0, 1] are scaled)."""
    x = pixels if pixels.ndim == 3 else pixels[..., None]
    if x.dtype == np.uint16:
        return x.astype(np.float32) / np.float32(257.0), 65535 / 257.0
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32) * np.float32(255.0), 255.0
    return x.astype(np.float32), 255.0


def _centre(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    y0, x0 = max(0, (h - MAX_MEASURE_SIDE) // 2), max(0, (w - MAX_MEASURE_SIDE) // 2)
    return x[y0 : y0 + MAX_MEASURE_SIDE, x0 : x0 + MAX_MEASURE_SIDE]


def _blocks(a: np.ndarray, b: int) -> np.ndarray:
    """Means of the b×b blocks (row-major, the ragged edge dropped)."""
    h, w = a.shape[0] - a.shape[0] % b, a.shape[1] - a.shape[1] % b
    if h == 0 or w == 0:
        return np.zeros(0, np.float32)
    # INTER_AREA at an integer factor is the block mean, several times faster than numpy
    return cv2.resize(a[:h, :w], (w // b, h // b), interpolation=cv2.INTER_AREA).ravel()


def _usable_blocks(clipped: np.ndarray) -> np.ndarray:
    """Per 8×8 block of the filter responses (image less a 2-px border): True where no
    pixel within the 5×5 mask's reach is clipped (clipping hides noise)."""
    r = NOISE_MASK.shape[0] // 2
    near = cv2.dilate(clipped.astype(np.uint8), np.ones((5, 5), np.uint8))[r:-r, r:-r]
    return _blocks(near.astype(np.float32), NOISE_BLOCK) == 0


def _flat_sigma(x: np.ndarray, usable: np.ndarray) -> float | None:
    """Immerkær σ of one channel over its flattest NOISE_FLAT_FRACTION of 8×8 blocks
    among the `usable` ones (see _usable_blocks)."""
    r = NOISE_MASK.shape[0] // 2
    resp = np.abs(cv2.sepFilter2D(x, -1, _D5, _D5)[r:-r, r:-r])  # NOISE_MASK, separably
    sig = _blocks(resp, NOISE_BLOCK) * np.float32(math.sqrt(math.pi / 2) / 70.0)
    if sig.size < NOISE_MIN_BLOCKS:
        return None
    smooth = cv2.GaussianBlur(x, (0, 0), 1.0)
    grad = cv2.magnitude(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    g = _blocks(grad[r:-r, r:-r], NOISE_BLOCK)
    ok = usable.copy()
    if ok.sum() < 4:  # nearly all clipped: use every block rather than none
        ok[:] = True
    sig, g = sig[ok], g[ok]
    k = max(1, round(sig.size * NOISE_FLAT_FRACTION))
    return float(np.median(sig[np.argsort(g, kind="stable")[:k]]))


def _clipped(x: np.ndarray, top: float) -> np.ndarray:
    return (x <= 0) | (x >= top)


def noise_sigma(pixels: np.ndarray) -> float:
    """Noise std on the 0-255 scale (median over channels); 0.0 for images too small to
    measure (under NOISE_MIN_BLOCKS blocks of 8×8 px: on ~32-64 px thumbnails texture
    fills every block and the estimate reads 8-23 on clean downscales)."""
    x, top = _to_255(_centre(pixels))
    vals = [_flat_sigma(np.ascontiguousarray(x[..., c]), _usable_blocks(_clipped(x[..., c], top)))
            for c in range(min(x.shape[2], 3))]
    good = [v for v in vals if v is not None]
    return float(np.median(good)) if good else 0.0


def chroma_noise_sigma(pixels: np.ndarray) -> float:
    """Per-channel noise std seen on the opponent channels (mean of the two); 0.0 for grey
    images and for images too small to measure. Blocks touching a clipped pixel in any
    channel are skipped."""
    x, top = _to_255(_centre(pixels))
    if x.shape[2] < 3:
        return 0.0
    usable = _usable_blocks(_clipped(x[..., :3], top).any(axis=2))
    opp = x[..., :3] @ OPPONENT
    vals = [_flat_sigma(np.ascontiguousarray(opp[..., c]), usable) for c in range(2)]
    good = [v for v in vals if v is not None]
    return float(np.mean(good)) if len(good) == 2 else 0.0


def _block_dct(pixels: np.ndarray) -> np.ndarray:
    """AC coefficients (n×63) of the 8×8 DCT of JFIF luma - 128 on the grid from pixel 0,
    at most GRID_MAX_BLOCKS blocks spread over the image; blocks with clipped pixels left
    out (clipping moves coefficients off the lattice)."""
    x, top = _to_255(_centre(pixels))
    y = (x[..., 0] if x.shape[2] < 3 else x[..., :3] @ JFIF_LUMA) - np.float32(128.0)
    clip = _clipped(x, top).any(axis=2)
    h, w = y.shape[0] - y.shape[0] % 8, y.shape[1] - y.shape[1] % 8
    blocks = y[:h, :w].reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2).reshape(-1, 8, 8)
    keep = ~clip[:h, :w].reshape(h // 8, 8, w // 8, 8).any(axis=(1, 3)).ravel()
    blocks = blocks[keep]
    if len(blocks) > GRID_MAX_BLOCKS:
        blocks = blocks[np.linspace(0, len(blocks) - 1, GRID_MAX_BLOCKS).astype(np.int64)]
    return (DCT8 @ blocks @ DCT8.T).reshape(-1, 64)[:, 1:]


@dataclass(frozen=True)
class GridMatch:
    quality: int  # the libjpeg quality whose luma lattice fits best
    score: float  # mean cos(2π·c/step) of its non-zero coefficients: ~1 on a lattice, ~0 off


def jpeg_grid(pixels: np.ndarray) -> GridMatch | None:
    """The JPEG quantisation lattice in decoded pixels (see the module notes); None when
    too few coefficients to judge (tiny or flat images)."""
    c = np.abs(_block_dct(pixels))
    # Each distinct (position, value to 1/4) once: ramps and flat graphics repeat a few
    # coefficient values in every block, which must not count as many lattice points.
    key = np.unique(np.arange(63) * 4096 + np.minimum(np.rint(c * 4), 4095).astype(np.int64))
    pos, val = key // 4096, (key % 4096).astype(np.float32) / 4
    best: GridMatch | None = None
    for q, steps in zip(GRID_QUALITIES, GRID_STEPS, strict=True):
        ph = val / steps[pos]
        big = (ph > 0.5) & (steps[pos] >= 2)  # a step of 1 leaves no lattice in 8-bit pixels
        n = int(big.sum())
        if n < GRID_MIN_COEFS:
            continue
        # Off a lattice the mean of n cosines has std ~1/sqrt(2n), and the best of ~100
        # qualities reaches ~3 of those: subtract that, so few coefficients (thumbnails,
        # heavy compression) must fit the lattice closely to score.
        score = float(np.cos(np.float32(2 * np.pi) * ph[big]).mean()) - 3 / math.sqrt(2 * n)
        if best is None or score > best.score:
            best = GridMatch(q, score)
    return best


@dataclass(frozen=True)
class Measurement:
    noise_sigma: float
    jpeg_quality: int | None  # from the file's tables; None when not a JPEG
    jpeg_exact: bool  # tables are exactly libjpeg's at that quality
    chroma_noise: float = 0.0  # noise σ on the opponent channels (colour noise)
    grid_quality: int | None = None  # libjpeg quality of the lattice in the pixels
    grid_score: float = 0.0  # how well the pixels sit on it (~1 decoded JPEG, ~0 not)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("noise_sigma", "chroma_noise"):
            d[k] = round(d[k], 2)
        d["grid_score"] = round(self.grid_score, 3)
        return d


def measure(pixels: np.ndarray, path: str | Path | None = None) -> Measurement:
    """Every estimate for one image (`path` gives the JPEG tables when it is a JPEG)."""
    jq = file_jpeg_quality(path) if path is not None else None
    grid = jpeg_grid(pixels)
    return Measurement(noise_sigma(pixels), jq.quality if jq else None, bool(jq and jq.exact),
                       chroma_noise_sigma(pixels), grid.quality if grid else None,
                       grid.score if grid else 0.0)
