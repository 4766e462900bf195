"""`--model spandrel --weights FILE`: architectures srcli does not have, loaded by spandrel
(optional extra) and run by srcli's engine, give the same pixels as spandrel's own call.

The checkpoints come from scripts/spandrel_parity.py: spandrel's own SwinIR and SPAN classes,
small configs, seeded random weights, the last layer rescaled so that outputs stay inside
(0, 1), where clamping hides nothing and the comparison is of real numbers, not 0s and 1s.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from typer.testing import CliRunner

from srcli.cli.app import app
from srcli.imaging.degrade import degrade
from srcli.models.pretrained import load_model
from srcli.models.spandrel_adapter import import_spandrel

HAVE_SPANDREL = importlib.util.find_spec("spandrel") is not None
runner = CliRunner()
TOL = 1e-5
LR_IMAGE = ("Set5", "LR_bicubic", "X2", "img_005.png")  # 172 x 114: no multiple of 8
BENCH_IMAGES = ("img_003.png", "img_005.png")  # Set5 HR, 256² and 228 x 344
BUILDERS = ("SwinIR", "SPAN")  # scripts/spandrel_parity.py builds them
Files = dict[str, Path]  # "SwinIR.pth" -> its path, ...


@pytest.fixture(scope="module")
def spandrel() -> ModuleType:
    """The spandrel package (imports beside a torch without torchvision too), else a skip:
    every test that needs it asks for `checkpoints`, which asks for this."""
    if not HAVE_SPANDREL:
        pytest.skip('spandrel is not installed (pip install "srcli[spandrel]")')
    return import_spandrel()


@pytest.fixture(scope="module")
def parity(spandrel: ModuleType, load_script: Callable[[str], ModuleType]) -> ModuleType:
    """scripts/spandrel_parity.py: checkpoint builders, spandrel's reference call."""
    return load_script("spandrel_parity")


