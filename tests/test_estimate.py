"""Blind estimators (noise σ, JPEG quality, 8×8 blockiness) and the auto selector, on
bicubic downscales of the in-repo benchmark images with known noise and JPEG quality."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from srcli.cli.app import app
from srcli.data.patches import find_images, load_rgb
from srcli.imaging.estimate import (
    IJG_LUMA,
    blockiness,
    file_jpeg_quality,
    ijg_table,
    jpeg_quality,
    measure,
    noise_sigma,
)
from srcli.imaging.resize import imresize, modcrop
from srcli.inference.auto import BLOCKY, MILD_NOISE, available_families, choose

EVERY = {"bi", "bd", "dn", "real"}
# Tolerance of the noise estimate on these images: 15 % of σ plus 1 (0-255 scale).
SIGMA_REL, SIGMA_ABS = 0.15, 1.0


@pytest.fixture(scope="module")
def lrs(benchmark_dir: Path) -> list[np.ndarray]:
    """×2 bicubic LR of Set5 and Set14 fixtures (19 photos and drawings)."""
    paths = find_images([benchmark_dir / "Set5" / "HR", benchmark_dir / "Set14" / "HR"])
    return [imresize(modcrop(load_rgb(p), 2), 0.5) for p in paths]


def _noisy(lr: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, lr.shape)
    return np.clip(np.floor(lr + noise + 0.5), 0, 255).astype(np.uint8)


def _jpeg(lr: np.ndarray, q: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(lr).save(buf, "JPEG", quality=q)
    return buf.getvalue()


@pytest.mark.parametrize("sigma", [5.0, 15.0, 30.0])
def test_noise_sigma_within_tolerance(lrs: list[np.ndarray], sigma: float) -> None:
    est = np.array([noise_sigma(_noisy(lr, sigma, k)) for k, lr in enumerate(lrs)])
    assert np.all(np.abs(est - sigma) <= SIGMA_REL * sigma + SIGMA_ABS), est
    assert abs(np.median(est) - sigma) <= 0.05 * sigma + 0.5


def test_noise_sigma_of_clean_downscales_is_low(lrs: list[np.ndarray]) -> None:
    est = np.array([noise_sigma(lr) for lr in lrs])
    assert np.median(est) < 2.0 and est.max() < MILD_NOISE


def test_noise_sigma_gray_float_and_16_bit(lrs: list[np.ndarray]) -> None:
    noisy = _noisy(lrs[0], 10.0)
    ref = noise_sigma(noisy)
    assert noise_sigma(noisy.astype(np.float32) / 255) == pytest.approx(ref, rel=1e-4)
    assert noise_sigma(noisy.astype(np.uint16) * 257) == pytest.approx(ref, rel=1e-4)
    assert noise_sigma(noisy[..., 1]) == pytest.approx(10.0, abs=SIGMA_REL * 10 + SIGMA_ABS)
    assert noise_sigma(_noisy(np.zeros((40, 40, 3), np.uint8) + 128, 30)) == 0.0  # too small


@pytest.mark.parametrize("q", [20, 30, 40, 70, 90, 95])
def test_jpeg_quality_read_from_the_tables(lrs: list[np.ndarray], q: int) -> None:
    found = file_jpeg_quality(io.BytesIO(_jpeg(lrs[1], q)))  # type: ignore[arg-type]
    assert found is not None and found.quality == q and found.exact


def test_jpeg_quality_of_other_encoders_is_the_nearest() -> None:
    custom = np.clip(np.round(ijg_table(IJG_LUMA, 60) * 1.08), 1, 255)  # not libjpeg's
    found = jpeg_quality({0: list(custom)})
    assert found is not None and not found.exact and 55 <= found.quality <= 60
    assert jpeg_quality({}) is None


def test_png_is_no_jpeg(tmp_path: Path, lrs: list[np.ndarray]) -> None:
    Image.fromarray(lrs[0]).save(tmp_path / "a.png")
    assert file_jpeg_quality(tmp_path / "a.png") is None
    assert file_jpeg_quality(tmp_path / "missing.jpg") is None


def test_blockiness_sees_the_grid_of_a_resaved_jpeg(lrs: list[np.ndarray]) -> None:
    clean = np.array([blockiness(lr) for lr in lrs])
    q20 = np.array([blockiness(np.asarray(Image.open(io.BytesIO(_jpeg(lr, 20)))))
                    for lr in lrs])
    assert clean.max() < BLOCKY and np.median(clean) == pytest.approx(1.0, abs=0.1)
    assert np.mean(q20 >= BLOCKY) >= 0.9 and np.median(q20) > 1.3


def test_selector_rules_and_fallbacks(lrs: list[np.ndarray]) -> None:
    clean = measure(lrs[2])
    assert choose(clean, EVERY).degradation == "bi"
    jpg = measure(np.asarray(Image.open(io.BytesIO(_jpeg(lrs[2], 40)))), io.BytesIO(
        _jpeg(lrs[2], 40)))  # type: ignore[arg-type]
    c = choose(jpg, EVERY)
    assert (jpg.jpeg_quality, c.degradation, c.why) == (40, "real", c.why)
    assert c.why.startswith("JPEG q=40, noise σ≈")
    assert choose(jpg, {"bi", "bd", "dn"}).degradation == "bi"  # DN smears a mere JPEG
    strong = measure(_noisy(lrs[2], 30.0))
    assert choose(strong, EVERY).degradation == "dn"
    assert choose(strong, {"bi", "real"}).degradation == "real"
    assert choose(strong, {"bi"}).degradation == "bi"
    mid = measure(_noisy(lrs[2], 15.0))
    assert choose(mid, EVERY).degradation == "real"
    assert choose(mid, {"bi", "dn"}).degradation == "dn"  # noisy enough for DN weights


def test_available_families_from_the_manifest() -> None:
    assert available_families("dan", 3) >= {"bi", "bd", "dn"}
    assert "bi" in available_families("dan+", 4)
    assert available_families("bicubic", 4) == {"bi"}


def test_clean_benchmark_inputs_always_get_bi(benchmark_dir: Path) -> None:
    for p in find_images([benchmark_dir]):
        if p.parent.name != "HR":
            continue
        hr = load_rgb(p)
        for s in (2, 3, 4):
            assert choose(measure(imresize(modcrop(hr, s), 1 / s)), EVERY).degradation == "bi"


def test_upscale_auto_reports_what_it_measured(tmp_path: Path, lrs: list[np.ndarray]) -> None:
    lr = lrs[5][:96, :128]
    Image.fromarray(lr).save(tmp_path / "clean.png")
    (tmp_path / "q30.jpg").write_bytes(_jpeg(lr, 30))
    Image.fromarray(_noisy(lr, 30.0)).save(tmp_path / "noisy.png")
    names = ["clean.png", "q30.jpg", "noisy.png"]
    args = ["upscale", *[str(tmp_path / n) for n in names], "-m", "dan", "-s", "3", "--degradation",
            "auto", "-o", str(tmp_path / "out") + "/", "--json", "--threads", "1"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["degradation"] == "auto" and summary["ok"] == 3
    picks = {Path(f["input"]).name: f["auto"] for f in summary["files"]}
    assert [Path(f["input"]).name for f in summary["files"]] == names  # input order kept
    assert picks["clean.png"]["chosen"] == "bi"
    assert picks["q30.jpg"]["jpeg_quality"] == 30 and picks["q30.jpg"]["wanted"] == "real"
    assert picks["noisy.png"]["chosen"] == "dn" and picks["noisy.png"]["noise_sigma"] > 15
    assert "auto: JPEG q=30, noise σ≈" in res.stderr, res.stderr
    forced = CliRunner().invoke(app, [*args[:-5], "--degradation", "auto", "--weights", "x.pt"])
    assert forced.exit_code == 2
