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
import re
import shutil
import struct
import tempfile
import time
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
from srcli.vocabulary import OUTPUT_FORMATS, SUFFIX_FORMATS

_PILLOW_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP"}
#: Output format name -> (Pillow format, file suffix); the names and suffixes are
#: srcli.vocabulary's.
FORMATS: dict[str, tuple[str, str]] = {
    name: (_PILLOW_FORMATS[name], suffix) for name, suffix in OUTPUT_FORMATS.items()}
_EIGHT_BIT_ONLY = {"jpg", "webp", "bmp"}
_NO_ALPHA = {"jpg", "bmp"}  # Pillow's 32-bit BMP has no alpha mask: readers ignore it
_ORIENTATION_TAG = 0x0112
#: TIFF tags that describe how *this file's* pixels are laid out (size, strips, compression,
#: resolution, ...). Pillow's getexif() of a TIFF returns them; carried into the output's
#: EXIF they describe the input and override the output's own tags (a TIFF read back at the
#: input's width), so they are dropped. Orientation, camera and date tags stay.
_LAYOUT_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 273, 277, 278, 279, 280, 281, 282,
    283, 284, 290, 291, 292, 293, 296, 297, 301, 317, 318, 319, 320, 321, 322, 323, 324, 325,
    330, 332, 338, 339, 340, 341, 347, 512, 513, 514, 515, 517, 518, 519, 520, 521, 529, 530,
    531, 532, 34675})
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
    #: What the reader had to leave out (e.g. the other frames of an animated GIF).
    notes: tuple[str, ...] = ()

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
    except PermissionError:
        raise ImageError(f"{path}: permission denied (cannot read it)") from None
    except Exception as exc:  # noqa: BLE001 - every decoder failure is "this file is bad"
        reason = str(exc) or type(exc).__name__
        raise ImageError(f"{path}: cannot read image ({reason})") from None


@dataclass(frozen=True)
class ImageHeader:
    """What the file header says, without decoding pixels (size after EXIF orientation)."""

    width: int
    height: int
    bit_depth: int
    gray: bool
    alpha: bool


def peek_image(path: str | os.PathLike[str]) -> ImageHeader | None:
    """The header of an image file as `read_image` will decode it; None if unreadable."""
    path = Path(path)
    try:
        with _pillow_limit_disabled(), Image.open(path) as im:
            width, height = im.size
            if _orientation_of(im) in (5, 6, 7, 8):
                width, height = height, width
            mode = im.mode
            alpha = mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in im.info
            if _is_16bit_color(path, im):
                return ImageHeader(width, height, 16, False, alpha or im.mode == "RGBA")
            deep = mode.startswith("I;16") or mode == "I"
            gray = mode in ("L", "LA", "La", "1") or deep
            return ImageHeader(width, height, 16 if deep else 8, gray, alpha)
    except Exception:  # noqa: BLE001 - read_image reports unreadable files properly
        return None


def _orientation_of(im: Image.Image) -> int:
    """EXIF orientation without decoding: Pillow's PNG getexif() loads the pixels."""
    if im.format == "PNG":
        raw = im.info.get("exif")
        if not raw:
            return 1
        exif = Image.Exif()
        exif.load(raw)
    else:
        exif = im.getexif()
    return int(exif.get(_ORIENTATION_TAG, 1) or 1)


def _decode(path: Path, im: Image.Image) -> ImageData:
    exif = Image.Exif()
    exif.update(im.getexif())  # a copy: exif_transpose below reads the image's own
    for tag in _LAYOUT_TAGS.intersection(exif):
        del exif[tag]
    orientation = int(exif.get(_ORIENTATION_TAG, 1) or 1)
    if _ORIENTATION_TAG in exif:
        exif[_ORIENTATION_TAG] = 1  # the pixels get transposed, viewers must not do it again
    meta = ImageData(
        pixels=np.zeros((0, 0), np.float32),
        source_format=im.format or "",
        icc_profile=im.info.get("icc_profile") or None,
        dpi=_dpi(im.info.get("dpi")) if _has_resolution(im) else None,
        exif=exif.tobytes() if len(exif) else None,
        notes=_frame_note(im),
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


def _frame_note(im: Image.Image) -> tuple[str, ...]:
    frames = int(getattr(im, "n_frames", 1) or 1)
    if frames <= 1:
        return ()
    kind = "pages" if im.format == "TIFF" else "frames"
    return (f"only the first of {frames} {kind} was read ({im.format} with several {kind})",)


def _has_resolution(im: Image.Image) -> bool:
    # Pillow reports 1 dpi for a TIFF that has no resolution tags at all: that is no DPI.
    return im.format != "TIFF" or 282 in im.tag_v2


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
    elif _png_bgr(image, fmt) is not None:
        _write_png_bgr(path, image)
    else:
        pil, params = _to_pillow(image, fmt, quality)
        _atomic_write(path, lambda f: pil.save(f, format=FORMATS[fmt][0], **params))
    return notes


def _png_bgr(image: ImageData, fmt: str) -> np.ndarray | None:
    """The BGR array behind 8-bit RGB pixels that srcli.inference.pipeline stores in BGR
    order (pixels = buffer[..., ::-1]), None for any other image."""
    px = image.pixels
    if fmt != "png" or image.alpha is not None or px.ndim != 3 or px.dtype != np.uint8:
        return None
    bgr = px[..., ::-1]
    return bgr if bgr.flags.c_contiguous else None


def _write_png_bgr(path: Path, image: ImageData) -> None:
    """8-bit RGB PNG straight from the pixel buffer with OpenCV, which encodes row by row
    into a file: Pillow would first copy the image into its own 4-byte-per-pixel store (768
    MB beside the 576 MB array for a 4000×3000 photo at ×4). The metadata chunks are then
    spliced in while copying the file into place (zlib level 6, as Pillow's default)."""
    bgr = _png_bgr(image, "png")
    fd, raw = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part.png")
    os.close(fd)
    try:
        if not cv2.imwrite(raw, bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6]):
            raise ImageError(f"{path}: cannot encode PNG")
        extra = _png_add_chunks(b"", image, exif=True)

        def copy(f: IO[bytes]) -> None:
            with open(raw, "rb") as src:
                f.write(src.read(_IHDR_END) + extra)
                shutil.copyfileobj(src, f, 1 << 20)

        _atomic_write(path, copy)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(raw)


