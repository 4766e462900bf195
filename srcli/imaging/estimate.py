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
- Blockiness: the 8×8 grid a JPEG leaves, for images re-saved losslessly (PNG) after a JPEG.
  Mean absolute luma step across the block boundaries over the median step at the other 7
  phases, the weaker of the two directions (a real grid shows in both). Only the grid of an
  uncropped re-save (boundaries after pixel 7, 15, ...) is looked for: scoring the
  strongest phase instead also fires on clean downscales of JPEG photos (BSD100), whose
  8-px grid becomes a 4-px one at ×2.
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
Y_WEIGHTS = np.array([65.481, 128.553, 24.966], np.float32) / 255.0  # BT.601, as the metrics


def ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    """libjpeg's table for `quality` (1-100), baseline-limited to 1..255."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality  # integer, as libjpeg
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


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
    h, w = a.shape[0] - a.shape[0] % b, a.shape[1] - a.shape[1] % b
    return a[:h, :w].reshape(h // b, b, w // b, b).mean(axis=(1, 3)).ravel()


def _channel_sigma(x: np.ndarray, top: float) -> float | None:
    r = NOISE_MASK.shape[0] // 2
    resp = np.abs(cv2.filter2D(x, -1, NOISE_MASK))[r:-r, r:-r]
    smooth = cv2.GaussianBlur(x, (0, 0), 1.0)
    grad = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    clipped = cv2.dilate(((x <= 0) | (x >= top)).astype(np.uint8), np.ones((5, 5), np.uint8))
    sig = _blocks(resp, NOISE_BLOCK) * math.sqrt(math.pi / 2) / 70.0
    if sig.size < NOISE_MIN_BLOCKS:
        return None
    g = _blocks(grad[r:-r, r:-r], NOISE_BLOCK)
    ok = _blocks(clipped[r:-r, r:-r].astype(np.float32), NOISE_BLOCK) == 0
    if ok.sum() < 4:  # nearly all clipped: use every block rather than none
        ok[:] = True
    sig, g = sig[ok], g[ok]
    if sig.size == 0:
        return None
    k = max(1, round(sig.size * NOISE_FLAT_FRACTION))
    return float(np.median(sig[np.argsort(g, kind="stable")[:k]]))


def noise_sigma(pixels: np.ndarray) -> float:
    """Noise std on the 0-255 scale (median over channels); 0.0 for images too small to
    measure (under NOISE_MIN_BLOCKS blocks of 8×8 px: on ~32-64 px thumbnails texture
    fills every block and the estimate reads 8-23 on clean downscales)."""
    x, top = _to_255(_centre(pixels))
    vals = [_channel_sigma(np.ascontiguousarray(x[..., c]), top)
            for c in range(min(x.shape[2], 3))]
    good = [v for v in vals if v is not None]
    return float(np.median(good)) if good else 0.0


def _luma(pixels: np.ndarray) -> np.ndarray:
    x, _ = _to_255(_centre(pixels))
    return x[..., 0] if x.shape[2] < 3 else x[..., :3] @ Y_WEIGHTS


def blockiness(pixels: np.ndarray) -> float:
    """8×8 grid strength: mean |luma step| across the JPEG block boundaries (between pixels
    7 and 8 of every block, the grid of an uncropped re-save) over the median of the other
    7 phases, the weaker of the two directions. About 1.0 (0.85-1.1) without a grid."""
    y = _luma(pixels)
    scores = []
    for d in (np.abs(np.diff(y, axis=1)), np.abs(np.diff(y, axis=0)).T):
        n = d.shape[1] - d.shape[1] % 8
        if n < 16:
            return 1.0
        phase = d[:, :n].reshape(d.shape[0], n // 8, 8).mean(axis=(0, 1))
        scores.append(float(phase[7] / max(float(np.median(phase[:7])), 1e-6)))
    return min(scores)


@dataclass(frozen=True)
class Measurement:
    noise_sigma: float
    jpeg_quality: int | None  # from the file's tables; None when not a JPEG
    jpeg_exact: bool  # tables are exactly libjpeg's at that quality
    blockiness: float

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["noise_sigma"] = round(self.noise_sigma, 2)
        d["blockiness"] = round(self.blockiness, 3)
        return d


def measure(pixels: np.ndarray, path: str | Path | None = None) -> Measurement:
    """Every estimate for one image (`path` gives the JPEG tables when it is a JPEG)."""
    jq = file_jpeg_quality(path) if path is not None else None
    return Measurement(noise_sigma(pixels), jq.quality if jq else None,
                       bool(jq and jq.exact), blockiness(pixels))
