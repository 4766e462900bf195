"""Read a state dict from a weights file without ever running code stored in it.

`.safetensors` is the preferred format: a JSON header plus raw tensor bytes, nothing to
execute. `.pt` / `.pth` / `.bin` pickles (super-image's hub files are these) are opened with
`torch.load(weights_only=True)`, whose restricted unpickler only rebuilds tensors, plain
containers and numbers; a pickle that asks for any other global (a class, `os.system`, ...)
is refused with a WeightsError instead of being executed.
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from srcli.errors import WeightsError

__all__ = ["read_safetensors_metadata", "read_sidecar", "read_state_dict", "sniff_format"]

PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt"}
# Common wrappers around a state dict in training checkpoints, most preferred first.
_WRAPPER_KEYS = ("state_dict", "params_ema", "params", "model")


def sniff_format(path: Path) -> str:
    """'safetensors' or 'pickle', from the suffix, else from the first bytes."""
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return "safetensors"
    if suffix in PICKLE_SUFFIXES:
        return "pickle"
    with open(path, "rb") as fh:
        head = fh.read(9)
    # safetensors: 8-byte little-endian header length, then the JSON header.
    if len(head) == 9 and head[8:9] == b"{":
        return "safetensors"
    if zipfile.is_zipfile(path) or head[:1] == b"\x80":  # torch zip container or raw pickle
        return "pickle"
    raise WeightsError(f"{path}: unknown weights format (expected .safetensors, .pt or .pth)")


def read_safetensors_metadata(path: Path) -> dict[str, str]:
    """The string metadata stored in a safetensors header ({} when there is none)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None


def _refused_global(message: str) -> str | None:
    # torch words it "Unsupported global: GLOBAL a.b" or "unsupported GLOBAL a.b whose ..."
    match = re.search(r"GLOBAL\s+([\w.]+)", message)
    return match.group(1) if match else None


def _read_pickle(path: Path) -> Any:
    try:
        with warnings.catch_warnings():  # garbage "protocol 230" warnings: we refuse it below
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        what = _refused_global(str(exc))
        if what is None:  # not a refusal: the bytes are not a valid pickle at all
            raise WeightsError(f"{path}: not a readable PyTorch checkpoint (corrupt or not a "
                               "pickle)") from None
        raise WeightsError(
            f"refusing {path.name}: the pickle needs {what}, not just tensors; srcli only loads "
            "tensor-only checkpoints (convert it to .safetensors where you trust it)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - random bytes raise IndexError, KeyError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({first})") from None


def _unwrap(obj: Any, path: Path) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    if obj and not any(isinstance(v, Tensor) for v in obj.values()):
        for key in _WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and any(isinstance(v, Tensor) for v in inner.values()):
                return inner
    return obj


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a `.safetensors` or tensor-only `.pt/.pth` file, on the CPU.

    A checkpoint that wraps its state dict (`{"state_dict": {...}}`, `{"params_ema": ...}`,
    `{"model": ...}`) is unwrapped. Anything that is not a name -> tensor mapping is refused.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weights file not found: {p}")
    if sniff_format(p) == "safetensors":
        return _read_safetensors(p)
    state = _unwrap(_read_pickle(p), p)
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise WeightsError(f"{p}: entries that are not tensors: {', '.join(map(str, bad[:3]))}")
    return dict(state)


def read_sidecar(weights_path: Path) -> dict[str, Any] | None:
    """The JSON sidecar `srcli train export` writes next to a weights file, if present."""
    side = weights_path.with_suffix(".json")
    if not side.is_file():
        return None
    try:
        data = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{side}: unreadable sidecar ({exc})") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{side}: sidecar is not a JSON object")
    return data
