"""BI/BD/DN degradations: geometry, MATLAB conventions and determinism, on real images."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from srcli.errors import ConfigError
from srcli.imaging.degrade import (
    add_noise,
    degrade,
    degrade_bi,
    gaussian_blur,
    gaussian_kernel,
    nearest_downscale,
)
from srcli.imaging.resize import imresize, modcrop

# sha256 of degrade(Set5 img_001 "baby", 3, "bd"): pins the BD bytes across versions.
BD_BABY_X3_SHA256 = "b4adbc234aa9d8d309d1042c98d7ccd80bff79b02b014be7aed293d4ac08f132"


@pytest.fixture(scope="module")
def baby(benchmark_dir: Path) -> np.ndarray:
    return np.asarray(Image.open(benchmark_dir / "Set5" / "HR" / "img_001.png"))


@pytest.fixture(scope="module")
def gray(benchmark_dir: Path) -> np.ndarray:
    img = np.asarray(Image.open(benchmark_dir / "Set14" / "HR" / "img_003.png"))
    assert img.ndim == 2
    return img


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_bi_is_matlab_imresize_of_modcrop(baby: np.ndarray) -> None:
    odd = baby[:301, :299]
    for s in (2, 3, 4):
        lr = degrade(odd, s, "bi")
        assert lr.shape == (301 // s, 299 // s, 3) and lr.dtype == np.uint8
        assert np.array_equal(lr, imresize(modcrop(odd, s), 1 / s))


def test_gaussian_kernel_is_fspecial_7_sigma_1_6() -> None:
    k = gaussian_kernel()
    assert k.shape == (7,) and k.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.allclose(k, k[::-1])
    assert np.allclose(k, cv2.getGaussianKernel(7, 1.6).ravel(), atol=1e-15)
    k2 = np.outer(k, k)  # fspecial normalises the 2-D kernel; the outer product already is
    r = np.arange(7) - 3
    direct = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.6**2))
    assert np.allclose(k2, direct / direct.sum(), atol=1e-15)


def test_blur_uses_replicate_padding_and_rounds(baby: np.ndarray) -> None:
    blurred = gaussian_blur(baby)
    ref = cv2.GaussianBlur(baby.astype(np.float64), (7, 7), 1.6, borderType=cv2.BORDER_REPLICATE)
    assert blurred.dtype == np.uint8
    assert np.array_equal(blurred, np.floor(ref + 0.5).astype(np.uint8))
    # Replicate, not mirror: a bright last column stays as bright as a constant plane would.
    edge = np.zeros((20, 20), np.uint8)
    edge[:, -1] = 200
    out = gaussian_blur(edge)
    k = gaussian_kernel()
    assert out[10, -1] == int(np.floor(200 * k[3:].sum() + 0.5))


def test_matlab_nearest_samples_cell_centres() -> None:
    """MATLAB nearest 1/s: output x (1-based) reads input floor(s·x + 1 - s/2)."""
    img = np.arange(36 * 48, dtype=np.int64).reshape(36, 48)
    for s in (2, 3, 4):
        out = nearest_downscale(img, s)
        x = np.arange(1, 48 // s + 1)
        cols = np.floor(s * x + 1 - s / 2).astype(int) - 1
        y = np.arange(1, 36 // s + 1)
        rows = np.floor(s * y + 1 - s / 2).astype(int) - 1
        assert np.array_equal(out, img[np.ix_(rows, cols)])
    assert np.array_equal(nearest_downscale(img, 3), img[1::3, 1::3])  # centre of each 3×3


def test_bd_geometry_and_bytes(baby: np.ndarray, gray: np.ndarray) -> None:
    lr = degrade(baby, 3, "bd")
    assert lr.shape == (170, 170, 3) and lr.dtype == np.uint8  # 512 -> modcrop 510 -> 170
    assert np.array_equal(lr, gaussian_blur(baby[:510, :510])[1::3, 1::3])
    assert _sha(lr) == BD_BABY_X3_SHA256
    assert _sha(degrade(baby.copy(), 3, "bd")) == BD_BABY_X3_SHA256  # deterministic
    g = degrade(gray, 3, "bd")
    assert g.ndim == 2 and g.shape == (gray.shape[0] // 3, gray.shape[1] // 3)
    # BD is blurrier than BI: less high-frequency energy in the LR image.
    bi = degrade(baby, 3, "bi").astype(np.float64)
    bd = lr.astype(np.float64)
    assert np.abs(np.diff(bd, axis=1)).mean() < np.abs(np.diff(bi, axis=1)).mean()


def test_dn_same_seed_same_bytes(baby: np.ndarray) -> None:
    a = degrade(baby, 3, "dn", np.random.default_rng(0))
    b = degrade(baby, 3, "dn", np.random.default_rng(0))
    c = degrade(baby, 3, "dn", np.random.default_rng(1))
    assert a.dtype == np.uint8 and a.shape == degrade_bi(baby, 3).shape
    assert _sha(a) == _sha(b)
    assert _sha(a) != _sha(c)


def test_dn_without_generator_is_fresh_noise(baby: np.ndarray) -> None:
    assert _sha(degrade(baby, 3, "dn")) != _sha(degrade(baby, 3, "dn"))


def test_dn_noise_is_gaussian_sigma_30_on_bi() -> None:
    flat = np.full((300, 300, 3), 128, np.uint8)  # mid-gray: clipping is negligible
    bi = degrade_bi(flat, 3)
    noisy = degrade(flat, 3, "dn", np.random.default_rng(7))
    diff = noisy.astype(np.float64) - bi
    assert np.array_equal(diff, np.round(diff))  # rounded to integers
    assert abs(diff.mean()) < 0.3
    assert diff.std() == pytest.approx(np.sqrt(30.0**2 + 1 / 12), rel=0.02)  # + rounding


def test_dn_clips_and_scales_for_16_bit() -> None:
    dark = np.zeros((60, 60), np.uint8)
    out = add_noise(dark, np.random.default_rng(0))
    assert out.min() == 0 and 0.45 < (out == 0).mean() < 0.55  # half the noise clipped at 0
    deep = np.full((60, 60), 32768, np.uint16)
    noisy = add_noise(deep, np.random.default_rng(0)).astype(np.float64)
    assert noisy.std() == pytest.approx(30 * 257, rel=0.05)  # sigma 30 on the 0-255 scale


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError):
        degrade(np.zeros((12, 12), np.uint8), 3, "jpeg")
    with pytest.raises(ValueError):
        degrade(np.zeros((12, 12), np.float32), 3, "bi")
