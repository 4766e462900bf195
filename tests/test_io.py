"""Image I/O: bit depth, channels, palettes, alpha, EXIF orientation, ICC, DPI, atomic writes."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from srcli.errors import ImageError
from srcli.imaging.io import ImageData, _atomic_write, read_image, write_image


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _as_uint(arr: np.ndarray, bits: int) -> np.ndarray:
    top = 65535 if bits == 16 else 255
    return np.round(arr * top).astype(np.uint16 if bits == 16 else np.uint8)


def test_8bit_rgb_png_round_trip_is_exact(benchmark_dir: Path, tmp_path: Path) -> None:
    src = benchmark_dir / "Set5" / "HR" / "img_001.png"
    img = read_image(src)
    assert img.bit_depth == 8 and img.pixels.shape == (512, 512, 3) and img.alpha is None
    write_image(tmp_path / "a.png", img)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(src)))


def test_grayscale_stays_single_channel(benchmark_dir: Path, tmp_path: Path) -> None:
    src = benchmark_dir / "Set14" / "LR_bicubic" / "X4" / "img_003.png"  # an "L" image
    img = read_image(src)
    assert img.is_gray and img.pixels.shape == (128, 128)
    write_image(tmp_path / "g.png", img)
    out = Image.open(tmp_path / "g.png")
    assert out.mode == "L"
    assert np.array_equal(np.asarray(out), np.asarray(Image.open(src)))


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_16bit_colour_keeps_all_16_bits(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 65536, size=(20, 30, 3), dtype=np.uint16)
    src = tmp_path / f"in{suffix}"
    cv2.imwrite(str(src), rgb[..., ::-1])  # Pillow would truncate this to 8 bits
    img = read_image(src)
    assert img.bit_depth == 16 and not img.is_gray
    assert np.array_equal(_as_uint(img.pixels, 16), rgb)
    dst = tmp_path / f"out{suffix}"
    write_image(dst, img)
    back = cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back[..., ::-1], rgb)


def test_16bit_rgba_png_keeps_alpha(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    bgra = rng.integers(0, 65536, size=(9, 11, 4), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "in.png"), bgra)
    img = read_image(tmp_path / "in.png")
    assert img.bit_depth == 16 and img.alpha is not None
    assert np.array_equal(_as_uint(img.alpha, 16), bgra[..., 3])
    write_image(tmp_path / "out.png", img)
    assert np.array_equal(cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED), bgra)


def test_16bit_gray_png_round_trip(tmp_path: Path) -> None:
    gray = np.random.default_rng(2).integers(0, 65536, size=(13, 7), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "in.png"), gray)
    img = read_image(tmp_path / "in.png")
    assert img.is_gray and img.bit_depth == 16
    write_image(tmp_path / "out.png", img)
    back = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back, gray)


def test_16bit_colour_png_carries_icc_and_dpi(tmp_path: Path) -> None:
    icc = _srgb_icc()
    img = ImageData(pixels=np.random.default_rng(3).random((8, 8, 3), dtype=np.float32),
                    bit_depth=16, icc_profile=icc, dpi=(300.0, 300.0))
    write_image(tmp_path / "o.png", img)
    back = Image.open(tmp_path / "o.png")
    assert back.info["icc_profile"] == icc
    assert back.info["dpi"] == pytest.approx((300, 300), abs=0.05)
    assert read_image(tmp_path / "o.png").bit_depth == 16


def test_palette_with_transparency_is_expanded(tmp_path: Path) -> None:
    idx = np.array([[0, 1], [2, 0]], dtype=np.uint8)
    pal = Image.fromarray(idx, mode="P")
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (768 - 9))
    pal.save(tmp_path / "p.png", transparency=0)
    img = read_image(tmp_path / "p.png")
    assert img.pixels.shape == (2, 2, 3) and img.alpha is not None
    assert img.alpha.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert _as_uint(img.pixels[0, 1], 8).tolist() == [0, 255, 0]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    rgb = np.random.default_rng(orientation).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    pil = Image.fromarray(rgb)
    exif = pil.getexif()
    exif[0x0112] = orientation
    pil.save(tmp_path / "o.png", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    img = read_image(tmp_path / "o.png")
    assert np.array_equal(_as_uint(img.pixels, 8), expected)
    # The output must not be rotated a second time by viewers.
    write_image(tmp_path / "w.png", img)
    assert Image.open(tmp_path / "w.png").getexif().get(0x0112, 1) == 1


def _png_with_exif_orientation(path: Path, bgr16: np.ndarray, orientation: int) -> None:
    ok, buf = cv2.imencode(".png", bgr16)
    data = buf.tobytes()
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()[6:]  # PNG eXIf holds the TIFF structure without "Exif\0\0"
    chunk = (struct.pack(">I", len(payload)) + b"eXIf" + payload
             + struct.pack(">I", zlib.crc32(b"eXIf" + payload) & 0xFFFFFFFF))
    path.write_bytes(data[:33] + chunk + data[33:])


def test_exif_orientation_on_16bit_colour(tmp_path: Path) -> None:
    rgb = np.random.default_rng(7).integers(0, 65536, (5, 8, 3), dtype=np.uint16)
    _png_with_exif_orientation(tmp_path / "o.png", rgb[..., ::-1], 6)  # 90° clockwise
    img = read_image(tmp_path / "o.png")
    assert img.bit_depth == 16 and img.pixels.shape == (8, 5, 3)
    assert np.array_equal(_as_uint(img.pixels, 16), np.rot90(rgb, -1))


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp", "tiff"])
def test_icc_profile_and_dpi_are_carried(tmp_path: Path, fmt: str) -> None:
    icc = _srgb_icc()
    Image.new("RGB", (16, 12), (200, 100, 50)).save(tmp_path / "in.png", icc_profile=icc,
                                                     dpi=(150, 150))
    img = read_image(tmp_path / "in.png")
    assert img.icc_profile == icc and img.dpi == pytest.approx((150, 150), abs=0.05)
    write_image(tmp_path / f"out.{fmt}", img.with_pixels(img.pixels, None, dpi_factor=2))
    back = Image.open(tmp_path / f"out.{fmt}")
    assert back.info.get("icc_profile") == icc
    if fmt != "webp":  # WebP has no resolution field
        assert back.info["dpi"] == pytest.approx((300, 300), abs=0.05)


@pytest.mark.parametrize("fmt", ["png", "tiff"])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_16bit_colour_keeps_icc_dpi_and_alpha(tmp_path: Path, fmt: str, with_alpha: bool) -> None:
    rng = np.random.default_rng(8)
    rgb = rng.integers(0, 65536, (150, 37, 3), dtype=np.uint16)  # > 2 TIFF strips of 64 rows
    alpha = rng.integers(0, 65536, (150, 37), dtype=np.uint16) if with_alpha else None
    img = ImageData(rgb / 65535.0, None if alpha is None else alpha / 65535.0, bit_depth=16,
                    icc_profile=_srgb_icc(), dpi=(300.0, 150.0))
    assert write_image(tmp_path / f"o.{fmt}", img) == []
    raw = cv2.imread(str(tmp_path / f"o.{fmt}"), cv2.IMREAD_UNCHANGED)  # libtiff / libpng
    assert raw.dtype == np.uint16 and np.array_equal(raw[..., 2::-1], rgb)
    if alpha is not None:
        assert np.array_equal(raw[..., 3], alpha)
    back = read_image(tmp_path / f"o.{fmt}")
    assert back.bit_depth == 16 and np.array_equal(_as_uint(back.pixels, 16), rgb)
    assert back.icc_profile == img.icc_profile
    assert back.dpi == pytest.approx((300, 150), abs=0.05)


def test_jpeg_output_flattens_alpha_and_16bit_with_notes(tmp_path: Path) -> None:
    pixels = np.zeros((4, 4, 3), np.float32)
    alpha = np.zeros((4, 4), np.float32)  # fully transparent black -> white in JPEG
    notes = write_image(tmp_path / "o.jpg", ImageData(pixels, alpha, bit_depth=16))
    assert len(notes) == 2
    assert np.asarray(Image.open(tmp_path / "o.jpg")).min() >= 250


def test_rgba_png_and_webp_keep_alpha(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    img = ImageData(rng.random((5, 6, 3), dtype=np.float32), rng.random((5, 6), np.float32))
    for name in ("o.png", "o.webp"):
        write_image(tmp_path / name, img, quality=100)
        back = read_image(tmp_path / name)
        assert back.alpha is not None
        assert np.array_equal(_as_uint(back.alpha, 8), _as_uint(img.alpha, 8))


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n garbage"])
def test_unreadable_files_raise_one_line_image_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match="bad.png") as info:
        read_image(path)
    assert "\n" not in str(info.value)


def test_truncated_png_raises_image_error(benchmark_dir: Path, tmp_path: Path) -> None:
    data = (benchmark_dir / "Set5" / "HR" / "img_002.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.png"):
        read_image(tmp_path / "cut.png")


def test_pixel_limit_refuses_before_decoding(benchmark_dir: Path) -> None:
    src = benchmark_dir / "Set5" / "HR" / "img_001.png"  # 512 x 512
    with pytest.raises(ImageError, match="--max-pixels"):
        read_image(src, max_pixels=512 * 512 - 1)
    assert read_image(src, max_pixels=512 * 512).size == (512, 512)
    assert read_image(src, max_pixels=0).size == (512, 512)


def test_existing_output_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "o.png"
    target.write_bytes(b"precious")
    img = ImageData(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ImageError, match="exists"):
        write_image(target, img)
    assert target.read_bytes() == b"precious"
    write_image(target, img, overwrite=True)
    assert Image.open(target).size == (2, 2)


def test_interrupted_write_leaves_target_and_folder_untouched(tmp_path: Path) -> None:
    target = tmp_path / "o.png"
    target.write_bytes(b"old")

    def crash(f: object) -> None:
        f.write(b"half an image")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _atomic_write(target, crash)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]  # no temp file left


def test_16bit_gray_with_alpha_keeps_bits_and_alpha(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    img = ImageData(rng.random((6, 5), dtype=np.float32), rng.random((6, 5), np.float32),
                    bit_depth=16)
    notes = write_image(tmp_path / "o.png", img)
    assert notes == ["16-bit gray + alpha written as 16-bit RGBA"]
    back = read_image(tmp_path / "o.png")
    assert back.bit_depth == 16 and back.is_gray  # R = G = B is read back as gray
    assert np.array_equal(_as_uint(back.pixels, 16), _as_uint(img.pixels, 16))
    assert np.array_equal(_as_uint(back.alpha, 16), _as_uint(img.alpha, 16))
