"""Split an image into overlapping tiles and blend the upscaled tiles back without seams.

Pure geometry plus a band accumulator, no model code, so it is tested on its own.

Tiles all have the same size (a conv library then reuses one plan for every tile), as small
as the tile count allows, and are spread evenly along each axis, so neighbours overlap by at
least `overlap` LR pixels and little more (overlap is recomputed work). On the
way back every tile is weighted by a window that is 1 in its interior and falls towards 0 at
edges shared with a neighbour (never at the image border), and the sum is divided by the
summed weights. The first quarter of each ramp stays near 0: those pixels lie next to the
tile's cut, where the model saw zero padding instead of image, and the neighbour has them
with full context. The result is a partition of unity, so a flat image stays flat and there
is no visible seam.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

#: Weight of pixels right at a cut: tiny, but > 0 so the normaliser never divides by zero.
_EPS = 1e-3


@dataclass(frozen=True)
class Tile:
    """An LR region [y0, y1) × [x0, x1)."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0


def axis_layout(length: int, tile: int, overlap: int) -> tuple[int, list[int]]:
    """(tile size, start offsets) covering [0, length) with tiles of at most `tile` pixels.

    Uses the fewest tiles, then shrinks them to the smallest equal size that still leaves
    `overlap` between neighbours: 1000 px with tile 376 and overlap 16 becomes three tiles of
    344 (1032 px computed) rather than three of 376 (1128 px). One tile if `tile` covers it.
    """
    if tile <= 0 or tile >= length:
        return length, [0]
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap {overlap} must be in [0, tile={tile})")
    count = math.ceil((length - overlap) / (tile - overlap))
    size = min(tile, math.ceil((length - overlap) / count) + overlap)
    span = length - size
    return size, [round(i * span / (count - 1)) for i in range(count)]


def axis_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of the tiles of `axis_layout`."""
    return axis_layout(length, tile, overlap)[1]


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Row-major tiles for an image; `tile` 0 means one tile for the whole image."""
    th, ys = axis_layout(height, tile, overlap)
    tw, xs = axis_layout(width, tile, overlap)
    return [Tile(y, y + th, x, x + tw) for y in ys for x in xs]


def ramp(n: int) -> Tensor:
    """Rising weights over n pixels: ~0 for the first quarter, then linear up to 1."""
    if n <= 0:
        return torch.ones(0)
    dead = n // 4
    pos = torch.arange(n, dtype=torch.float32) + 0.5 - dead
    return (pos / max(n - dead, 1)).clamp(_EPS, 1.0)


def axis_window(start: int, size: int, length: int, fade: int) -> Tensor:
    """1-D weights of a tile [start, start + size) on an axis of `length` (all in output
    pixels): ramps of `fade` pixels on the sides that touch a neighbour."""
    w = torch.ones(size)
    n = min(fade, size // 2)
    if start > 0 and n > 0:
        w[:n] = ramp(n)
    if start + size < length and n > 0:
        w[size - n:] = torch.minimum(w[size - n:], ramp(n).flip(0))
    return w


def tile_window(tile: Tile, height: int, width: int, scale: int, overlap: int) -> Tensor:
    """(H·s, W·s) blending window of `tile` in an LR image of height × width."""
    fade = overlap * scale
    wy = axis_window(tile.y0 * scale, tile.height * scale, height * scale, fade)
    wx = axis_window(tile.x0 * scale, tile.width * scale, width * scale, fade)
    return wy[:, None] * wx[None, :]


#: Receives finished output rows: (first row, normalised float32 (C, rows, W·s) band). The
#: band may be a view of the blender's buffer: copy or convert it before returning.
BandSink = Callable[[int, Tensor], None]


class Blender:
    """Accumulates weighted upscaled tiles, keeping only one band of output rows in float32.

    Tiles must arrive in `plan_tiles` order (row-major). When a tile row starts, every output
    row above it is final (no later tile reaches it), so that band is divided by the
    normaliser and handed to `sink`, and its accumulator is dropped: memory is one tile row
    of float32, not the whole image. The normaliser is the sum of the tiles' windows; the
    tiles form a grid and each window is a product wy·wx, so it is the product of the two 1-D
    sums, computed from the tile layout instead of stored. Pixel sums are added in the same
    order as a full-size accumulator, so only that product's rounding can differ from one.

    Without a sink the bands are gathered into a full (C, H·s, W·s) image for `result()`.
    """

    def __init__(self, channels: int, height: int, width: int, scale: int, overlap: int,
                 sink: BandSink | None = None) -> None:
        self.height, self.width, self.scale, self.overlap = height, width, scale, overlap
        self.channels = channels
        self._full: Tensor | None = None
        self.sink = sink if sink is not None else self._gather
        self._acc = torch.zeros(channels, 0, width * scale)
        self._band0 = 0  # output row of self._acc[:, 0]; rows above it are finished
        self._row_y0: int | None = None  # LR y0 of the tile row being added
        self._wy = torch.zeros(height * scale)
        self._wx = torch.zeros(width * scale)
        self._cols_done = False  # the x sum is complete after the first tile row

    def _gather(self, row0: int, band: Tensor) -> None:
        if self._full is None:
            s = self.scale
            self._full = torch.empty(self.channels, self.height * s, self.width * s)
        self._full[:, row0:row0 + band.shape[1]] = band

    def add(self, tile: Tile, out: Tensor) -> None:
        """`out` is the (C, h·s, w·s) upscaled tile."""
        s = self.scale
        if tile.y0 != self._row_y0:
            self._start_row(tile)
        if not self._cols_done:
            self._wx[tile.x0 * s:tile.x1 * s] += axis_window(
                tile.x0 * s, tile.width * s, self.width * s, self.overlap * s)
        wy = axis_window(tile.y0 * s, tile.height * s, self.height * s, self.overlap * s)
        wx = axis_window(tile.x0 * s, tile.width * s, self.width * s, self.overlap * s)
        rows = slice(tile.y0 * s - self._band0, tile.y1 * s - self._band0)
        self._acc[:, rows, tile.x0 * s:tile.x1 * s].add_(out.float() * (wy[:, None] * wx))

    def _start_row(self, tile: Tile) -> None:
        s = self.scale
        if self._row_y0 is not None:
            if tile.y0 < self._row_y0:
                raise ValueError("tiles must be added in row-major order")
            self._cols_done = True
            self._emit(tile.y0 * s)
        self._row_y0 = tile.y0
        self._wy[tile.y0 * s:tile.y1 * s] += axis_window(
            tile.y0 * s, tile.height * s, self.height * s, self.overlap * s)
        end = tile.y1 * s
        have = self._band0 + self._acc.shape[1]
        if end > have:  # grow the band downwards; the carried overlap rows keep their sums
            grown = torch.zeros(self.channels, end - self._band0, self._acc.shape[2])
            grown[:, :self._acc.shape[1]] = self._acc
            self._acc = grown

    def _emit(self, stop: int) -> None:
        """Normalise output rows [band0, stop), hand them to the sink, drop them."""
        n = stop - self._band0
        if n <= 0:
            return
        band = self._acc[:, :n]
        band.div_(self._wy[self._band0:stop, None] * self._wx[None, :])
        self.sink(self._band0, band)
        self._acc = self._acc[:, n:].clone()
        self._band0 = stop

    def finish(self) -> None:
        """Emit the remaining rows; call once after the last tile."""
        self._cols_done = True
        self._emit(self.height * self.scale)

    def result(self) -> Tensor:
        """The blended (C, H·s, W·s) image (only without a sink)."""
        self.finish()
        assert self._full is not None, "result() needs a blender without a sink"
        return self._full
