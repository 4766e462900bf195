"""Device and CPU-thread choice shared by inference and training (a base module: any layer
may use it).

`resolve_device("auto")` picks CUDA, then MPS, then the CPU; an explicit choice that this
machine or this PyTorch cannot serve is a ConfigError (a usage error in the CLI). torch is
imported on call, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from srcli.errors import ConfigError
from srcli.vocabulary import DEVICE_PATTERN, DEVICES_TEXT

if TYPE_CHECKING:
    import torch


def resolve_device(spec: str) -> torch.device:
    """The torch.device for a `--device` value (see srcli.vocabulary.DEVICE_PATTERN)."""
    import torch

    spec = spec.strip().lower()
    if not DEVICE_PATTERN.match(spec):
        raise ConfigError(f"unknown device {spec!r} (use {DEVICES_TEXT})")
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_ok else "cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"CUDA is not available with this PyTorch ({torch.__version__})")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"no CUDA device {index} ({torch.cuda.device_count()} present)")
        return torch.device("cuda", index)
    if spec == "mps" and not mps_ok:
        raise ConfigError("MPS (Apple GPU) is not available on this machine")
    return torch.device(spec)


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count; by default the physical cores torch found, capped
    by the CPUs this process may run on (containers and `taskset` restrict that)."""
    import torch

    if threads is not None and threads < 1:
        raise ConfigError("--threads must be at least 1")
    if threads is None:
        threads = default_threads()
    torch.set_num_threads(threads)
    return threads


def default_threads() -> int:
    """What `set_threads(None)` picks: torch's physical-core count, capped by the CPUs this
    process may run on."""
    import torch

    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return min(torch.get_num_threads(), allowed or torch.get_num_threads())
