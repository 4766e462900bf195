"""Tile geometry, seam-free blending, and tiled vs whole-image fidelity on Set14."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srcli.inference.engine import DEFAULT_OVERLAP, EngineOptions, Upscaler
from srcli.inference.tiling import Blender, axis_layout, plan_tiles, tile_window
from srcli.models import create_model


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def _lr(benchmark_dir: Path, name: str, scale: int = 4) -> np.ndarray:
    path = benchmark_dir / "Set14" / "LR_bicubic" / f"X{scale}" / name
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


@pytest.mark.parametrize(("length", "tile", "overlap"),
                         [(100, 32, 8), (101, 48, 16), (64, 64, 8), (65, 64, 8), (500, 96, 16),
                          (33, 32, 0), (10, 48, 16)])
def test_axis_starts_cover_with_at_least_the_overlap(length: int, tile: int,
                                                     overlap: int) -> None:
    size, starts = axis_layout(length, tile, overlap)
    assert size <= tile or len(starts) == 1
    assert starts[0] == 0 and starts[-1] + size == length
    for a, b in zip(starts, starts[1:], strict=False):
        assert a + size - b >= overlap  # neighbours share >= overlap pixels
        assert b > a
    # Evenly spread: gaps differ by at most one pixel.
    gaps = np.diff(starts)
    assert len(gaps) == 0 or gaps.max() - gaps.min() <= 1
    # No wasted work: one pixel less per tile would break the overlap (or need a tile more).
    if len(starts) > 1:
        assert (size - 1) * len(starts) - overlap * (len(starts) - 1) < length


def test_tiles_shrink_to_the_needed_size() -> None:
    assert axis_layout(1000, 376, 16) == (344, [0, 328, 656])  # 1032 px computed, not 1128


def test_plan_tiles_zero_means_whole_image() -> None:
    assert len(plan_tiles(123, 77, 0, 16)) == 1
    tiles = plan_tiles(120, 125, 48, 16)
    assert len(tiles) == 16 and {(t.height, t.width) for t in tiles} == {(42, 44)}


def test_windows_fade_only_towards_neighbours() -> None:
    tiles = plan_tiles(100, 100, 48, 16)
    first = tile_window(tiles[0], 100, 100, 2, 16)
    assert first[0, 0] == 1.0  # image border: full weight
    assert first[-1, -1] < 0.01  # the cut next to a neighbour: ~0


@pytest.mark.parametrize("overlap", [0, 4, DEFAULT_OVERLAP])
def test_blending_exact_tiles_reproduces_the_image(benchmark_dir: Path, overlap: int) -> None:
    """If every tile output is the exact crop, blending must return the image: no seams."""
    hr = torch.from_numpy(_lr(benchmark_dir, "img_002.png", 2)).permute(2, 0, 1)  # 3x H x W
    scale = 2
    h, w = hr.shape[1] // scale, hr.shape[2] // scale
    blender = Blender(3, h, w, scale, overlap)
    for t in plan_tiles(h, w, 56, overlap):
        blender.add(t, hr[:, t.y0 * scale:t.y1 * scale, t.x0 * scale:t.x1 * scale])
    result = blender.result()
    assert torch.allclose(result, hr[:, : h * scale, : w * scale], atol=1e-6)


def test_bicubic_tiled_equals_whole(benchmark_dir: Path) -> None:
    """A model with a 2-pixel receptive field must be tiled without any difference."""
    lr = _lr(benchmark_dir, "img_001.png")
    whole = Upscaler(create_model("bicubic", 4), EngineOptions(device="cpu", tile=0))
    tiled = Upscaler(create_model("bicubic", 4), EngineOptions(device="cpu", tile=40))
    assert tiled.passes(*lr.shape[:2]) > 4
    assert _psnr(whole.upscale(lr), tiled.upscale(lr)) > 80


@pytest.fixture(scope="module")
def small_dan() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("dan", 4, n_feats=16, n_blocks=3, distance=1)


@pytest.mark.parametrize("name", ["img_001.png", "img_005.png", "img_013.png"])
def test_dan_tiled_stays_within_45db_of_whole_image(benchmark_dir: Path,
                                                    small_dan: torch.nn.Module,
                                                    name: str) -> None:
    """GCA pools over the tile, not the image: the default overlap must keep the result
    >= 45 dB from the whole-image one. Tile 48 forces 4-16 tiles on these LR images."""
    lr = _lr(benchmark_dir, name)
    whole = Upscaler(small_dan, EngineOptions(device="cpu", tile=0)).upscale(lr)
    tiled_engine = Upscaler(small_dan, EngineOptions(device="cpu", tile=48))
    assert tiled_engine.overlap == DEFAULT_OVERLAP and tiled_engine.passes(*lr.shape[:2]) >= 4
    assert _psnr(whole, tiled_engine.upscale(lr)) >= 45.0


def test_ensemble_composes_with_tiling(benchmark_dir: Path, small_dan: torch.nn.Module) -> None:
    lr = _lr(benchmark_dir, "img_006.png")  # 69 x 69
    whole = Upscaler(small_dan, EngineOptions(device="cpu", tile=0, ensemble=True)).upscale(lr)
    tiled = Upscaler(small_dan, EngineOptions(device="cpu", tile=40, ensemble=True))
    assert tiled.passes(69, 69) == 9 * 8  # 3 x 3 tiles
    assert _psnr(whole, tiled.upscale(lr)) >= 45.0
