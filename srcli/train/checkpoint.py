"""Checkpoints hold everything needed to resume exactly; they are written atomically."""

from __future__ import annotations

import os
import pickle
import random
import re
import tempfile
from collections.abc import Callable
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
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; use the user's umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


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
        size = path.stat().st_size
    except OSError as exc:
        raise WeightsError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise WeightsError(f"cannot read checkpoint {path}: the file is empty (0 bytes)")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # the unpickler refusing a non-tensor object
        if "GLOBAL" not in str(exc):
            raise WeightsError(f"cannot read checkpoint {path}: {size:,} bytes that are not a "
                               "checkpoint (truncated or corrupt)") from None
        raise WeightsError(f"refusing checkpoint {path}: it holds more than tensors "
                           f"({str(exc).splitlines()[0]})") from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, random bytes: all "unreadable"
        # torch's first sentence says what failed; the rest is a paragraph of speculation
        reason = str(exc).strip().split(". ")[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"cannot read checkpoint {path}: {size:,} bytes, truncated or "
                           f"corrupt ({reason})") from None
    if not isinstance(ck, dict) or not {"model", "config", "iteration"} <= set(ck):
        raise WeightsError(f"cannot read checkpoint {path}: not a srcli training checkpoint")
    return ck


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


def load_resume(resume: str, out: str, warn: Callable[[str], None]
                ) -> tuple[Path, dict[str, Any]] | None:
    """The checkpoint `--resume` names, loaded; None to start fresh.

    A named file must load. For a run folder (or `auto`) the newest *readable* checkpoint is
    used: a SIGKILL or a full disk can leave the last one damaged, and the one before it is
    a valid place to resume from; `warn` gets one line per checkpoint passed over.
    """
    target = Path(out if resume == "auto" else resume)
    if target.is_file():
        return target, load_checkpoint(target)
    ckpts = list_checkpoints(target) if target.is_dir() else []
    if not ckpts:
        if resume == "auto":
            return None
        raise WeightsError(f"no checkpoint found in {target}")
    reasons = []
    for path in reversed(ckpts):
        try:
            ck = load_checkpoint(path)
        except WeightsError as exc:
            reasons.append(str(exc))
            warn(f"{exc}; trying the previous checkpoint")
            continue
        return path, ck
    raise WeightsError(f"no readable checkpoint in {target} ({len(ckpts)} tried; newest: "
                       f"{reasons[0]})")
