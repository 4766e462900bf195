"""`srcli upscale` through the real Typer app, on real images, with the bicubic model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from srcli.cli.app import app
from srcli.imaging.resize import imresize

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["upscale", *args], prog_name="srcli")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def images(benchmark_dir: Path, tmp_path: Path) -> Path:
    """A folder with three small Set14 LR images (one grayscale)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("img_003.png", "img_004.png", "img_006.png"):
        shutil.copy(benchmark_dir / "Set14" / "LR_bicubic" / "X4" / name, folder / name)
    return folder


def test_single_file_default_name_and_pixels(images: Path) -> None:
    src = images / "img_004.png"
    code, _, stderr = run(str(src), "--model", "bicubic", "--scale", "2")
    assert code == 0, stderr
    out = np.asarray(Image.open(images / "img_004_x2.png"), dtype=np.float64)
    lr = np.asarray(Image.open(src), dtype=np.float64) / 255.0
    ref = np.clip(imresize(lr, 2.0), 0, 1) * 255
    assert out.shape == (144, 176, 3)
    assert np.abs(out - ref).max() <= 0.5 + 1e-6  # only the final rounding differs
    assert "img_004_x2.png" in stderr


def test_existing_output_policy(images: Path) -> None:
    src = str(images / "img_006.png")
    assert run(src, "--model", "bicubic")[0] == 0
    code, _, stderr = run(src, "--model", "bicubic")
    assert code == 1 and "--overwrite" in stderr  # a single file is refused, not skipped
    code, stdout, _ = run(src, "--model", "bicubic", "--skip-existing", "--json")
    assert code == 0 and json.loads(stdout)["files"][0]["status"] == "skipped"
    assert run(src, "--model", "bicubic", "--overwrite")[0] == 0


def test_an_input_is_never_overwritten(images: Path) -> None:
    src = images / "img_004.png"
    before = src.read_bytes()
    code, _, stderr = run(str(src), "-o", str(src), "--model", "bicubic", "--overwrite")
    assert code == 1 and "would overwrite an input" in stderr
    assert src.read_bytes() == before


def test_batch_reports_bad_files_and_continues(images: Path, tmp_path: Path) -> None:
    (images / "corrupt.png").write_bytes((images / "img_004.png").read_bytes()[:300])
    (images / "notes.png").write_text("not an image")
    out_dir = tmp_path / "out"
    code, stdout, stderr = run(str(images), "-o", str(out_dir), "--model", "bicubic", "--json")
    assert code == 1
    summary = json.loads(stdout)
    status = {Path(f["input"]).name: f["status"] for f in summary["files"]}
    assert status == {"corrupt.png": "failed", "img_003.png": "ok", "img_004.png": "ok",
                      "img_006.png": "ok", "notes.png": "failed"}
    assert (summary["ok"], summary["failed"]) == (3, 2)
    ok = next(f for f in summary["files"] if f["input"].endswith("img_004.png"))
    assert ok["size_in"] == [88, 72] and ok["size_out"] == [352, 288] and ok["seconds"] > 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "img_003_x4.png", "img_004_x4.png", "img_006_x4.png"]
    assert "corrupt.png" in stderr and "Traceback" not in stderr


def test_batch_skips_existing_and_ignores_its_own_outputs(images: Path) -> None:
    assert run(str(images), "--model", "bicubic", "-q")[0] == 0
    code, stdout, _ = run(str(images), "--model", "bicubic", "--json", "-q")
    summary = json.loads(stdout)
    assert code == 0 and summary["skipped"] == 3 and len(summary["files"]) == 3


def test_a_pattern_ignores_its_own_outputs_too(images: Path) -> None:
    assert run(str(images), "--model", "bicubic", "-q")[0] == 0
    code, stdout, _ = run(str(images / "*.png"), "--model", "bicubic", "--json", "-q")
    inputs = sorted(Path(f["input"]).name for f in json.loads(stdout)["files"])
    assert code == 0 and inputs == ["img_003.png", "img_004.png", "img_006.png"]
    # A result named directly is still an input: only expansions filter.
    assert run(str(images / "img_004_x4.png"), "--model", "bicubic", "-q")[0] == 0
    assert (images / "img_004_x4_x4.png").is_file()


def test_recursive_folders_are_mirrored(images: Path, tmp_path: Path) -> None:
    sub = images / "sub"
    sub.mkdir()
    shutil.move(images / "img_006.png", sub / "img_006.png")
    out_dir = tmp_path / "out"
    assert run(str(images), "-o", str(out_dir), "--model", "bicubic", "-q")[0] == 0
    assert not (out_dir / "sub").exists()
    assert run(str(images), "-o", str(out_dir), "--model", "bicubic", "-q", "-r")[0] == 0
    assert (out_dir / "sub" / "img_006_x4.png").is_file()


