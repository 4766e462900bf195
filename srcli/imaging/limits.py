"""Input-size limits, importable without OpenCV or numpy (the CLI's help text shows them)."""

from __future__ import annotations

from PIL import Image

#: Pillow's own decompression-bomb threshold (about 89.5 Mpx), our default as well.
DEFAULT_MAX_PIXELS: int = Image.MAX_IMAGE_PIXELS or 89_478_485
