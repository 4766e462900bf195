"""Checks that run before a training run loads anything: options, the model config, the run
folder and the validation set. A bad option must cost the user a second, not the minutes it
takes to decode the training images (and must never surface as an internal error later)."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from srcli.errors import ConfigError, DataError, SrcliError
from srcli.train.config import TrainConfig
from srcli.vocabulary import DATASETS, LR_SCHEDULES, one_of

#: Names a run folder's own files have (checkpoints, their temps, the log and config).
_RUN_FILE = re.compile(r"^(ckpt_\d+\.pt|\.ckpt_\d+\.pt\..+|log\.jsonl|config\.json)$")


def _at_least(cfg: TrainConfig, minimum: float, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
            flag = {"warmup_iters": "warmup", "keep_ckpts": "keep"}.get(name, name)
            raise ConfigError(f"--{flag.replace('_', '-')} must be at least {minimum:g}, "
                              f"not {value}")


def check_options(cfg: TrainConfig) -> None:
    """Every numeric and named option, with the flag's name in the message (--amp, --loss
    and --degradation are checked by loop._check)."""
    _at_least(cfg, 1, "patch", "batch", "iters", "epoch_iters", "decay_epochs", "val_every",
              "ckpt_every", "log_every")
    _at_least(cfg, 0, "warmup_iters", "val_limit", "keep_ckpts", "threads", "grad_clip")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise ConfigError(f"--lr must be a positive number, not {cfg.lr}")
    if cfg.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"--lr-schedule must be {one_of(LR_SCHEDULES)}, "
                          f"not {cfg.lr_schedule!r}")
    if not 0.0 <= cfg.ema < 1.0:
        raise ConfigError(f"--ema must be in [0, 1) (0 = off, e.g. 0.999), not {cfg.ema:g}")


def _type_ok(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list | tuple):
        return isinstance(value, list | tuple)
    return True  # None or another type: the model's own checks decide


def check_model(cfg: TrainConfig) -> None:
    """`--model`, `--scale` and every `--set`: types, then a build and a tiny forward pass."""
    from srcli.models import create_model
    from srcli.models.registry import make_config

    defaults = make_config(cfg.model, cfg.scale)  # unknown model or scale: its own message
    values = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}
    for key, value in cfg.model_config.items():
        if key in values and not _type_ok(values[key], value):
            raise ConfigError(f"--set {key}={value}: expected {type(values[key]).__name__} "
                              f"like the default {values[key]!r}")
    try:
        with warnings.catch_warnings(), torch.no_grad():  # zero-size layers warn, then fail
            warnings.simplefilter("ignore", UserWarning)
            model = create_model(cfg.model, cfg.scale, **cfg.model_config)
            side = max(16, model.descriptor.size_multiple or 1)
            model.eval()(torch.zeros(1, 3, side, side))
    except SrcliError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure means "this config is not a model"
        sets = " ".join(f"--set {k}={v}" for k, v in cfg.model_config.items()) or "defaults"
        raise ConfigError(f"model {cfg.model} x{cfg.scale} with {sets} does not work: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                          ) from None


def check_run_dir(run_dir: Path, *, resume: str | None, overwrite: bool, main: bool) -> None:
    """Refuse to start a new run in a folder that holds something, unless told to.

    Mixing two runs in one folder interleaves their logs and lets `--keep` and `--resume
    auto` act on the other run's checkpoints. `overwrite` removes the earlier run's own files
    (checkpoints, log, config); anything else in the folder is left alone.
    """
    if resume is not None or not run_dir.exists():
        return
    if not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir} is a file, not a run folder")
    entries = sorted(p.name for p in run_dir.iterdir())
    if not entries:
        return
    if not overwrite:
        raise ConfigError(
            f"run folder {run_dir} is not empty ({len(entries)} entries, e.g. {entries[0]}); "
            "continue that run with --resume auto, clear it with --overwrite, or pick "
            "another --out")
    if main:
        for name in entries:
            if _RUN_FILE.match(name):
                path = run_dir / name
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def resolve_val(spec: str, on_warning: Callable[[str], None]) -> str:
    """The validation folder for `--val` ("" = none), found now rather than after the
    training images are decoded; a benchmark set gets a warning."""
    from srcli.data.benchmark import resolve_dataset

    if not spec:
        return ""
    try:
        folder = resolve_dataset(spec, download=False)
    except DataError:
        if Path(spec).expanduser().exists():
            raise
        raise DataError(f"validation set {spec!r} not found: give --val a folder of HR "
                        "images, or set SRCLI_DATA to the folder holding "
                        f"{DATASETS.get(spec.lower(), spec)}/") from None
    parts = {p.lower() for p in Path(folder).resolve().parts}
    bench = spec.lower() if spec.lower() in DATASETS else next(
        (DATASETS[k] for k in DATASETS if k in parts), None)
    if bench:
        on_warning(f"validating on the benchmark {bench}: choosing checkpoints by its score "
                   "makes later benchmark numbers optimistic; prefer a separate validation "
                   "folder (--val DIR or SRCLI_VAL_DATA)")
    return str(folder)