def test_glob_format_and_quality(images: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "jpg"
    code, _, stderr = run(str(images / "img_00[46].png"), "-o", str(out_dir), "--model",
                          "bicubic", "--format", "jpg", "--quality", "80")
    assert code == 0, stderr
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["img_004_x4.jpg", "img_006_x4.jpg"]
    assert Image.open(out_dir / names[0]).format == "JPEG"


def test_output_file_suffix_sets_the_format(images: Path, tmp_path: Path) -> None:
    dst = tmp_path / "result.webp"
    assert run(str(images / "img_004.png"), "-o", str(dst), "--model", "bicubic")[0] == 0
    assert Image.open(dst).format == "WEBP"


@pytest.mark.parametrize("args", [
    ["--tile", "abc"], ["--device", "gpu"], ["--format", "gif"], ["--quality", "0"],
    ["--outscale", "-1"], ["-o", "x.jpg", "--format", "png"], ["--weights", "w.pt"],
])
def test_usage_errors_exit_2(images: Path, args: list[str]) -> None:
    code, _, _ = run(str(images / "img_004.png"), "--model", "bicubic", *args)
    assert code == 2


def test_unknown_model_is_one_line(images: Path) -> None:
    code, _, stderr = run(str(images / "img_004.png"), "--model", "nosuchnet")
    assert code == 1
    assert stderr.strip().count("\n") == 0 and "unknown model" in stderr


def test_default_model_loads_or_says_why_in_one_line(images: Path) -> None:
    code, _, stderr = run(str(images / "img_006.png"), "-q")
    assert code in (0, 1)
    if code == 1:
        assert stderr.strip().startswith("error:") and stderr.strip().count("\n") == 0


def test_max_pixels_guards_against_bombs(images: Path) -> None:
    code, _, stderr = run(str(images / "img_004.png"), "--model", "bicubic", "--max-pixels",
                          "1000")
    assert code == 1 and "--max-pixels" in stderr


def test_outscale_resizes_the_model_output(images: Path) -> None:
    code, stdout, _ = run(str(images / "img_004.png"), "--model", "bicubic", "--outscale",
                          "2.5", "--json", "-q")
    assert code == 0
    info = json.loads(stdout)["files"][0]
    assert info["size_out"] == [220, 180] and info["output"].endswith("img_004_x2.5.png")
    assert Image.open(info["output"]).size == (220, 180)


def test_gray_alpha_and_16bit_survive_the_command(images: Path, tmp_path: Path) -> None:
    rgba = tmp_path / "rgba.png"
    base = Image.open(images / "img_004.png").convert("RGBA")
    base.putalpha(Image.linear_gradient("L").resize(base.size))
    base.save(rgba)
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), (np.asarray(base.convert("RGB"), np.uint16) * 257)[..., ::-1])
    code, _, stderr = run(str(images / "img_003.png"), str(rgba), str(deep), "-o",
                          str(tmp_path / "out"), "--model", "bicubic", "-s", "2")
    assert code == 0, stderr
    assert Image.open(tmp_path / "out" / "img_003_x2.png").mode == "L"
    out_rgba = Image.open(tmp_path / "out" / "rgba_x2.png")
    assert out_rgba.mode == "RGBA" and out_rgba.size == (176, 144)
    alpha = np.asarray(out_rgba)[..., 3].astype(int)
    assert alpha[0].max() < 20 and alpha[-1].min() > 235  # the gradient survived
    out16 = cv2.imread(str(tmp_path / "out" / "deep_x2.png"), cv2.IMREAD_UNCHANGED)
    assert out16.dtype == np.uint16 and out16.shape == (144, 176, 3)


def test_name_plus_means_ensemble(images: Path) -> None:
    code, stdout, _ = run(str(images / "img_006.png"), "--model", "bicubic+", "--json", "-q")
    summary = json.loads(stdout)
    assert code == 0 and summary["ensemble"] is True and summary["ok"] == 1


def test_names_with_markup_characters_are_printed_verbatim(images: Path) -> None:
    odd = images / "shot [1].png"
    shutil.copy(images / "img_006.png", odd)
    code, _, stderr = run(str(odd), "--model", "bicubic")
    assert code == 0 and (images / "shot [1]_x4.png").is_file()
    assert "shot [1].png" in stderr


@pytest.mark.parametrize("kind", ["bd", "dn"])
def test_degradation_picks_weights_trained_for_it(benchmark_dir: Path, tmp_path: Path,
                                                  kind: str) -> None:
    """On a blurred / noisy input the BD / DN weights beat the BI ones by a wide margin."""
    from srcli.imaging.degrade import degrade
    from srcli.imaging.io import ImageData, write_image
    from srcli.metrics import psnr

    hr = np.asarray(Image.open(benchmark_dir / "Set5" / "HR" / "img_002.png"))
    lr = degrade(hr, 3, kind, np.random.default_rng(0))
    write_image(tmp_path / "in.png", ImageData(lr.astype(np.float32) / 255))
    code, stdout, stderr = run(str(tmp_path / "in.png"), "-o", str(tmp_path / "fit.png"),
                               "--degradation", kind, "--json", "-q")
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["scale"] == 3 and summary["degradation"] == kind  # x3 is the default here
    code, _, stderr = run(str(tmp_path / "in.png"), "-o", str(tmp_path / "bi.png"), "-s", "3",
                          "-q")
    assert code == 0, stderr
    ref = hr[: lr.shape[0] * 3, : lr.shape[1] * 3]
    fit, bi = (psnr(np.asarray(Image.open(tmp_path / n)), ref, crop=3)
               for n in ("fit.png", "bi.png"))
    assert fit > bi + 1.0, (fit, bi)


def test_missing_degradation_weights_are_one_line(images: Path) -> None:
    code, _, stderr = run(str(images / "img_004.png"), "--degradation", "bd", "--scale", "2")
    assert code == 1 and stderr.strip().count("\n") == 0
    assert "BD weights" in stderr and "--weights FILE" in stderr
