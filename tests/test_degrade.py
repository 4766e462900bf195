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
    REAL_BLUR_PROB,
    REAL_JPEG_PROB,
    REAL_NOISE_PROB,
    RealParams,
    add_noise,
    anisotropic_kernel,
    degrade,
    degrade_bi,
    degrade_real,
    degrade_real_patch,
    fast_downscale,
    gaussian_blur,
    gaussian_kernel,
    jpeg_roundtrip,
    nearest_downscale,
    sample_real,
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


# --------------------------------------------------------------------------- REAL


def test_real_same_seed_same_bytes(baby: np.ndarray, gray: np.ndarray) -> None:
    for img in (baby, gray):
        for s in (2, 3, 4):
            a = degrade(img, s, "real", np.random.default_rng(7))
            b = degrade(img, s, "real", np.random.default_rng(7))
            assert a.dtype == img.dtype and a.shape == degrade_bi(img, s).shape
            assert _sha(a) == _sha(b)
    runs = {_sha(degrade(baby, 4, "real", np.random.default_rng(k))) for k in range(4)}
    assert len(runs) == 4  # different seeds, different images


def test_real_parameter_ranges_and_rates() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    draws = [sample_real(rng, 4) for _ in range(n)]
    blurs = [d.blur for d in draws if d.blur is not None]
    noises = [d.noise for d in draws if d.noise is not None]
    quals = [d.jpeg for d in draws if d.jpeg is not None]
    # binomial rates within ~4.5 standard deviations of the documented probabilities
    assert len(blurs) / n == pytest.approx(REAL_BLUR_PROB, abs=0.035)
    assert len(noises) / n == pytest.approx(REAL_NOISE_PROB, abs=0.035)
    assert len(quals) / n == pytest.approx(REAL_JPEG_PROB, abs=0.03)
    sig = np.array([b[:2] for b in blurs])
    assert sig.min() >= 0.2 and sig.max() <= 2.0 and sig.max() > 1.9  # [0.2, 0.5·scale]
    aniso = np.mean([b[0] != b[1] for b in blurs])
    assert aniso == pytest.approx(0.4, abs=0.04)
    ns = np.array([v[0] for v in noises])
    assert ns.min() >= 1.0 and ns.max() <= 12.0
    assert np.mean([v[1] for v in noises]) == pytest.approx(0.4, abs=0.05)  # gray share
    assert min(quals) == 35 and max(quals) == 95
    x2 = [d.blur for d in (sample_real(rng, 2) for _ in range(500)) if d.blur is not None]
    assert max(max(b[:2]) for b in x2) <= 1.0  # 0.5·scale at ×2


def test_real_with_every_step_off_is_bi(baby: np.ndarray) -> None:
    off = RealParams(blur=None, noise=None, jpeg=None)
    for s in (2, 3, 4):
        assert np.array_equal(degrade_real(baby, s, params=off), degrade_bi(baby, s))


def test_real_steps_move_the_image_the_right_way(baby: np.ndarray) -> None:
    bi = degrade_bi(baby, 4).astype(np.float64)
    blurred = degrade_real(baby, 4, params=RealParams((2.0, 2.0, 0.0), None, None))
    sharp_energy = np.abs(np.diff(bi, axis=1)).mean()
    assert np.abs(np.diff(blurred.astype(np.float64), axis=1)).mean() < 0.8 * sharp_energy
    noisy = degrade_real(baby, 4, np.random.default_rng(0),
                         RealParams(None, (10.0, False), None)).astype(np.float64)
    assert (noisy - bi).std() == pytest.approx(10.0, rel=0.05)
    errs = [np.abs(degrade_real(baby, 4, params=RealParams(None, None, q)) - bi).mean()
            for q in (35, 60, 95)]
    assert errs[0] > errs[1] > errs[2] > 0  # lower quality, larger error


def test_gray_noise_is_shared_by_the_channels() -> None:
    flat = np.full((64, 64, 3), 128, np.uint8)
    out = degrade_real(flat, 2, np.random.default_rng(3), RealParams(None, (8.0, True), None))
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    assert out.astype(np.float64).std() == pytest.approx(8.0, rel=0.1)
    colour = degrade_real(flat, 2, np.random.default_rng(3),
                          RealParams(None, (8.0, False), None))
    assert not np.array_equal(colour[..., 0], colour[..., 1])


def test_anisotropic_kernel_orientation() -> None:
    k = anisotropic_kernel(2.0, 0.3, 0.0)  # long along x
    assert k.shape == (11, 11) and k.sum() == pytest.approx(1.0, abs=1e-6)
    assert k[5].sum() > 0.8 and k[:, 5].sum() < 0.3
    kt = anisotropic_kernel(2.0, 0.3, np.pi / 2)  # long along y
    assert np.allclose(kt, k.T, atol=1e-6)


def test_jpeg_roundtrip_gray_16_bit() -> None:
    rng = np.random.default_rng(0)
    deep = (rng.integers(0, 256, (32, 32)) * 257).astype(np.uint16)
    out = jpeg_roundtrip(deep, 90)
    assert out.dtype == np.uint16 and out.shape == deep.shape and out.flags.writeable
    assert np.all(out % 257 == 0)  # went through 8 bits


def test_fast_downscale_is_imresize(baby: np.ndarray, gray: np.ndarray) -> None:
    for img in (baby, gray):
        for s in (2, 3, 4):
            x = modcrop(img, s)
            assert np.array_equal(fast_downscale(x, s), imresize(x, 1 / s))


def _clean_draw(aniso: bool) -> int:
    """A seed whose REAL draw has blur (anisotropic or not) but no noise and no JPEG."""
    for k in range(1000):
        p = sample_real(np.random.default_rng(k), 4)
        if p.blur is not None and p.noise is None and p.jpeg is None \
                and (p.blur[0] != p.blur[1]) == aniso and max(p.blur[:2]) > 1.0:
            return k
    raise AssertionError("no such seed")


@pytest.mark.parametrize("aniso", [False, True])
def test_real_patch_matches_whole_image(baby: np.ndarray, aniso: bool) -> None:
    """A training patch is degraded with enough context to equal the whole image's LR."""
    k = _clean_draw(aniso)
    hr = modcrop(baby, 4)
    whole = degrade(hr, 4, "real", np.random.default_rng(k))
    for y, x in ((0, 0), (40, 30), (whole.shape[0] - 24, whole.shape[1] - 24)):
        patch = degrade_real_patch(hr, 4, y, x, 24, np.random.default_rng(k))
        ref = whole[y : y + 24, x : x + 24]
        assert patch.shape == ref.shape and patch.dtype == np.uint8
        assert np.mean(patch == ref) > 0.999 and np.abs(patch.astype(int) - ref).max() <= 1


def test_real_training_batches(tmp_path: Path, baby: np.ndarray) -> None:
    from srcli.data.patches import build_patch_set, sample_batch

    Image.fromarray(baby).save(tmp_path / "baby.png")
    ps = build_patch_set([tmp_path], 4, "real", 32)
    lr, hr = sample_batch(ps, 4, 32, seed=0, rank=0, iteration=5)
    lr2, _ = sample_batch(ps, 4, 32, seed=0, rank=0, iteration=5)
    lr3, _ = sample_batch(ps, 4, 32, seed=0, rank=0, iteration=6)
    assert lr.shape == (4, 3, 32, 32) and hr.shape == (4, 3, 128, 128)
    assert str(lr.dtype) == str(hr.dtype) == "torch.float32"
    assert bool((lr == lr2).all()) and not bool((lr == lr3).all())
