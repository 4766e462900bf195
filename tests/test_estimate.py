"""Blind estimators (noise σ, colour noise σ, JPEG quality from tables and from the pixels'
quantisation lattice) and the auto selector, on bicubic downscales of the in-repo benchmark
images with known noise and JPEG quality."""

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
    chroma_noise_sigma,
    file_jpeg_quality,
    ijg_table,
    jpeg_grid,
    jpeg_quality,
    measure,
    noise_sigma,
)
from srcli.imaging.resize import imresize, modcrop
from srcli.inference.auto import (
    COLOUR_NOISE,
    GRID,
    MILD_NOISE,
    available_families,
    choose,
    wanted_family,
)

EVERY = {"bi", "bd", "dn", "real"}
# Tolerance of the noise estimate on these images: 15 % of σ plus 1 (0-255 scale).
SIGMA_REL, SIGMA_ABS = 0.15, 1.0


@pytest.fixture(scope="module")
def lrs(benchmark_dir: Path) -> list[np.ndarray]:
    """×2 bicubic LR of Set5 and Set14 fixtures (19 photos and drawings)."""
    paths = find_images([benchmark_dir / "Set5" / "HR", benchmark_dir / "Set14" / "HR"])
    return [imresize(modcrop(load_rgb(p), 2), 0.5) for p in paths]


def _noisy(lr: np.ndarray, sigma: float, seed: int = 0, grey: bool = False) -> np.ndarray:
    """Colour noise (independent per channel), or the same noise in every channel."""
    shape = (*lr.shape[:2], 1) if grey else lr.shape
    noise = np.random.default_rng(seed).normal(0, sigma, shape)
    return np.clip(np.floor(lr + noise + 0.5), 0, 255).astype(np.uint8)


