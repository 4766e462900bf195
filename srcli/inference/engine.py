"""The inference engine: any model, any device, tiled, optionally with x8 self-ensemble.

`Upscaler(model, EngineOptions(...)).upscale(rgb)` takes an H×W×3 float32 array in [0, 1] and
returns the (H·s)×(W·s)×3 result. Everything model-specific comes from `model.descriptor`
(value range, half-precision support, size multiple), so there are no per-architecture
branches here.

- Device `auto` picks CUDA, then MPS, then CPU. Precision `auto` is fp16 (else bf16) on CUDA
  when the model allows it and fp32 elsewhere; a half-precision tile whose output is not
  finite is recomputed in fp32 (the "black image" failure of fp16 overflow).
- Tiles are blended over their overlap (see tiling.py). `tile="auto"` measures the model's
  activation bytes per pixel once (memory.py) and takes the largest square tile that fits the
  device's free memory (on CPU: half the available RAM, at most CPU_TILE_BUDGET). An
  out-of-memory error halves the tile and retries the image.
- Self-ensemble runs the model on the 8 dihedral transforms of each tile one after another
  (memory stays that of one pass) and averages the back-transformed outputs in fp32.
- CPU speed: the model is put in channels_last (oneDNN's preferred layout, ~10% faster on
  DAN here), runs under inference_mode, and the thread count is set explicitly.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srcli.errors import ConfigError, SrcliError
from srcli.inference.defaults import DEFAULT_OVERLAP, DEVICE_PATTERN
from srcli.inference.memory import SAFETY, available_ram, bytes_per_pixel
from srcli.inference.tiling import Blender, plan_tiles
from srcli.models.descriptor import ModelDescriptor

#: Largest activation working set `tile="auto"` plans for on CPU (keeps 1000² -> x4 < 2 GB RSS).
CPU_TILE_BUDGET = 1 << 30
MIN_TILE = 32
MAX_AUTO_TILE = 4096

Progress = Callable[[int, int], None]
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class EngineOptions:
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "auto"  # auto | fp32 | fp16 | bf16
    tile: int | str = "auto"  # LR pixels; 0 = whole image; "auto" = largest that fits
    tile_overlap: int = DEFAULT_OVERLAP
    ensemble: bool = False
    threads: int | None = None  # None: min(torch's default, CPUs this process may use)
    channels_last: bool = True


def resolve_device(spec: str) -> torch.device:
    spec = spec.strip().lower()
    if not DEVICE_PATTERN.match(spec):
        raise ConfigError(f"unknown device {spec!r} (use auto, cpu, cuda, cuda:N or mps)")
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


def resolve_dtype(spec: str, device: torch.device, desc: ModelDescriptor) -> torch.dtype:
    if spec not in PRECISIONS:
        raise ConfigError(f"unknown precision {spec!r} (use {', '.join(PRECISIONS)})")
    if spec == "auto":
        if device.type != "cuda":
            return torch.float32
        if desc.supports_fp16:
            return torch.float16
        if desc.supports_bf16 and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if spec == "fp16" and not desc.supports_fp16:
        raise ConfigError(f"model {desc.name!r} does not support fp16")
    if spec == "bf16" and not desc.supports_bf16:
        raise ConfigError(f"model {desc.name!r} does not support bf16")
    return _DTYPES[spec]


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count; by default the physical cores torch found, capped
    by the CPUs this process may run on (containers and `taskset` restrict that)."""
    if threads is not None and threads < 1:
        raise ConfigError("--threads must be at least 1")
    if threads is None:
        allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        threads = min(torch.get_num_threads(), allowed or torch.get_num_threads())
    torch.set_num_threads(threads)
    return threads


def _is_oom(exc: BaseException) -> bool:
    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t)
    if oom_types and isinstance(exc, oom_types):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text
                                              or "can't allocate memory" in text)


# The 8 dihedral transforms: k = 0..3 quarter turns, k = 4..7 the same after a horizontal flip.
def _transform(x: Tensor, k: int) -> Tensor:
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1)) if k % 4 else x


def _untransform(y: Tensor, k: int) -> Tensor:
    if k % 4:
        y = torch.rot90(y, -(k % 4), dims=(-2, -1))
    return y.flip(-1) if k >= 4 else y