@pytest.fixture(scope="module")
def checkpoints(parity: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Files:
    """{"SwinIR.pth": path, "SwinIR.safetensors": path, "SPAN.pth": ..., ...}."""
    return parity.write_demo(tmp_path_factory.mktemp("spandrel"))


def _lr(benchmark_dir: Path) -> np.ndarray:
    pixels = np.asarray(Image.open(benchmark_dir.joinpath(*LR_IMAGE)).convert("RGB"))
    return pixels.astype(np.float32) / 255.0


def _assert_rounded(png: Path, ref: np.ndarray) -> None:
    """An 8-bit output equals round(ref · 255), except where ref is within float noise of a
    rounding boundary (there either neighbour is right)."""
    got = np.asarray(Image.open(png).convert("RGB"), dtype=np.int64)
    scaled = np.clip(ref.astype(np.float64), 0, 1) * 255.0
    want = np.floor(scaled + 0.5).astype(np.int64)
    ambiguous = np.abs(scaled - np.floor(scaled) - 0.5) < 255 * TOL
    assert got.shape == want.shape
    assert np.array_equal(got[~ambiguous], want[~ambiguous])
    assert np.abs(got - want).max() <= 1


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_descriptor_comes_from_spandrel(spandrel: ModuleType, checkpoints: Files,
                                        arch: str) -> None:
    net = load_model("spandrel", 2, checkpoints[f"{arch}.safetensors"])
    ref = spandrel.ModelLoader().load_from_file(checkpoints[f"{arch}.pth"])
    desc, req = net.descriptor, ref.size_requirements
    assert (desc.name, desc.scale, net.architecture) == (f"spandrel:{arch}", 2, arch)
    assert (desc.size_multiple, desc.min_size, desc.square) == (req.multiple_of, req.minimum,
                                                                  req.square)
    assert (desc.supports_fp16, desc.supports_bf16) == (ref.supports_half,
                                                        ref.supports_bfloat16)
    assert sum(p.numel() for p in net.parameters()) == sum(
        p.numel() for p in ref.model.parameters())


@pytest.mark.parametrize("arch", list(BUILDERS))
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_engine_matches_spandrel(parity: ModuleType, checkpoints: Files, benchmark_dir: Path,
                                 arch: str, suffix: str) -> None:
    rgb = _lr(benchmark_dir)
    ref = parity.reference(checkpoints[f"{arch}.pth"], rgb)
    inside = np.mean((ref > 0) & (ref < 1))
    assert inside > 0.99  # calibrated: the comparison is not of clamped values
    out = parity.srcli_engine(checkpoints[f"{arch}{suffix}"], 2).upscale(rgb)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= TOL


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_padding_to_spandrel_size_needs(parity: ModuleType, checkpoints: Files,
                                        benchmark_dir: Path, arch: str) -> None:
    """A 13 x 10 crop is below SwinIR's 16-pixel minimum: srcli pads as spandrel does."""
    rgb = _lr(benchmark_dir)[40:50, 60:73]
    ref = parity.reference(checkpoints[f"{arch}.pth"], rgb)
    out = parity.srcli_engine(checkpoints[f"{arch}.pth"], 2).upscale(rgb)
    assert out.shape == (20, 26, 3)
    assert np.abs(out - ref).max() <= TOL


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_ensemble_is_spandrel_averaged_over_the_8_transforms(
        parity: ModuleType, checkpoints: Files, benchmark_dir: Path, arch: str) -> None:
    rgb = _lr(benchmark_dir)[:48, :40]
    refs = []
    for k in range(8):
        t = np.rot90(rgb[:, ::-1] if k >= 4 else rgb, k % 4)
        y = parity.reference(checkpoints[f"{arch}.pth"], t)
        y = np.rot90(y, -(k % 4))
        refs.append(y[:, ::-1] if k >= 4 else y)
    out = parity.srcli_engine(checkpoints[f"{arch}.pth"], 2, ensemble=True).upscale(rgb)
    assert np.abs(out - np.mean(refs, axis=0)).max() <= TOL


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_bf16_runs_at_any_size(parity: ModuleType, checkpoints: Files, benchmark_dir: Path,
                               arch: str) -> None:
    """spandrel's SwinIR fails in bf16 at any input size but its img_size (a float32 mask
    meets bf16 weights); srcli's wrapper runs it, within bf16 rounding of fp32."""
    rgb = _lr(benchmark_dir)
    ref = parity.reference(checkpoints[f"{arch}.pth"], rgb)
    engine = parity.srcli_engine(checkpoints[f"{arch}.pth"], 2, precision="bf16")
    assert engine.precision == "bf16"
    assert np.abs(engine.upscale(rgb) - ref).max() < 2 / 255


def test_tiles_run_and_agree_with_the_whole_image(parity: ModuleType, checkpoints: Files,
                                                  benchmark_dir: Path) -> None:
    """SPAN is convolutional: with 16 pixels of overlap, 48-pixel tiles give the same image
    up to float noise, so the tile plan and blending handle spandrel models too."""
    rgb = _lr(benchmark_dir)
    whole = parity.srcli_engine(checkpoints["SPAN.pth"], 2).upscale(rgb)
    tiled = parity.srcli_engine(checkpoints["SPAN.pth"], 2, tile=48).upscale(rgb)
    assert tiled.shape == whole.shape
    assert np.abs(tiled - whole).max() < 1e-3


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_cli_upscale(parity: ModuleType, checkpoints: Files, benchmark_dir: Path,
                     tmp_path: Path, arch: str) -> None:
    out = tmp_path / "out.png"
    src = benchmark_dir.joinpath(*LR_IMAGE)
    result = runner.invoke(app, ["upscale", str(src), "-m", "spandrel", "--weights",
                                 str(checkpoints[f"{arch}.safetensors"]), "-s", "2",
                                 "--precision", "fp32", "--tile", "0", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    _assert_rounded(out, parity.reference(checkpoints[f"{arch}.pth"], _lr(benchmark_dir)))


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_cli_bench(parity: ModuleType, checkpoints: Files, benchmark_dir: Path,
                   tmp_path: Path, arch: str) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    for name in BENCH_IMAGES:
        shutil.copy(benchmark_dir / "Set5" / "HR" / name, folder / name)
    saved = tmp_path / "sr"
    result = runner.invoke(app, ["bench", "-d", str(folder), "-m", "spandrel", "--weights",
                                 str(checkpoints[f"{arch}.pth"]), "-s", "2", "--threads", "1",
                                 "--json", "-", "--save-images", str(saved)])
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["model"], row["scale"], row["images"]) == ("spandrel", 2, 2)
    assert np.isfinite(row["psnr"]) and 0 < row["ssim"] < 1
    for name in BENCH_IMAGES:
        hr = np.asarray(Image.open(folder / name).convert("RGB"))
        lr = degrade(hr, 2, "bi", np.random.default_rng(0))
        ref = parity.reference(checkpoints[f"{arch}.pth"], lr.astype(np.float32) / 255.0)
        stem = Path(name).stem
        _assert_rounded(saved / "two" / "x2_bi" / "spandrel" / f"{stem}.png", ref)


def test_wrong_scale_names_the_right_one(checkpoints: Files) -> None:
    from srcli.errors import WeightsError

    with pytest.raises(WeightsError, match=r"x2 SwinIR model, not x4; pass --scale 2"):
        load_model("spandrel", 4, checkpoints["SwinIR.pth"])


def test_unknown_architecture_is_one_line(spandrel: ModuleType, tmp_path: Path,
                                          benchmark_dir: Path) -> None:
    path = tmp_path / "mystery.safetensors"
    save_file({"body.weight": torch.zeros(4, 3, 3, 3)}, str(path))
    result = runner.invoke(app, ["upscale", str(benchmark_dir.joinpath(*LR_IMAGE)), "-m",
                                 "spandrel", "--weights", str(path), "-s", "2", "-o",
                                 str(tmp_path / "o.png")])
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: mystery.safetensors: spandrel ")
    assert last.endswith("does not recognise this architecture")


def test_srcli_model_file_mismatch_points_at_spandrel(checkpoints: Files) -> None:
    from srcli.errors import WeightsError

    with pytest.raises(WeightsError, match=r"do not match .*use --model spandrel"):
        load_model("dan", 2, checkpoints["SPAN.safetensors"])


def test_without_the_extra_the_error_names_it(benchmark_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python where spandrel cannot be imported (None in sys.modules makes it so)."""
    monkeypatch.setitem(sys.modules, "spandrel", None)
    weights = tmp_path / "any.safetensors"
    save_file({"w": torch.zeros(1)}, str(weights))
    result = runner.invoke(app, ["upscale", str(benchmark_dir.joinpath(*LR_IMAGE)), "-m",
                                 "spandrel", "--weights", str(weights), "-s", "2", "-o",
                                 str(tmp_path / "o.png")])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert 'pip install "srcli[spandrel]"' in lines[-1]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o.png").exists()
