"""Process-wide settings the commands apply before heavy work (the CLI decides, not the library).

`keep_freed_memory()`: glibc's malloc serves every block above its mmap threshold (128 KB
at first, at most 32 MB as it adapts) with a fresh `mmap` and returns it to the kernel on
free. Every activation of an SR network is such a block, so each pass page-faults its whole
working set in again and the kernel zeroes it. Raising the mmap and trim thresholds keeps
freed blocks in the heap for the next pass. Measured here (process CPU time, 1 thread, beside
two training jobs): a ×4 DAN forward on 250×250 took 85,900 minor faults and 1.11 s, then 0
faults and 0.84 s, peak RSS 626 -> 625 MB; a training step (batch 16, 32² patches) took
18-21 k faults and 0.55-0.59 s, then 0.50-0.52 s.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

_M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_KEEP = 1 << 30  # 1 GiB: larger than any single activation block of a tiled run


def keep_freed_memory() -> bool:
    """Make glibc malloc keep and reuse large freed blocks; True when applied.

    A no-op off glibc (macOS, Windows, musl) and when the user set glibc's own MALLOC_*_
    tuning variables, which win.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(k.startswith("MALLOC_") and k.endswith("_") for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if not mallopt(_M_TRIM_THRESHOLD, _KEEP):
        return False
    # Older glibc caps the mmap threshold at 32 MB; then turn mmap off for malloc instead.
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP) or mallopt(_M_MMAP_MAX, 0))
