"""Image files in and out, faithful to what the user gave us.

Pixels travel as float32 arrays in [0, 1]: H×W×3 for colour, H×W for grayscale (which stays
single-channel end to end), with the alpha plane kept apart (H×W) so it can be resized on its
own. `ImageData` also carries what the output needs to match the input: bit depth (8 or 16),
ICC profile, DPI and EXIF (orientation already applied to the pixels, so reset to 1).

Pillow reads everything except 16-bit colour: it silently truncates 48/64-bit PNG and TIFF to
8 bits, so those go through OpenCV (pixels only; metadata still comes from Pillow). Writing
16-bit colour PNG also uses OpenCV, with the ICC profile and DPI added as iCCP/pHYs chunks;
16-bit colour TIFF is written by a small baseline encoder here (deflate strips, ICC, DPI),
because neither Pillow nor OpenCV can store the profile with 16-bit colour.

Every write goes to a temporary file in the destination folder and is renamed over the target
only once complete, so an interrupt or crash never leaves a truncated image.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import cv2
import numpy as np
from PIL import Image, ImageOps

from srcli.errors import ImageError
from srcli.imaging.limits import DEFAULT_MAX_PIXELS

#: Output format name -> (Pillow format, file suffix).
FORMATS: dict[str, tuple[str, str]] = {
    "png": ("PNG", ".png"),
    "jpg": ("JPEG", ".jpg"),
    "webp": ("WEBP", ".webp"),
    "tiff": ("TIFF", ".tiff"),
    "bmp": ("BMP", ".bmp"),
}
SUFFIX_FORMATS: dict[str, str] = {
    ".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".tif": "tiff",
    ".tiff": "tiff", ".bmp": "bmp",
}
_EIGHT_BIT_ONLY = {"jpg", "webp", "bmp"}
_NO_ALPHA = {"jpg", "bmp"}  # Pillow's 32-bit BMP has no alpha mask: readers ignore it
_ORIENTATION_TAG = 0x0112
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's "L"


@dataclass
class ImageData:
    """Decoded pixels plus the metadata an output should inherit."""

    pixels: np.ndarray  # float32 in [0, 1]: H×W×3 (colour) or H×W (grayscale)
    alpha: np.ndarray | None = None  # float32 H×W in [0, 1], or None when opaque
    bit_depth: int = 8  # 8 or 16
    source_format: str = ""  # Pillow's name of the file format read ("PNG", "JPEG", ...)
    icc_profile: bytes | None = None
    dpi: tuple[float, float] | None = None
    exif: bytes | None = None

    @property
    def is_gray(self) -> bool:
        return self.pixels.ndim == 2

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), Pillow's order."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    def with_pixels(self, pixels: np.ndarray, alpha: np.ndarray | None,
                    dpi_factor: float = 1.0) -> ImageData:
        """A copy with new pixels (e.g. upscaled), DPI multiplied by `dpi_factor`."""
        dpi = None if self.dpi is None else (self.dpi[0] * dpi_factor, self.dpi[1] * dpi_factor)
        return replace(self, pixels=pixels, alpha=alpha, dpi=dpi)


def gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma; for R = G = B it returns that value (up to float rounding)."""
    return np.clip(rgb @ _LUMA, 0.0, 1.0).astype(np.float32, copy=False)


# ------------------------------------------------------------------------------------ reading


