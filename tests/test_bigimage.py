"""Band-wise blending (bounded memory) gives the full-buffer blend; quantized output path."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from srcli.cli.app import app
from srcli.imaging.io import ImageData, quantize, read_image, stored_bits, write_image
from srcli.inference.budget import SUGGESTED_TILE, JobShape, job_bytes, refusal
from srcli.inference.engine import EngineOptions, Upscaler
from srcli.inference.pipeline import upscale_image
from srcli.inference.tiling import Blender, Tile, plan_tiles, tile_window
from srcli.models import create_model


def _full_buffer_blend(tiles: list[Tile], outs: list[torch.Tensor], h: int, w: int,
                       scale: int, overlap: int) -> torch.Tensor:
    """The blend before bands: full-size float32 accumulator and weight map."""
    acc = torch.zeros(outs[0].shape[0], h * scale, w * scale)
    weight = torch.zeros(1, h * scale, w * scale)
    for t, out in zip(tiles, outs, strict=True):
        win = tile_window(t, h, w, scale, overlap)
        region = (slice(None), slice(t.y0 * scale, t.y1 * scale),
                  slice(t.x0 * scale, t.x1 * scale))
        acc[region].add_(out * win)
        weight[region].add_(win)
    return acc.div_(weight).clamp_(0.0, 1.0)


def _assert_levels_match(a: np.ndarray, b: np.ndarray) -> None:
    """Identical, or ±1 level on at most 1 pixel in 10,000 (float summation order)."""
    diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
    assert diff.max() <= 1
    assert np.count_nonzero(diff) <= max(1, a.size // 10_000)


@pytest.mark.parametrize(("h", "w", "tile", "overlap", "scale", "channels"), [
    (50, 70, 24, 4, 2, 3), (61, 47, 20, 6, 3, 3), (40, 40, 16, 0, 4, 3),
    (33, 90, 32, 8, 4, 4), (90, 33, 25, 5, 2, 1), (20, 20, 64, 8, 2, 3)])
def test_band_blend_equals_full_buffer_blend(h: int, w: int, tile: int, overlap: int,
                                             scale: int, channels: int) -> None:
    gen = torch.Generator().manual_seed(h * w + tile)
    tiles = plan_tiles(h, w, tile, overlap)
    # Tiles that disagree on their overlap (as a real model's do) and overshoot [0, 1].
    outs = [torch.rand(channels, t.height * scale, t.width * scale, generator=gen) * 1.1 - 0.05
            for t in tiles]
    ref = _full_buffer_blend(tiles, outs, h, w, scale, overlap)
    bands: list[tuple[int, int]] = []
    got = torch.full_like(ref, -1.0)

    def sink(row0: int, band: torch.Tensor) -> None:
        bands.append((row0, band.shape[1]))
        got[:, row0:row0 + band.shape[1]] = band.clamp(0.0, 1.0)

    blender = Blender(channels, h, w, scale, overlap, sink)
    for t, out in zip(tiles, outs, strict=True):
        blender.add(t, out)
    blender.finish()
    # Rows come once each, top to bottom, in one band per tile row.
    assert [r for r, _ in bands] == sorted({r for r, _ in bands}) and bands[0][0] == 0
    assert sum(n for _, n in bands) == h * scale
    assert len(bands) == len({t.y0 for t in tiles})
    assert torch.allclose(got, ref, atol=1e-6)
    for bits in (8, 16):
        _assert_levels_match(quantize(got.numpy(), bits), quantize(ref.numpy(), bits))


def test_blender_without_sink_still_returns_the_image() -> None:
    tiles = plan_tiles(30, 30, 16, 4)
    outs = [torch.full((3, t.height * 2, t.width * 2), 0.25) for t in tiles]
    blender = Blender(3, 30, 30, 2, 4)
    for t, out in zip(tiles, outs, strict=True):
        blender.add(t, out)
    assert torch.allclose(blender.result(), torch.full((3, 60, 60), 0.25), atol=1e-6)


def _image(h: int, w: int, *, gray: bool, alpha: bool, bits: int) -> ImageData:
    rng = np.random.default_rng(h + w)
    # Smooth content plus noise, so the model output is not trivially flat.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.5 + 0.4 * np.sin(yy / 5.0) * np.cos(xx / 7.0)
    shape = (h, w) if gray else (h, w, 3)
    px = base if gray else np.stack([base, base[::-1], base[:, ::-1]], axis=2)
    px = np.clip(px + rng.normal(0, 0.05, shape), 0, 1).astype(np.float32)
    a = np.clip(base.T[:h, :w] if h == w else base, 0, 1).astype(np.float32) if alpha else None
    return ImageData(pixels=px, alpha=a, bit_depth=bits)


@pytest.mark.parametrize(("gray", "alpha", "bits", "tile"), [
    (False, False, 8, 24), (False, True, 8, 24), (True, False, 8, 20), (True, True, 16, 24),
    (False, False, 16, 32), (False, True, 16, 0)])
def test_quantized_output_equals_writer_rounding(gray: bool, alpha: bool, bits: int,
                                                 tile: int) -> None:
    """bits=... (band-wise quantization) gives what write_image makes of the float result."""
    image = _image(57, 43, gray=gray, alpha=alpha, bits=bits)
    for model in ("bicubic", "dan"):
        net = create_model(model, 3) if model == "bicubic" else create_model(
            "dan", 3, n_feats=8, n_blocks=1)
        engine = Upscaler(net, EngineOptions(device="cpu", precision="fp32", tile=tile,
                                             tile_overlap=6))
        assert stored_bits(image, "png") == bits
        ref = upscale_image(image, engine)
        got = upscale_image(image, engine, bits=bits)
        assert got.pixels.dtype == (np.uint16 if bits == 16 else np.uint8)
        _assert_levels_match(got.pixels, quantize(ref.pixels, bits))
        if alpha:
            np.testing.assert_array_equal(got.alpha, quantize(ref.alpha, bits))


def test_outscale_keeps_the_float_path() -> None:
    image = _image(20, 24, gray=False, alpha=False, bits=8)
    engine = Upscaler(create_model("bicubic", 2), EngineOptions(device="cpu", tile=0))
    got = upscale_image(image, engine, outscale=1.5, bits=8)
    assert got.pixels.dtype == np.float32 and got.pixels.shape == (30, 36, 3)


# ------------------------------------------------------------------ memory estimate, CLI


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width × height (the pixel data is never decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_a_job_that_cannot_fit_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    _png_header_only(huge, 60_000, 50_000)  # x4: 144 GB of 8-bit output alone
    # --weights that do not exist: loading the model would fail with another message.
    result = CliRunner().invoke(app, ["upscale", str(huge), "-m", "dan", "-s", "4",
                                      "--weights", str(tmp_path / "missing.pt"),
                                      "--max-pixels", "0"], prog_name="srcli")
    assert result.exit_code == 1
    line = [ln for ln in result.stderr.splitlines() if "needs about" in ln]
    assert len(line) == 1 and "GB available; try" in line[0], result.stderr
    assert "missing.pt" not in result.stderr


def test_estimate_is_a_lower_bound_and_suggests_a_tile() -> None:
    photo = JobShape(4000, 3000, 4)
    need = job_bytes(photo, tile=None, overlap=16)
    out_bytes = 16000 * 12000 * 3
    # Below the measured 1.36 GB peak (docs/scale.md), so that a job that fits is never refused.
    assert out_bytes < need < 1.36 * (1 << 30) - 0.27 * (1 << 30)
    assert job_bytes(JobShape(4000, 3000, 4, fmt="jpg"), tile=None, overlap=16) > need
    whole = job_bytes(photo, tile=0, overlap=16)
    assert whole > need + 16000 * 12000 * 8  # the whole float32 output, no band
    msg = refusal("p.jpg", photo, tile=0, overlap=16, available=need + (1 << 20))
    assert msg is not None and msg.endswith(f"try --tile {SUGGESTED_TILE}")
    assert refusal("p.jpg", photo, tile=None, overlap=16, available=need) is None


def test_cli_upscale_writes_banded_output_equal_to_float_path(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    image = _image(70, 90, gray=False, alpha=True, bits=8)
    write_image(src, image)
    out = tmp_path / "out.png"
    result = CliRunner().invoke(app, ["upscale", str(src), "-o", str(out), "-m", "bicubic",
                                      "-s", "2", "--tile", "24", "--tile-overlap", "6",
                                      "--precision", "fp32", "-q"],
                                prog_name="srcli")
    assert result.exit_code == 0, result.stderr
    engine = Upscaler(create_model("bicubic", 2),
                      EngineOptions(device="cpu", precision="fp32", tile=24, tile_overlap=6))
    ref = upscale_image(read_image(src), engine)
    got = read_image(out)
    expected = np.dstack([quantize(ref.pixels, 8), quantize(ref.alpha, 8)])
    actual = np.dstack([quantize(got.pixels, 8), quantize(got.alpha, 8)])
    _assert_levels_match(actual, expected)


def test_colour_png_is_written_from_the_buffer_with_its_metadata(tmp_path: Path) -> None:
    """8-bit RGB output lives in a B, G, R buffer that OpenCV encodes without a copy; the
    file must still carry the ICC profile, DPI and EXIF, and the same pixels as Pillow's."""
    from PIL import Image, ImageCms

    src = tmp_path / "in.png"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "srcli-test"  # Make
    rgb = (_image(30, 40, gray=False, alpha=False, bits=8).pixels * 255).astype(np.uint8)
    Image.fromarray(rgb).save(src, icc_profile=icc, dpi=(72, 72), exif=exif.tobytes())
    engine = Upscaler(create_model("bicubic", 2),
                      EngineOptions(device="cpu", precision="fp32", tile=16, tile_overlap=4))
    image = read_image(src)
    result = upscale_image(image, engine, bits=8)
    assert result.pixels[..., ::-1].flags.c_contiguous  # the buffer OpenCV gets as it is
    write_image(tmp_path / "out.png", result)
    with Image.open(tmp_path / "out.png") as im:
        assert im.info.get("icc_profile") == icc
        assert tuple(round(v) for v in im.info["dpi"]) == (144, 144)
        assert im.getexif().get(0x010F) == "srcli-test"
        np.testing.assert_array_equal(np.asarray(im), result.pixels)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