def _jpeg(lr: np.ndarray, q: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(lr).save(buf, "JPEG", quality=q)
    return buf.getvalue()


def _decoded(lr: np.ndarray, q: int) -> np.ndarray:
    """The pixels of `lr` saved as JPEG q and decoded: what a PNG re-saved from it holds."""
    return np.asarray(Image.open(io.BytesIO(_jpeg(lr, q))).convert("RGB"))


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


def test_colour_noise_within_tolerance_and_blind_to_texture(lrs: list[np.ndarray]) -> None:
    est = np.array([chroma_noise_sigma(_noisy(lr, 5.0, k)) for k, lr in enumerate(lrs)])
    assert np.all(np.abs(est - 5.0) <= SIGMA_REL * 5.0 + SIGMA_ABS), est
    # at σ 15 clipping drops many blocks of dark or bright images (one reads 10.9): the
    # median still holds, and the selector only asks whether it is above COLOUR_NOISE
    est = np.array([chroma_noise_sigma(_noisy(lr, 15.0, k)) for k, lr in enumerate(lrs)])
    assert abs(np.median(est) - 15.0) <= 0.05 * 15.0 + 0.5 and est.min() > 0.7 * 15.0, est
    clean = np.array([chroma_noise_sigma(lr) for lr in lrs])
    per_channel = np.array([noise_sigma(lr) for lr in lrs])
    # texture the colour channels mistake for noise mostly cancels on the opponent axes
    assert clean.max() < COLOUR_NOISE and np.median(clean) < 0.5 < np.median(per_channel)
    grey = np.array([chroma_noise_sigma(_noisy(lr, 10.0, k, grey=True))
                     for k, lr in enumerate(lrs)])
    assert np.all(grey < clean + 1.5)  # grey noise is invisible there (a documented limit)
    assert chroma_noise_sigma(lrs[0][..., 1]) == 0.0  # one channel: no colour to measure


@pytest.mark.parametrize("q", [20, 40, 70, 90, 95])
def test_jpeg_grid_found_in_decoded_pixels(lrs: list[np.ndarray], q: int) -> None:
    grids = [jpeg_grid(_decoded(lr, q)) for lr in lrs]
    assert all(g is not None and g.quality == q and g.score >= GRID for g in grids), grids


def test_no_jpeg_grid_without_a_jpeg(lrs: list[np.ndarray]) -> None:
    for k, lr in enumerate(lrs):
        for px in (lr, _noisy(lr, 15.0, k)):
            g = jpeg_grid(px)
            assert g is None or g.score < GRID / 2, (k, g)
    ramp = np.tile(np.linspace(0, 255, 640)[None, :, None], (480, 1, 3)).astype(np.uint8)
    tiles = np.kron(np.random.default_rng(0).integers(0, 256, (30, 40, 3)),
                    np.ones((16, 16, 1))).astype(np.uint8)  # flat graphics: repeated values
    for px in (ramp, tiles):
        g = jpeg_grid(px)
        assert g is None or g.score < GRID / 2, g
    # the lattice is aligned to pixel 0: a decoded JPEG cropped by 4 px shows none
    shifted = jpeg_grid(_decoded(lrs[1], 40)[4:, 4:])
    assert shifted is None or shifted.score < GRID / 2


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
            stored = p.parent.parent / "LR_bicubic" / f"X{s}" / p.name  # the published bytes
            for lr in (imresize(modcrop(hr, s), 1 / s), load_rgb(stored)):
                assert choose(measure(lr), EVERY).degradation == "bi", (p, s)


def _generated(lr: np.ndarray, k: int) -> list[tuple[str, np.ndarray, io.BytesIO | None, str]]:
    """The issue's generated inputs for one LR: (kind, pixels, JPEG file or None, wanted)."""
    out = [("clean", lr, None, "bi")]
    out += [(f"noise {s:g}", _noisy(lr, s, k), None, "dn" if s >= 30 else "real")
            for s in (5.0, 15.0, 30.0)]
    for q in (20, 40, 70, 90):
        data = _jpeg(lr, q)
        out.append((f"jpeg {q}", _decoded(lr, q), io.BytesIO(data), "real"))
        out.append((f"png<jpeg {q}", _decoded(lr, q), None, "real"))
    return out


def test_selector_on_generated_inputs(lrs: list[np.ndarray]) -> None:
    """The issue's bar (≥ 90 % right) on the in-repo images: clean, colour noise σ 5/15/30,
    JPEG q 20/40/70/90 files and the same pixels re-saved losslessly."""
    right, total, misses = 0, 0, []
    for k, lr in enumerate(lrs):
        for kind, px, jpg, want in _generated(lr, k):
            got = choose(measure(px, jpg), EVERY).degradation  # type: ignore[arg-type]
            right, total = right + (got == want), total + 1
            if got != want:
                misses.append(f"{k} {kind}: {got}")
            if kind == "clean":
                assert got == "bi"  # a wrong pick on a clean input is the costly one
    assert right / total >= 0.9, misses


def test_selector_picks_real_for_a_lattice_or_colour_noise(lrs: list[np.ndarray]) -> None:
    png40 = measure(_decoded(lrs[3], 40))
    assert (png40.jpeg_quality, png40.grid_quality) == (None, 40)
    c = choose(png40, EVERY)
    assert c.degradation == "real" and c.why.startswith("decoded JPEG q≈40, noise σ≈")
    q97 = measure(_decoded(lrs[3], 97))  # a near-lossless save: treated as clean, as a file
    assert wanted_family(q97) == "bi"
    mild = measure(_noisy(lrs[3], 5.0))
    assert mild.noise_sigma < MILD_NOISE and mild.chroma_noise >= COLOUR_NOISE
    c = choose(mild, EVERY)
    assert c.degradation == "real" and "colour noise σ≈" in c.why
    assert choose(mild, {"bi", "dn"}).degradation == "bi"  # too little noise for DN weights


@pytest.mark.full_set
def test_clean_benchmark_sets_never_get_real_or_dn(shared_datasets: Path) -> None:
    """Every Set5, Set14 and BSD100 image at ×2/×3/×4, both our bicubic LR and the stored
    LR_bicubic file (714 inputs): the issue's guard."""
    bench, n, wrong = shared_datasets / "benchmark", 0, []
    for name in ("Set5", "Set14", "BSD100"):
        for p in find_images([bench / name / "HR"]):
            hr = load_rgb(p)
            for s in (2, 3, 4):
                for lr in (imresize(modcrop(hr, s), 1 / s),
                           load_rgb(bench / name / "LR_bicubic" / f"X{s}" / p.name)):
                    n += 1
                    if (d := choose(measure(lr), EVERY).degradation) != "bi":
                        wrong.append(f"{name}/{p.name} x{s}: {d}")
    assert n == 714 and not wrong, wrong


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
