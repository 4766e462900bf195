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
import hashlib
import json
import os
import weakref
from pathlib import Path
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


def cached_bytes_per_pixel(model: nn.Module, dtype: torch.dtype = torch.float32, *,
                           channels_last: bool = False) -> float:
    """`bytes_per_pixel`, remembered on disk per model structure, dtype and layout.

    Why: running ops on the meta device makes torch import its compiler stack (torch._dynamo,
    about 1.2 s of CPU here) the first time, which a one-image CLI run would pay every time.
    The figure depends only on the layers and shapes, so it is kept in
    `<srcli cache>/activation_bytes.json`; an unwritable cache just means measuring again.
    """
    key = _structure_key(model, dtype, channels_last)
    path = _cache_file()
    table = _read_table(path)
    if isinstance(table.get(key), (int, float)):
        return float(table[key])
    value = bytes_per_pixel(model, dtype, channels_last=channels_last)
    table[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, indent=0, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass
    return value


def _read_table(path: Path) -> dict[str, object]:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def _structure_key(model: nn.Module, dtype: torch.dtype, channels_last: bool) -> str:
    """A digest of what the activation footprint depends on (not the weights' values)."""
    parts = [type(model).__qualname__, repr(model), repr(getattr(model, "config", None)),
             repr(getattr(model, "descriptor", None)), str(dtype), str(channels_last),
             torch.__version__]
    parts += [f"{name}:{tuple(t.shape)}" for name, t in model.state_dict().items()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _cache_file() -> Path:
    base = os.environ.get("SRCLI_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "srcli")
    return Path(base) / "activation_bytes.json"


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