@contextlib.contextmanager
def _pillow_limit_disabled() -> Iterator[None]:
    # We apply our own limit (--max-pixels) before decoding; Pillow's global one would refuse
    # images the user explicitly allowed.
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def read_image(path: str | os.PathLike[str], *,
               max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ImageData:
    """Decode `path`; raise ImageError (one line, naming the file) for anything unreadable.

    `max_pixels` (None or 0: no limit) refuses decompression bombs before decoding.
    """
    path = Path(path)
    try:
        with _pillow_limit_disabled(), Image.open(path) as im:
            width, height = im.size
            if max_pixels and width * height > max_pixels:
                raise ImageError(
                    f"{path}: {width}x{height} = {width * height:,} pixels exceeds the limit of "
                    f"{max_pixels:,} (raise it with --max-pixels)")
            return _decode(path, im)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except Exception as exc:  # noqa: BLE001 - every decoder failure is "this file is bad"
        reason = str(exc) or type(exc).__name__
        raise ImageError(f"{path}: cannot read image ({reason})") from None


def _decode(path: Path, im: Image.Image) -> ImageData:
    exif = Image.Exif()
    exif.update(im.getexif())  # a copy: exif_transpose below reads the image's own
    orientation = int(exif.get(_ORIENTATION_TAG, 1) or 1)
    if _ORIENTATION_TAG in exif:
        exif[_ORIENTATION_TAG] = 1  # the pixels get transposed, viewers must not do it again
    meta = ImageData(
        pixels=np.zeros((0, 0), np.float32),
        source_format=im.format or "",
        icc_profile=im.info.get("icc_profile") or None,
        dpi=_dpi(im.info.get("dpi")),
        exif=exif.tobytes() if len(exif) else None,
    )
    if _is_16bit_color(path, im):
        pixels, alpha = _read_16bit_color(path)
        pixels, alpha = _orient(pixels, orientation), _orient(alpha, orientation)
        return replace(meta, pixels=pixels, alpha=alpha, bit_depth=16)
    im.load()
    if orientation != 1:
        im = ImageOps.exif_transpose(im)
    if im.mode == "CMYK":
        meta.icc_profile = None  # a CMYK profile would mislabel the converted RGB pixels
    pixels, alpha, depth = _from_pillow(im)
    return replace(meta, pixels=pixels, alpha=alpha, bit_depth=depth)


def _dpi(value: object) -> tuple[float, float] | None:
    if isinstance(value, tuple) and len(value) == 2:
        x, y = (float(v) for v in value)
        if x > 0 and y > 0:
            return x, y
    return None


def _from_pillow(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Pillow image -> (pixels, alpha, bit depth), expanding palettes and odd modes."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(im).astype(np.float32)
        return np.clip(arr, 0, 65535) / 65535.0, None, 16
    if mode == "F":
        raise ValueError("32-bit floating-point images are not supported")
    if mode in ("P", "PA"):
        im = im.convert("RGBA" if im.has_transparency_data else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("La", "LA") or (mode == "L" and "transparency" in im.info):
        im = im.convert("LA")
    elif mode in ("RGBa", "RGBA") or (mode == "RGB" and "transparency" in im.info):
        im = im.convert("RGBA")
    elif mode not in ("L", "RGB"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX
    arr = np.asarray(im, dtype=np.float32) / 255.0
    if im.mode in ("LA", "RGBA"):
        pixels = arr[..., 0] if im.mode == "LA" else arr[..., :3]
        return np.ascontiguousarray(pixels), np.ascontiguousarray(arr[..., -1]), 8
    return arr, None, 8


def _is_16bit_color(path: Path, im: Image.Image) -> bool:
    """True for 16-bit-per-sample colour (or gray + alpha) that Pillow would truncate."""
    if im.format == "PNG":
        with open(path, "rb") as f:
            header = f.read(26)
        # IHDR follows the 8-byte signature: length, "IHDR", width, height, depth, colour type
        return len(header) == 26 and header[24] == 16 and header[25] in (2, 4, 6)
    if im.format == "TIFF":
        bits = im.tag_v2.get(258)  # BitsPerSample
        bits = bits if isinstance(bits, tuple) else (bits,)
        return len(bits) > 1 and bits[0] == 16
    return False


def _read_16bit_color(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    data = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        raise ValueError("unsupported 16-bit colour layout")
    arr = arr.astype(np.float32) / 65535.0
    alpha = np.ascontiguousarray(arr[..., 3]) if arr.shape[2] == 4 else None
    bgr = arr[..., :3]
    if np.array_equal(bgr[..., 0], bgr[..., 1]) and np.array_equal(bgr[..., 1], bgr[..., 2]):
        return np.ascontiguousarray(bgr[..., 0]), alpha  # 16-bit gray + alpha
    return np.ascontiguousarray(bgr[..., ::-1]), alpha


def _orient(arr: np.ndarray | None, orientation: int) -> np.ndarray | None:
    """Apply EXIF orientation 1-8 to an H×W(×C) array, as ImageOps.exif_transpose does."""
    if arr is None or orientation == 1:
        return arr
    ops: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return arr if op is None else np.ascontiguousarray(op(arr))


# ------------------------------------------------------------------------------------ writing


def format_for_path(path: Path) -> str | None:
    """Output format name implied by a file suffix ("png", "jpg", ...), None if unknown."""
    return SUFFIX_FORMATS.get(path.suffix.lower())


def write_image(path: str | os.PathLike[str], image: ImageData, *, fmt: str | None = None,
                quality: int = 95, overwrite: bool = False) -> list[str]:
    """Write `image` atomically; return notes on anything the format could not keep.

    `fmt` defaults to the one implied by the suffix. JPEG, WebP and BMP hold 8 bits only; JPEG
    and BMP hold no alpha (it is composited over white). WebP with quality 100 is lossless.
    """
    path = Path(path)
    fmt = fmt or format_for_path(path)
    if fmt not in FORMATS:
        raise ImageError(f"{path}: unknown output format (use one of {', '.join(FORMATS)})")
    if path.exists() and not overwrite:
        raise ImageError(f"{path}: exists (use --overwrite to replace it)")
    notes: list[str] = []
    if image.bit_depth == 16 and fmt in _EIGHT_BIT_ONLY:
        notes.append(f"16-bit input written as 8-bit ({fmt} holds 8 bits per channel)")
        image = replace(image, bit_depth=8)
    if image.alpha is not None and fmt in _NO_ALPHA:
        notes.append(f"alpha composited over white ({fmt} output has no transparency)")
        image = _flatten_on_white(image)
    if image.bit_depth == 16 and image.is_gray and image.alpha is not None:
        # Pillow has no 16-bit gray + alpha mode; keep both the bits and the transparency.
        notes.append("16-bit gray + alpha written as 16-bit RGBA")
        image = replace(image, pixels=gray_to_rgb(image.pixels))
    if image.bit_depth == 16 and not image.is_gray:
        encoded = _encode_16bit_color(image, fmt)
        if fmt == "tiff" and image.exif:
            notes.append("EXIF not stored in 16-bit colour TIFF")
        _atomic_write(path, lambda f: f.write(encoded))
    else:
        pil, params = _to_pillow(image, fmt, quality)
        _atomic_write(path, lambda f: pil.save(f, format=FORMATS[fmt][0], **params))
    return notes


def _flatten_on_white(image: ImageData) -> ImageData:
    a = image.alpha if image.is_gray else image.alpha[..., None]  # type: ignore[index]
    return replace(image, pixels=image.pixels * a + (1.0 - a), alpha=None)


def _quantize(arr: np.ndarray, bits: int) -> np.ndarray:
    top = 65535.0 if bits == 16 else 255.0
    out = np.clip(arr, 0.0, 1.0)  # one float temporary, updated in place: images are big
    out *= top
    out += 0.5
    return out.astype(np.uint16 if bits == 16 else np.uint8)


def _to_pillow(image: ImageData, fmt: str, quality: int) -> tuple[Image.Image, dict[str, object]]:
    if image.is_gray and image.bit_depth == 16:
        pil = Image.fromarray(_quantize(image.pixels, 16))
    else:
        planes = image.pixels if not image.is_gray else image.pixels[..., None]
        if image.alpha is not None:
            planes = np.concatenate([planes, image.alpha[..., None]], axis=2)
        arr = _quantize(planes, 8)
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
        pil = Image.fromarray(arr[..., 0] if mode == "L" else arr, mode=mode)
        if fmt == "webp" and mode in ("L", "LA"):
            pil = pil.convert("RGBA" if mode == "LA" else "RGB")
    params: dict[str, object] = {}
    if image.icc_profile and fmt != "bmp":
        params["icc_profile"] = image.icc_profile
    if image.dpi and fmt != "webp":
        params["dpi"] = tuple(round(v, 3) for v in image.dpi)
    if image.exif and fmt in ("png", "jpg", "webp", "tiff"):
        params["exif"] = image.exif
    if fmt == "jpg":
        # 4:4:4 chroma at high quality: upscaled detail is what the user is paying for.
        params.update(quality=quality, subsampling=0 if quality >= 90 else 2, optimize=True)
    elif fmt == "webp":
        params.update(quality=quality, lossless=quality >= 100, method=4)
    elif fmt == "tiff":
        params["compression"] = "tiff_adobe_deflate"
    return pil, params


def _encode_16bit_color(image: ImageData, fmt: str) -> bytes:
    if fmt == "tiff":
        return _tiff_16bit(image)
    bgr = _quantize(image.pixels[..., ::-1], 16)
    if image.alpha is not None:
        bgr = np.concatenate([bgr, _quantize(image.alpha, 16)[..., None]], axis=2)
    ok, buf = cv2.imencode(".png" if fmt == "png" else ".tiff", bgr)
    if not ok:
        raise ImageError(f"cannot encode 16-bit {fmt}")
    data = buf.tobytes()
    return _png_add_chunks(data, image) if fmt == "png" else data


_TIFF_SHORT, _TIFF_LONG, _TIFF_RATIONAL, _TIFF_UNDEFINED = 3, 4, 5, 7
_TIFF_ROWS_PER_STRIP = 64


def _tiff_16bit(image: ImageData) -> bytes:
    """Little-endian baseline TIFF: RGB(A) 16 bits per sample, Adobe-deflate strips, one IFD
    with resolution (inch) and the ICC profile (tag 34675) when the input had them."""
    planes = _quantize(image.pixels, 16)
    if image.alpha is not None:
        planes = np.concatenate([planes, _quantize(image.alpha, 16)[..., None]], axis=2)
    h, w, spp = planes.shape
    rows = planes.astype("<u2").reshape(h, w * spp)
    strips = [zlib.compress(rows[y:y + _TIFF_ROWS_PER_STRIP].tobytes(), 6)
              for y in range(0, h, _TIFF_ROWS_PER_STRIP)]
    data = bytearray(b"II*\x00\x00\x00\x00\x00")  # IFD offset patched in at the end
    offsets = []
    for strip in strips:
        offsets.append(len(data))
        data += strip + b"\x00" * (len(strip) % 2)  # values start on word boundaries
    entries: list[tuple[int, int, list[int] | bytes]] = [
        (256, _TIFF_LONG, [w]), (257, _TIFF_LONG, [h]), (258, _TIFF_SHORT, [16] * spp),
        (259, _TIFF_SHORT, [8]), (262, _TIFF_SHORT, [2]), (273, _TIFF_LONG, offsets),
        (277, _TIFF_SHORT, [spp]), (278, _TIFF_LONG, [_TIFF_ROWS_PER_STRIP]),
        (279, _TIFF_LONG, [len(s) for s in strips]), (284, _TIFF_SHORT, [1])]
    if image.dpi:  # rationals in 1/1000 dpi: keeps e.g. 72.009 dpi from a pHYs chunk
        entries += [(282, _TIFF_RATIONAL, [round(image.dpi[0] * 1000), 1000]),
                    (283, _TIFF_RATIONAL, [round(image.dpi[1] * 1000), 1000]),
                    (296, _TIFF_SHORT, [2])]
    if spp == 4:
        entries.append((338, _TIFF_SHORT, [2]))  # unassociated (straight) alpha
    if image.icc_profile:
        entries.append((34675, _TIFF_UNDEFINED, image.icc_profile))
    return bytes(_tiff_ifd(data, sorted(entries, key=lambda e: e[0])))


def _tiff_ifd(data: bytearray, entries: list[tuple[int, int, list[int] | bytes]]) -> bytearray:
    """Append the IFD (values over 4 bytes stored before it) and point the header at it."""
    fmt = {_TIFF_SHORT: "H", _TIFF_LONG: "I", _TIFF_RATIONAL: "I"}
    packed = []
    for tag, kind, values in entries:
        raw = (values if isinstance(values, bytes)
               else struct.pack(f"<{len(values)}{fmt[kind]}", *values))
        count = len(values) // 2 if kind == _TIFF_RATIONAL else len(values)
        if len(raw) <= 4:
            packed.append(struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\x00"))
            continue
        packed.append(struct.pack("<HHII", tag, kind, count, len(data)))
        data += raw + b"\x00" * (len(raw) % 2)
    struct.pack_into("<I", data, 4, len(data))
    data += struct.pack("<H", len(packed)) + b"".join(packed) + struct.pack("<I", 0)
    return data


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_add_chunks(data: bytes, image: ImageData) -> bytes:
    """Insert iCCP and pHYs right after IHDR (both must precede the image data)."""
    extra = b""
    if image.icc_profile:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(image.icc_profile))
    if image.dpi:
        ppm = [round(v / 0.0254) for v in image.dpi]  # pixels per metre
        extra += _png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1))
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return data[:ihdr_end] + extra + data[ihdr_end:]


def _atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write via a temp file in the same folder, then rename: all or nothing."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get normal permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
