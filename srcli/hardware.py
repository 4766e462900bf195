"""What the CPU can do, read without importing torch (so `srcli models` and --help stay fast).

`cpu_bf16()` says whether this CPU has bfloat16 matrix units worth using by default: Intel AMX
(`amx_bf16`, Sapphire Rapids and later) or AVX-512 BF16 (`avx512_bf16`, Cooper Lake, Zen 4).
Measured on a Xeon with both (one core, torch.mm 2048²): about 1,240 GFLOP/s in bf16 against
190 GFLOP/s in fp32. A CPU without them still *runs* bf16 (converted in software), only slower
than fp32, which is why "torch can do bf16" is not the test. Off Linux the flags are not read
and the answer is no: fp32 stays the default there until someone measures otherwise.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

#: cpuinfo flags of bf16 matrix hardware, in the order they are reported.
FAST_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")


def flags_from_cpuinfo(text: str) -> frozenset[str]:
    """The feature flags of the first processor in a /proc/cpuinfo text (x86: `flags`,
    ARM: `Features`)."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """This machine's CPU flags; empty off Linux or when /proc/cpuinfo is unreadable."""
    if platform.system() != "Linux":
        return frozenset()
    try:
        return flags_from_cpuinfo(CPUINFO.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return frozenset()


def fast_bf16_flag(flags: frozenset[str]) -> str | None:
    """The first flag in `flags` that means fast bf16 matrix work, else None."""
    return next((f for f in FAST_BF16_FLAGS if f in flags), None)


def cpu_bf16() -> tuple[bool, str]:
    """(has fast bf16, why) for this CPU, e.g. (True, "CPU has amx_bf16")."""
    flag = fast_bf16_flag(cpu_flags())
    if flag is not None:
        return True, f"CPU has {flag}"
    if platform.system() != "Linux":
        return False, "CPU bf16 support not detected off Linux"
    return False, "CPU has no amx_bf16/avx512_bf16"
