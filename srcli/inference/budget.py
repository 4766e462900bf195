"""Will a job fit in memory? An estimate made from the image header, before any model loads.

Counts the buffers whose size follows from the image and the settings alone (decoded input,
quantized output, one band of float32 blended rows, one tile's output, the encoder's copy),
not the model's activations (`--tile auto` fits those to what is free). So it is a lower bound
of the real peak: a job it refuses could not have run, and a job that fits is never refused.
Measured peaks (docs/scale.md) are this estimate plus the Python/torch process (~0.4 GB).
Torch-free, so the CLI can ask before importing torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

#: Float32 bytes one band of blended output rows may take with `--tile auto` (engine.py).
BAND_BUDGET = 256 << 20
#: What `--tile` the refusal suggests (a tile row of a 4000-px-wide photo at x4 is 0.8 GB).
SUGGESTED_TILE = 256
_GB = float(1 << 30)


@dataclass(frozen=True)
class JobShape:
    """What the estimate needs to know about one job."""

    width: int  # LR input, after EXIF orientation
    height: int
    scale: int
    gray: bool = False
    alpha: bool = False
    bits: int | None = 8  # stored bits of the output; None: a float result (resize, flatten)
    out_size: tuple[int, int] | None = None  # (width, height) after --outscale, if resized
    fmt: str = "png"  # output format name

    @property
    def encoder_copies(self) -> bool:
        """Whether writing copies the pixels: all but 8-bit PNG without alpha (encoded from
        the buffer itself, see srcli.imaging.io)."""
        return not (self.fmt == "png" and self.bits == 8 and not self.alpha)


def job_bytes(job: JobShape, *, tile: int | None, overlap: int) -> int:
    """Lower bound of the bytes a job holds at its peak. `tile`: LR tile size, 0 for the
    whole image, None for auto (band capped by BAND_BUDGET)."""
    s = job.scale
    in_px = job.width * job.height
    out_px = in_px * s * s
    planes = 1 if job.gray else 3
    total = in_px * 3 * 4 + in_px * (planes + job.alpha)  # float32 RGB input + decoded bytes
    whole = tile == 0 or (tile is not None and tile >= max(job.width, job.height))
    if whole:
        total += out_px * 3 * 4  # the model's output for the whole image
    else:
        side = min(tile or SUGGESTED_TILE, job.height, job.width)
        band = 3 * 4 * side * s * job.width * s
        total += min(band, BAND_BUDGET) if tile is None else band
        total += 3 * 4 * (side * s) ** 2  # one tile's output
    if job.bits is None or job.out_size is not None:
        w, h = job.out_size or (job.width * s, job.height * s)
        total += out_px * 3 * 4 + w * h * (planes + job.alpha) * 4  # float result, resized
    else:
        stored = (planes + job.alpha) * out_px * (job.bits // 8)
        total += stored * (2 if job.encoder_copies else 1)  # the array, the encoder's copy
        if job.alpha:
            total += out_px * 4  # alpha resized as float32 before quantization
    return total


def available_memory() -> int:
    """Bytes new allocations can get: MemAvailable (else half of RAM), capped by a cgroup
    (container) limit. The one reader of free RAM: the engine's tile budget uses it too, and
    it lives here, not in memory.py, so the pre-load check stays torch-free."""
    avail = _meminfo_available()
    limit = _cgroup_headroom()
    return min(avail, limit) if limit is not None else avail


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def _cgroup_headroom() -> int | None:
    """cgroup v2 memory.max minus memory.current, None without a limit."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            raw = f.read().strip()
        if raw == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as f:
            return max(0, int(raw) - int(f.read().strip()))
    except (OSError, ValueError):
        return None


def refusal(name: str, job: JobShape, *, tile: int | None, overlap: int,
            available: int) -> str | None:
    """One line saying why `job` cannot fit in `available` bytes and what would help, or
    None when it fits."""
    need = job_bytes(job, tile=tile, overlap=overlap)
    if need <= available:
        return None
    hint = "a smaller --scale or --outscale, or a machine with more memory"
    if (job.bits is not None and job.out_size is None
            and job_bytes(job, tile=SUGGESTED_TILE, overlap=overlap) <= available):
        hint = f"--tile {SUGGESTED_TILE}"
    return (f"{name}: needs about {math.ceil(need / _GB * 10) / 10:.1f} GB of memory, "
            f"{available / _GB:.1f} GB available; try {hint}")