class Upscaler:
    """Runs one model over whole images; see the module docstring for what it decides.

    The engine takes ownership of `model` (it is switched to eval mode and moved in place;
    for half precision an fp32 copy is kept for recomputing non-finite tiles).
    """

    def __init__(self, model: nn.Module, options: EngineOptions | None = None) -> None:
        options = options or EngineOptions()
        desc: ModelDescriptor | None = getattr(model, "descriptor", None)
        if desc is None:
            raise ConfigError("model has no .descriptor (create it with srcli.models)")
        self.descriptor = desc
        self.scale = desc.scale
        self.device = resolve_device(options.device)
        self.dtype = resolve_dtype(options.precision, self.device, desc)
        self.threads = set_threads(options.threads)
        self.ensemble = options.ensemble
        self.channels_last = options.channels_last
        if options.tile_overlap < 0:
            raise ConfigError("--tile-overlap must be >= 0")
        self.overlap = options.tile_overlap
        model.eval().requires_grad_(False)
        self._fp32_source = model if self.dtype != torch.float32 else None
        self._fp32_model: nn.Module | None = None
        if self.dtype == torch.float32:
            self._model = self._fp32_model = self._prepare(model, torch.float32)
        else:
            self._model = self._prepare(copy.deepcopy(model), self.dtype)
        self.tile = self._resolve_tile(options.tile)

    # ---------------------------------------------------------------- setup

    def _prepare(self, model: nn.Module, dtype: torch.dtype) -> nn.Module:
        model = model.to(device=self.device, dtype=dtype)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def _resolve_tile(self, tile: int | str) -> int:
        if tile == "auto":
            return self.auto_tile()
        if isinstance(tile, str):
            if not tile.isdigit():
                raise ConfigError(f"--tile must be a number of pixels, 0 or auto, not {tile!r}")
            tile = int(tile)
        if tile < 0:
            raise ConfigError("--tile must be >= 0")
        if 0 < tile <= 2 * self.overlap:
            raise ConfigError(f"--tile {tile} must be more than twice --tile-overlap "
                              f"({self.overlap})")
        return tile

    def memory_budget(self) -> int:
        """Bytes of activations one tile may use on this device."""
        if self.device.type == "cuda":
            free, _total = torch.cuda.mem_get_info(self.device)
            return int(free * 0.8)
        if self.device.type == "mps":
            return available_ram() // 2
        return min(available_ram() // 2, CPU_TILE_BUDGET)

    def auto_tile(self) -> int:
        """Largest square tile (LR pixels, multiple of 8) whose activations fit the budget."""
        per_pixel = bytes_per_pixel(self._model, self.dtype, channels_last=self.channels_last)
        side = math.isqrt(int(self.memory_budget() / (per_pixel * SAFETY)))
        side = min(MAX_AUTO_TILE, side // 8 * 8)
        return max(side, MIN_TILE, 4 * self.overlap)

    def passes(self, height: int, width: int, tile: int | None = None) -> int:
        """Model evaluations needed for an LR image of height × width."""
        tiles = plan_tiles(height, width, self.tile if tile is None else tile, self.overlap)
        return len(tiles) * (8 if self.ensemble else 1)

    # ---------------------------------------------------------------- running

    def upscale(self, rgb: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """H×W×3 float32 in [0, 1] -> (H·s)×(W·s)×3 float32 in [0, 1]."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an H×W×3 array, got shape {rgb.shape}")
        x = torch.as_tensor(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)
        while True:
            try:
                out = self.upscale_tensor(x, progress)
                return out.permute(1, 2, 0).numpy()
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                self.tile = self._smaller_tile(x.shape[1], x.shape[2])
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    def _smaller_tile(self, height: int, width: int) -> int:
        current = self.tile if self.tile > 0 else max(height, width)
        smaller = current // 2
        if smaller < max(MIN_TILE, 2 * self.overlap + 1):
            raise SrcliError(f"out of memory on {self.device} even with --tile {current}; "
                             "try --device cpu or a smaller --tile-overlap")
        return smaller

    def upscale_tensor(self, x: Tensor, progress: Progress | None = None) -> Tensor:
        """(3, H, W) float32 CPU tensor in [0, 1] -> (3, H·s, W·s), using `self.tile`."""
        _, h, w = x.shape
        tiles = plan_tiles(h, w, self.tile, self.overlap)
        per_tile = 8 if self.ensemble else 1
        total, done = len(tiles) * per_tile, 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        # Everything, blending included, in inference mode: outputs are inference tensors,
        # which may not be updated in place outside it.
        with torch.inference_mode():
            if len(tiles) == 1:
                return self._run_tile(x[None], tick)[0].clamp_(0.0, 1.0)
            blender = Blender(x.shape[0], h, w, self.scale, self.overlap)
            for t in tiles:
                blender.add(t, self._run_tile(x[None, :, t.y0:t.y1, t.x0:t.x1], tick)[0])
            return blender.result().clamp_(0.0, 1.0)

    def _run_tile(self, x: Tensor, tick: Callable[[], None]) -> Tensor:
        """(1, 3, h, w) CPU float32 -> (1, 3, h·s, w·s) CPU float32 (unclamped)."""
        if not self.ensemble:
            out = self._forward(x)
            tick()
            return out
        acc: Tensor | None = None
        for k in range(8):
            y = _untransform(self._forward(_transform(x, k)), k)
            acc = y if acc is None else acc.add_(y)
            tick()
        assert acc is not None
        return acc.div_(8.0)

    def _forward(self, x: Tensor) -> Tensor:
        """One model evaluation: range scaling, padding to the size multiple, fp32 fallback."""
        desc, s = self.descriptor, self.scale
        h, w = x.shape[-2:]
        m = max(desc.size_multiple, 1)
        pad_h, pad_w = (-h) % m, (-w) % m
        xin = x.to(self.device, non_blocking=True)
        if desc.input_range != 1.0:
            xin = xin * desc.input_range
        if pad_h or pad_w:
            xin = F.pad(xin, (0, pad_w, 0, pad_h), mode="replicate")
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        xin = xin.contiguous(memory_format=fmt)
        y = self._model(xin.to(self.dtype))
        if self.dtype != torch.float32 and not bool(torch.isfinite(y).all()):
            y = self._fp32()(xin.float())
        y = y[..., : h * s, : w * s].float()
        if desc.input_range != 1.0:
            y = y / desc.input_range
        return y.to("cpu").contiguous()

    def _fp32(self) -> nn.Module:
        if self._fp32_model is None:
            assert self._fp32_source is not None
            self._fp32_model = self._prepare(self._fp32_source, torch.float32)
        return self._fp32_model