def _flatten_on_white(image: ImageData) -> ImageData:
    alpha = as_float(image.alpha)  # type: ignore[arg-type]
    a = alpha if image.is_gray else alpha[..., None]
    return replace(image, pixels=as_float(image.pixels) * a + (1.0 - a), alpha=None)


def quantize(arr: np.ndarray, bits: int, out: np.ndarray | None = None) -> np.ndarray:
    """float [0, 1] -> uint8/uint16, rounding half up; into `out` when given (the engine
    converts band by band this way). Integer arrays of that depth pass through."""
    dtype = np.uint16 if bits == 16 else np.uint8
    if arr.dtype == dtype and out is None:
        return arr
    if arr.dtype.kind in "ui":  # integers of the other depth: back to [0, 1] first
        arr = arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)
    top = 65535.0 if bits == 16 else 255.0
    tmp = np.clip(arr, 0.0, 1.0)  # one float temporary, updated in place: images are big
    tmp *= top
    tmp += 0.5
    if out is None:
        return tmp.astype(dtype)
    np.copyto(out, tmp, casting="unsafe")  # truncation, as astype
    return out


_quantize = quantize


def as_float(arr: np.ndarray) -> np.ndarray:
    """Pixels as float32 in [0, 1], whether float already or 8/16-bit integers."""
    if arr.dtype.kind in "ui":
        return arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)
    return arr


def stored_bits(image: ImageData, fmt: str) -> int | None:
    """Bits per sample `write_image` stores `image` with in `fmt`, or None when writing needs
    float pixels (alpha composited over white). Pixels already quantized to this depth are
    written as they are, so the engine can produce them band by band."""
    return stored_bits_for(image.bit_depth, image.alpha is not None, fmt)


def stored_bits_for(bit_depth: int, alpha: bool, fmt: str) -> int | None:
    """`stored_bits` from what a header tells (see peek_image)."""
    if alpha and fmt in _NO_ALPHA:
        return None
    return 8 if fmt in _EIGHT_BIT_ONLY else bit_depth


def _to_pillow(image: ImageData, fmt: str, quality: int) -> tuple[Image.Image, dict[str, object]]:
    if image.is_gray and image.bit_depth == 16:
        pil = Image.fromarray(_quantize(image.pixels, 16))
    else:
        arr = _quantize(image.pixels, 8)  # planes one by one: no full-size float copy
        arr = arr if not image.is_gray else arr[..., None]
        if image.alpha is not None:
            arr = np.concatenate([arr, _quantize(image.alpha, 8)[..., None]], axis=2)
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
    bgr = np.ascontiguousarray(_quantize(image.pixels, 16)[..., ::-1])
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


_IHDR_END = 8 + 4 + 4 + 13 + 4  # signature, then IHDR's length, type, data and CRC


def _png_add_chunks(data: bytes, image: ImageData, *, exif: bool = False) -> bytes:
    """Insert iCCP and pHYs (and eXIf) right after IHDR (they must precede the image data);
    with empty `data`, just those chunks."""
    extra = b""
    if image.icc_profile:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(image.icc_profile))
    if image.dpi:
        ppm = [round(v / 0.0254) for v in image.dpi]  # pixels per metre
        extra += _png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1))
    if exif and image.exif:
        raw = image.exif[6:] if image.exif.startswith(b"Exif\x00\x00") else image.exif
        extra += _png_chunk(b"eXIf", raw)
    if not data:
        return extra
    return data[:_IHDR_END] + extra + data[_IHDR_END:]


#: `_atomic_write`'s temp names: "." + target name + "." + mkstemp's 8 characters + ".part"
#: (+ ".png" for `_write_png_bgr`'s, which OpenCV must see as PNG).
_TEMP_NAME = re.compile(
    r"^\.(?P<target>.+\.(png|jpe?g|webp|tiff?|bmp))\.[A-Za-z0-9_]{8}\.part(\.png)?$",
    re.IGNORECASE)


def _process_start() -> float:
    """Wall-clock start of this process (Linux /proc); now, where that is not available."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete temp files of `_atomic_write` in `folder` last written before this process
    started: a SIGKILL (or power loss) leaves them behind, and no later run would reuse them.
    A temp another srcli still writes is newer than us, so it is left alone."""
    start = _process_start() - 1.0  # /proc start time has clock-tick (10 ms) resolution
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _TEMP_NAME.match(entry.name):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < start:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


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
