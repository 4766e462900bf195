"""How much memory a model needs per input pixel, measured without running it for real.

The model is copied to PyTorch's "meta" device (shapes, no data, no arithmetic) and run under
a dispatch mode that adds up the bytes of every freshly allocated tensor while it is alive.
The peak divided by the number of input pixels is the activation cost per LR pixel; it is
constant for convolutional models, so `--tile auto` can pick the largest tile for a budget
without trial and error. Real allocators add workspace and fragmentation on top (about 1.35x
measured for DAN on CPU), hence `SAFETY`.
"""

from __future__ import annotations

import copy
import os
import weakref
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

#: Real peak / measured peak allowance (oneDNN/cuDNN workspaces, allocator slack).
SAFETY = 1.5


class _LiveBytes(TorchDispatchMode):
    """Tracks the bytes of tensors created by each op (not views) until they are freed."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0

    def _free(self, nbytes: int) -> None:
        self.live -= nbytes

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        returns = func._schema.returns
        flat, _ = tree_flatten(out)
        for i, t in enumerate(flat):
            fresh = i >= len(returns) or returns[i].alias_info is None  # views/in-place alias
            if fresh and isinstance(t, torch.Tensor):
                nbytes = t.untyped_storage().nbytes()
                self.live += nbytes
                self.peak = max(self.peak, self.live)
                weakref.finalize(t, self._free, nbytes)
        return out


def bytes_per_pixel(model: nn.Module, dtype: torch.dtype = torch.float32, *,
                    probe: int = 64, channels_last: bool = False) -> float:
    """Peak activation bytes per LR input pixel of one forward pass (input included).

    Falls back to a real CPU forward at a small size if the model has ops without meta
    kernels. Returns the raw measurement; multiply by SAFETY for a budget.
    """
    multiple = getattr(getattr(model, "descriptor", None), "size_multiple", 1) or 1
    side = max(multiple, (probe // multiple) * multiple)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    try:
        probe_model = copy.deepcopy(model).to(device="meta", dtype=dtype)
        x = torch.empty(1, 3, side, side, device="meta", dtype=dtype, memory_format=fmt)
    except (RuntimeError, NotImplementedError):
        return _cpu_probe(model, dtype, side, fmt)
    try:
        return _measure(probe_model, x)
    except (RuntimeError, NotImplementedError):
        return _cpu_probe(model, dtype, min(side, 32), fmt)


def _cpu_probe(model: nn.Module, dtype: torch.dtype, side: int,
               fmt: torch.memory_format) -> float:
    probe_model = copy.deepcopy(model).to(device="cpu", dtype=dtype)
    x = torch.zeros(1, 3, side, side, dtype=dtype).contiguous(memory_format=fmt)
    return _measure(probe_model, x)


def _measure(model: nn.Module, x: torch.Tensor) -> float:
    with torch.inference_mode(), _LiveBytes() as live:
        model(x)
    pixels = x.shape[-1] * x.shape[-2]
    return (live.peak + x.element_size() * x.nelement()) / pixels


def available_ram() -> int:
    """Bytes of RAM available to new allocations (Linux MemAvailable; else half of total)."""
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
