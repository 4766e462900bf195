"""Checkpoints hold everything needed to resume exactly; they are written atomically."""

from __future__ import annotations

import os
import random
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srcli.errors import WeightsError

CKPT_RE = re.compile(r"ckpt_(\d+)\.pt$")


def rng_state() -> dict[str, Any]:
    """RNG states as tensors and plain tuples, so checkpoints load with weights_only=True."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temp file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def list_checkpoints(run_dir: Path) -> list[Path]:
    found = [(int(m.group(1)), p) for p in run_dir.glob("ckpt_*.pt")
             if (m := CKPT_RE.search(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(run_dir: Path, iteration: int, state: dict[str, Any], keep: int) -> Path:
    path = run_dir / f"ckpt_{iteration:08d}.pt"
    atomic_save(state, path)
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a training checkpoint. weights_only=True: a checkpoint never runs code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise WeightsError(f"cannot read checkpoint {path}: {exc}") from exc
    except Exception as exc:  # the unpickler refusing a non-tensor object
        raise WeightsError(f"refusing checkpoint {path}: it holds more than tensors ({exc})"
                           ) from exc


def resolve_resume(resume: str, out: str) -> Path | None:
    """`--resume DIR|FILE|auto` -> the checkpoint file to load (None: start fresh)."""
    target = Path(out if resume == "auto" else resume)
    if target.is_file():
        return target
    ckpts = list_checkpoints(target) if target.is_dir() else []
    if ckpts:
        return ckpts[-1]
    if resume == "auto":
        return None
    raise WeightsError(f"no checkpoint found in {target}")
