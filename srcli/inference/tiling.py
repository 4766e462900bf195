"""Split an image into overlapping tiles and blend the upscaled tiles back without seams.

Pure geometry plus one accumulator, no model code, so it is tested on its own.

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


class Blender:
    """Accumulates weighted upscaled tiles into a (C, H·s, W·s) float32 image on the CPU."""

    def __init__(self, channels: int, height: int, width: int, scale: int, overlap: int) -> None:
        self.height, self.width, self.scale, self.overlap = height, width, scale, overlap
        self.acc = torch.zeros(channels, height * scale, width * scale)
        self.weight = torch.zeros(1, height * scale, width * scale)

    def add(self, tile: Tile, out: Tensor) -> None:
        """`out` is the (C, h·s, w·s) upscaled tile."""
        s = self.scale
        win = tile_window(tile, self.height, self.width, s, self.overlap)
        region = (slice(None), slice(tile.y0 * s, tile.y1 * s), slice(tile.x0 * s, tile.x1 * s))
        self.acc[region].add_(out.float() * win)
        self.weight[region].add_(win)

    def result(self) -> Tensor:
        return self.acc.div_(self.weight)
