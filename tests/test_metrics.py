"""PSNR/SSIM conventions: BT.601 Y, crop, grayscale, bit depth, and SSIM against a direct
implementation of Wang et al.'s formula (no OpenCV filtering)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from srcli.imaging.color import rgb_to_y
from srcli.imaging.degrade import degrade_bi
from srcli.imaging.resize import imresize, modcrop
from srcli.metrics import psnr, ssim


@pytest.fixture(scope="module")
def pair(benchmark_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(bicubic x3 SR, HR) of Set5 img_003 (butterfly), both uint8 RGB."""
    hr = modcrop(np.asarray(Image.open(benchmark_dir / "Set5" / "HR" / "img_003.png")), 3)
    return imresize(degrade_bi(hr, 3), 3), hr


def _ssim_direct(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM from the definition: every valid 11×11 window, Gaussian weights σ = 1.5."""
    r = np.arange(11) - 5
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
    w = g / g.sum()
    wa, wb = sliding_window_view(a, (11, 11)), sliding_window_view(b, (11, 11))
    mu_a = np.einsum("ijkl,kl->ij", wa, w)
    mu_b = np.einsum("ijkl,kl->ij", wb, w)
    var_a = np.einsum("ijkl,kl->ij", wa * wa, w) - mu_a**2
    var_b = np.einsum("ijkl,kl->ij", wb * wb, w) - mu_b**2
    cov = np.einsum("ijkl,kl->ij", wa * wb, w) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float((num / den).mean())


def test_y_is_bt601_studio_swing() -> None:
    px = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]],
                  np.uint8)
    y = rgb_to_y(px)[0]
    assert y == pytest.approx([16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966], abs=1e-12)


def test_psnr_of_a_known_y_offset(pair: tuple[np.ndarray, np.ndarray]) -> None:
    _, hr = pair
    hr = np.clip(hr, 1, 254)
    plus1 = hr + np.uint8(1)  # every RGB value +1 -> Y + 219/255 everywhere
    assert psnr(plus1, hr) == pytest.approx(20 * math.log10(255 / (219 / 255)), abs=1e-9)
    assert psnr(plus1, hr, y_channel=False) == pytest.approx(20 * math.log10(255), abs=1e-9)
    assert psnr(hr, hr) == math.inf
    assert ssim(hr, hr) == pytest.approx(1.0, abs=1e-12)


def test_crop_removes_the_border(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    framed = hr.copy()
    framed[:3] = sr[:3]
    framed[-3:] = sr[-3:]
    framed[:, :3] = sr[:, :3]
    framed[:, -3:] = sr[:, -3:]
    assert psnr(framed, hr, crop=3) == math.inf
    assert psnr(framed, hr, crop=2) < 60
    assert ssim(framed, hr, crop=3) == pytest.approx(1.0, abs=1e-12)


def test_ssim_matches_the_definition(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    s, h = sr[:120, :150], hr[:120, :150]  # a corner keeps the direct version quick
    direct = _ssim_direct(rgb_to_y(s)[3:-3, 3:-3], rgb_to_y(h)[3:-3, 3:-3])
    assert ssim(s, h, crop=3) == pytest.approx(direct, abs=1e-9)
    rgb = np.mean([_ssim_direct(s[3:-3, 3:-3, c].astype(np.float64),
                                h[3:-3, 3:-3, c].astype(np.float64)) for c in range(3)])
    assert ssim(s, h, crop=3, y_channel=False) == pytest.approx(rgb, abs=1e-9)


def test_psnr_is_mse_in_float64_on_y(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    d = rgb_to_y(sr)[3:-3, 3:-3] - rgb_to_y(hr)[3:-3, 3:-3]
    expected = 10 * math.log10(255**2 / np.mean(d * d))
    assert psnr(sr, hr, crop=3) == pytest.approx(expected, abs=1e-12)
    assert 22.0 < expected < 26.0  # butterfly is the hardest Set5 image for bicubic x3


def test_grayscale_is_scored_on_its_intensity(benchmark_dir: Path) -> None:
    hr = modcrop(np.asarray(Image.open(benchmark_dir / "Set14" / "HR" / "img_003.png")), 2)
    assert hr.ndim == 2
    sr = imresize(degrade_bi(hr, 2), 2)
    d = sr[2:-2, 2:-2].astype(np.float64) - hr[2:-2, 2:-2]
    assert psnr(sr, hr, crop=2) == pytest.approx(10 * math.log10(255**2 / np.mean(d * d)))
    # Not through the Y formula: that would scale differences by 219/255 (+1.32 dB).
    as_rgb = np.repeat(sr[..., None], 3, 2), np.repeat(hr[..., None], 3, 2)
    assert psnr(*as_rgb, crop=2) - psnr(sr, hr, crop=2) == pytest.approx(
        20 * math.log10(255 / 219), abs=1e-9)
    assert ssim(sr[..., None], hr[..., None], crop=2) == pytest.approx(ssim(sr, hr, crop=2))


def test_sixteen_bit_scores_like_eight_bit(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    sr16, hr16 = sr.astype(np.uint16) * 257, hr.astype(np.uint16) * 257
    assert psnr(sr16, hr16, crop=3) == pytest.approx(psnr(sr, hr, crop=3), abs=1e-9)
    assert ssim(sr16, hr16, crop=3) == pytest.approx(ssim(sr, hr, crop=3), abs=1e-12)


def test_bad_shapes_and_crops(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(sr[:-1], hr)
    with pytest.raises(ValueError, match="crop"):
        ssim(sr[:20, :20], hr[:20, :20], crop=5)
