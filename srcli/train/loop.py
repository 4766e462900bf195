"""The training loop, top to bottom: setup, resume, then iterate (step, log, validate, save).

Nothing here prints: progress goes to a `Reporter` (the CLI draws it with Rich) and to a JSONL
log in the run folder. Distributed data parallel is set up from torchrun's environment.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from srcli.data.patches import Prefetcher, build_patch_set, find_images, load_rgb
from srcli.devices import resolve_device, set_threads
from srcli.errors import ConfigError
from srcli.imaging.color import Y_COEFFS
from srcli.imaging.degrade import degrade
from srcli.metrics import psnr
from srcli.models import count_parameters, create_model
from srcli.train import guard
from srcli.train.checkpoint import (
    load_checkpoint,
    load_resume,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from srcli.train.config import TrainConfig
from srcli.train.schedule import lr_at
from srcli.vocabulary import AMP_MODES, DEGRADATIONS, LOSSES, X3_ONLY_DEGRADATIONS, one_of


class Reporter(Protocol):
    def event(self, kind: str, record: dict[str, Any]) -> None: ...


class NullReporter:
    def event(self, kind: str, record: dict[str, Any]) -> None:
        pass


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_kind: str) -> Dist:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    backend = "nccl" if device_kind == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(spec: str, local_rank: int) -> torch.device:
    """`--device` as upscale reads it; under torchrun a bare CUDA choice means this rank's GPU."""
    dev = resolve_device(spec)
    if dev.type == "cuda" and ":" not in spec:
        dev = torch.device("cuda", local_rank)
    return dev


@dataclass
class ValSet:
    name: str
    lr: list[torch.Tensor]  # [1,3,h,w] float in [0,1]
    hr: list[np.ndarray]  # uint8 HR (modcropped)


def load_val_set(spec: str, scale: int, degradation: str, limit: int) -> ValSet:
    """Validation pairs from a benchmark name or a folder of HR images (fixed DN seed)."""
    from srcli.data.benchmark import resolve_dataset  # the bench's dataset lookup

    folder = resolve_dataset(spec)
    paths = find_images([folder])[: limit or None]
    rng = np.random.default_rng(0)
    lrs, hrs = [], []
    for p in paths:
        hr = load_rgb(p)
        lr = degrade(hr, scale, degradation, rng)
        hrs.append(hr[: lr.shape[0] * scale, : lr.shape[1] * scale])
        lrs.append(torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1)[None] / 255.0)
    return ValSet(spec, lrs, hrs)


@torch.no_grad()
def validate(model: nn.Module, val: ValSet, scale: int, device: torch.device) -> float:
    """Mean Y-PSNR (crop = scale) with outputs clamped and rounded to uint8, as `bench` does."""
    model.eval()
    scores = []
    for lr, hr in zip(val.lr, val.hr, strict=True):
        sr = model(lr.to(device)).clamp_(0, 1).mul_(255).round_().byte()
        scores.append(psnr(sr[0].permute(1, 2, 0).cpu().numpy(), hr, crop=scale))
    model.train()
    return float(np.mean(scores))


@dataclass
class TrainState:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    ema: dict[str, torch.Tensor] | None
    iteration: int = 0
    best_psnr: float = -math.inf
    history: list[dict[str, Any]] = field(default_factory=list)


def init_from(model: nn.Module, path: str, grow: bool = False) -> dict[str, list[str]]:
    """Copy every tensor of `path` whose name and shape match; report the rest.

    `grow`: a tensor smaller than the model's (a narrower model of the same architecture) is
    embedded by `grown`, and a residual block none of whose tensors came from `path` (a
    deeper model: DAN's extra DABs are appended after the parent's) starts as the identity
    through its `zero_residual`; so the grown model starts as the same function.
    """
    from srcli.weights.checkpoint import read_state_dict  # safetensors or tensor-only pickle

    src = read_state_dict(path)  # also unwraps a training checkpoint's {"model": ...}
    own = model.state_dict()
    loaded = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
    if grow:
        for k in set(src).intersection(own).difference(loaded):
            if (t := grown(own[k], src[k])) is not None:
                loaded[k] = t
    model.load_state_dict(loaded, strict=False)
    report = {"loaded": sorted(loaded), "skipped": sorted(set(own) - set(loaded)),
              "unused": sorted(set(src) - set(loaded))}
    if grow:
        report["identity"] = _identity_blocks(model, set(loaded))
    return report


def _identity_blocks(model: nn.Module, loaded: set[str]) -> list[str]:
    """Zero the residual of every block with `zero_residual` that got no tensor from the
    parent; return their names."""
    names = []
    for name, module in model.named_modules():
        zero = getattr(module, "zero_residual", None)
        if callable(zero) and not any(f"{name}.{k}" in loaded for k in module.state_dict()):
            zero()
            names.append(name)
    return names


def grown(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor | None:
    """`old` embedded in the leading corner of `new` (None if it does not fit).

    Conv weights are (out, in, k, k): the old block is copied, the old outputs get zero
    weights from the new inputs, and the new outputs keep their fresh random weights. New
    channels so never reach an old one, and every layer mixing channels is a conv here, so
    the widened net computes what the narrow one did (pixel shuffle keeps channel c's
    sub-pixels at c*r*r..c*r*r+r*r-1, inside the old block for old c) until training uses
    the new channels.
    """
    if new.dim() != old.dim() or new.shape[2:] != old.shape[2:] or \
            any(o > n for o, n in zip(old.shape, new.shape, strict=True)):
        return None
    out = new.detach().clone()
    if out.dim() >= 2:
        out[:old.shape[0], old.shape[1]:] = 0
    out[tuple(slice(0, s) for s in old.shape)] = old
    return out


def _update_ema(ema: dict[str, torch.Tensor], model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(decay).add_(v.detach(), alpha=1 - decay)
            else:
                ema[k].copy_(v)


def _state_dict(state: TrainState, cfg: TrainConfig) -> dict[str, Any]:
    return {"model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
            "ema": state.ema, "iteration": state.iteration, "best_psnr": state.best_psnr,
            "config": cfg.to_dict(), "rng": rng_state(), "history": state.history}


class _StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint and returns cleanly."""

    def __init__(self) -> None:
        self.raised = False
        self.signum = 0  # the signal that stopped the run (agreed across ranks), 0 = none
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # signal() fails outside the main thread (e.g. a test runner thread): no handler.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True
        self.signum = self.signum or signum

    def agree(self, dd: Dist, device: torch.device) -> bool:
        """True on every rank as soon as any rank was signalled (all must stop at the same
        iteration: a rank that stops alone leaves the others blocked in DDP's all-reduce).
        One tiny all-reduce per iteration; the largest signal number wins."""
        if dd.world > 1:
            flag = torch.tensor([self.signum], dtype=torch.int32, device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            self.signum = int(flag.item())
            self.raised = self.signum != 0
        return self.raised

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def build_state(cfg: TrainConfig, device: torch.device, resume_from: Path | None,
                reporter: Reporter) -> TrainState:
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, cfg.scale, **cfg.model_config).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.adam_betas),
                           eps=cfg.adam_eps)
    state = TrainState(model, opt, None)
    if resume_from is not None:
        ck = load_checkpoint(resume_from)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if cfg.ema and ck.get("ema") is not None:
            state.ema = {k: v.to(device) for k, v in ck["ema"].items()}
        state.iteration, state.best_psnr = ck["iteration"], ck.get("best_psnr", -math.inf)
        state.history = list(ck.get("history", []))
        set_rng_state(ck["rng"])
        reporter.event("resume", {"checkpoint": str(resume_from), "iteration": state.iteration})
    elif cfg.init_from:
        report = init_from(model, cfg.init_from, grow=cfg.init_grow)
        reporter.event("init_from", {"path": cfg.init_from, **report})
    if cfg.ema and state.ema is None:  # after init_from: the average starts from those weights
        state.ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return state


# What a resumed run takes from the command line rather than the checkpoint: the horizon and
# settings that change speed or placement, never the recipe (model, data, schedule, seed).
RUNTIME_FIELDS = ("iters", "threads", "device", "channels_last", "out")


# Share of the plain RGB L1 kept in the l1y loss, so colour stays anchored to the target
# while most of the gradient goes to the luma error that PSNR/SSIM measure.
L1Y_RGB_WEIGHT = 0.25


def luma_l1_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """L1 of the BT.601 luma difference plus a quarter of the RGB L1 (N×3×H×W, 0-1 range)."""
    diff = sr - hr
    # The metric's luma weights (the channel every benchmark scores); on 0-1 RGB they give
    # luma on the 0-1 scale, and its 16/255 offset cancels in a difference.
    w = diff.new_tensor(Y_COEFFS).view(1, 3, 1, 1)
    return (diff * w).sum(dim=1).abs().mean() + L1Y_RGB_WEIGHT * diff.abs().mean()


#: Pixel losses by --loss name. FSRCNN and VDSR train on luma only; l1y leans that way but
#: keeps a colour term, since srcli upscales all three channels with one network.
LOSS_FUNCTIONS = {"l1": F.l1_loss, "l2": F.mse_loss, "l1y": luma_l1_loss}
assert tuple(LOSS_FUNCTIONS) == LOSSES  # one function per name of the vocabulary


def _check(cfg: TrainConfig) -> None:
    if cfg.loss not in LOSSES:
        raise ConfigError(f"--loss must be {one_of(LOSSES)}, not {cfg.loss!r}")
    if cfg.degradation not in DEGRADATIONS:
        raise ConfigError(f"--degradation must be {one_of(DEGRADATIONS)}, "
                          f"not {cfg.degradation!r}")
    if cfg.degradation in X3_ONLY_DEGRADATIONS and cfg.scale != 3:
        raise ConfigError("BD and DN degradations are defined for scale 3 only")
    bad = [f for f in cfg.scale_aug if not 0.0 < f < 1.0]
    if bad:
        raise ConfigError(f"--scale-aug factors must be in (0, 1), not {bad[0]:g}")
    if not cfg.data:
        raise ConfigError("no training data: pass --data DIR or set SRCLI_TRAIN_DATA")
    if cfg.amp not in AMP_MODES:
        raise ConfigError(f"--amp must be {one_of(AMP_MODES)}, not {cfg.amp!r}")
    if cfg.amp == "fp16" and cfg.device in ("cpu", "mps"):
        raise ConfigError("--amp fp16 needs a CUDA device; on a CPU use --amp bf16")


def _log(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / "log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def train(cfg: TrainConfig, resume: str | None = None, reporter: Reporter | None = None,
          overwrite: bool = False) -> dict[str, Any]:
    """Run (or resume) training; returns a summary. Only rank 0 logs, validates and saves.

    Everything the command line can get wrong is checked before any image is decoded. A new
    run refuses a non-empty `cfg.out` unless `overwrite` (which clears the old run's files).
    """
    reporter = reporter or NullReporter()
    main = int(os.environ.get("RANK", "0")) == 0

    def warn(message: str) -> None:
        if main:
            reporter.event("warning", {"message": message})

    _check(cfg)
    guard.check_options(cfg)
    guard.check_model(cfg)
    run_dir = Path(cfg.out)
    guard.check_run_dir(run_dir, resume=resume, overwrite=overwrite, main=main)
    set_threads(cfg.threads or None)  # 0: upscale's default, the cores this process may use
    found = load_resume(resume, cfg.out, warn) if resume else None
    resume_from = found[0] if found else None
    if found is not None:  # the checkpoint's config wins, except what must change
        saved = TrainConfig.from_dict(found[1]["config"])
        for name in RUNTIME_FIELDS:
            setattr(saved, name, getattr(cfg, name))
        cfg = saved
    guard.resolve_val(cfg.val, warn)
    device_kind = "cuda" if torch.cuda.is_available() and cfg.device != "cpu" else "cpu"
    dd = setup_distributed(device_kind)
    device = pick_device(cfg.device, dd.local_rank)
    state = build_state(cfg, device, resume_from, reporter)
    model: nn.Module = state.model
    if dd.world > 1:
        model = nn.parallel.DistributedDataParallel(
            state.model, device_ids=[device.index] if device.type == "cuda" else None)
    patches = build_patch_set(cfg.data, cfg.scale, cfg.degradation, cfg.patch,
                              cfg.scale_aug)
    val = load_val_set(cfg.val, cfg.scale, cfg.degradation, cfg.val_limit) \
        if cfg.val and dd.main else None
    if dd.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        reporter.event("start", {"params": count_parameters(state.model), "device": str(device),
                                 "images": len(patches.hr), "skipped_small": patches.skipped,
                                 "world": dd.world, "start": state.iteration,
                                 "iters": cfg.iters})
    scaler_ctx = _amp_context(cfg, device)
    with _StopFlag() as stop:
        _run(cfg, state, model, patches, val, dd, device, run_dir, reporter, stop, scaler_ctx)
    summary = {"iteration": state.iteration, "best_psnr": state.best_psnr,
               "run_dir": str(run_dir), "signal": stop.signum}
    if dd.world > 1:
        summary["replicas_in_sync"] = _replicas_in_sync(state.model)
        if dd.main:
            _log(run_dir, {"iter": state.iteration, "world": dd.world,
                           "replicas_in_sync": summary["replicas_in_sync"]})
        # Free DDP's reducer and let every rank reach teardown before gloo closes its pairs:
        # a rank tearing down while its peer still wrote the log aborted 1 run in ~5.
        del model
        dist.barrier()
        dist.destroy_process_group()
    return summary


def _replicas_in_sync(model: nn.Module) -> bool:
    """True when every rank holds bit-identical weights (DDP's whole promise, checked)."""
    import hashlib

    digest = hashlib.sha256()
    for t in model.state_dict().values():
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    gathered: list[str | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, digest.hexdigest())
    return len(set(gathered)) == 1


def _amp_context(cfg: TrainConfig, device: torch.device) -> tuple[Any, Any]:
    """(autocast context factory, grad scaler or None) for --amp.

    bf16 runs the convolutions and matmuls in bf16 while the master weights, the optimizer
    state and the loss stay fp32 (the loss is computed outside autocast). On CPUs with AMX or
    AVX512-BF16 this is where the speed comes from; bf16 keeps fp32's exponent range, so no
    loss scaling is needed. fp16 (CUDA only) needs the grad scaler.
    """
    if cfg.amp == "none" or device.type not in ("cuda", "cpu"):
        return (lambda: torch.autocast(device.type, enabled=False)), None
    dtype = torch.bfloat16 if cfg.amp == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return (lambda: torch.autocast(device.type, dtype=dtype)), scaler


def _run(cfg: TrainConfig, state: TrainState, model: nn.Module, patches: Any,
         val: ValSet | None, dd: Dist, device: torch.device, run_dir: Path,
         reporter: Reporter, stop: _StopFlag, amp: tuple[Any, Any]) -> None:
    autocast, scaler = amp
    feeder = Prefetcher(patches, cfg.batch, cfg.patch, cfg.seed, dd.rank, state.iteration,
                        cfg.iters)
    t0, loss_sum, n = time.perf_counter(), 0.0, 0
    try:
        for it, lr_b, hr_b in feeder:
            lr_now = lr_at(it, cfg)
            for g in state.optimizer.param_groups:
                g["lr"] = lr_now
            loss = _step(cfg, state, model, lr_b.to(device), hr_b.to(device), autocast, scaler)
            state.iteration = it + 1
            loss_sum, n = loss_sum + loss, n + 1
            stopping = stop.agree(dd, device)
            if not dd.main:
                if stopping:
                    break
                continue
            done = state.iteration
            if done % cfg.log_every == 0 or done == cfg.iters:
                rate = n / (time.perf_counter() - t0)
                rec = {"iter": done, "loss": loss_sum / n, "last_loss": loss, "lr": lr_now,
                       "it_per_s": rate, "time": time.time()}
                _log(run_dir, rec)
                reporter.event("log", rec)
                t0, loss_sum, n = time.perf_counter(), 0.0, 0
            if val is not None and (done % cfg.val_every == 0 or done == cfg.iters):
                _validate_and_log(cfg, state, val, device, run_dir, reporter)
            if done % cfg.ckpt_every == 0 or done == cfg.iters or stopping:
                path = save_checkpoint(run_dir, done, _state_dict(state, cfg), cfg.keep_ckpts)
                reporter.event("checkpoint", {"iter": done, "path": str(path)})
            if stopping:
                reporter.event("stopped", {"iter": done})
                break
    finally:
        feeder.close()


def _step(cfg: TrainConfig, state: TrainState, model: nn.Module, lr_b: torch.Tensor,
          hr_b: torch.Tensor, autocast: Any, scaler: Any) -> float:
    if cfg.channels_last:
        lr_b = lr_b.contiguous(memory_format=torch.channels_last)
    with autocast():
        sr = model(lr_b)
    # The loss in fp32 whatever autocast produced: an L1 of bf16 values rounds away the small
    # residuals that late training is about.
    loss = LOSS_FUNCTIONS[cfg.loss](sr.float(), hr_b)
    state.optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(state.optimizer)
    else:
        loss.backward()
    if cfg.grad_clip:
        nn.utils.clip_grad_norm_(state.model.parameters(), cfg.grad_clip)
    if scaler is not None:
        scaler.step(state.optimizer)
        scaler.update()
    else:
        state.optimizer.step()
    if state.ema is not None:
        _update_ema(state.ema, state.model, cfg.ema)
    return float(loss.detach())


def _validate_and_log(cfg: TrainConfig, state: TrainState, val: ValSet, device: torch.device,
                      run_dir: Path, reporter: Reporter) -> None:
    rec: dict[str, Any] = {"iter": state.iteration, "val": val.name,
                           "psnr": validate(state.model, val, cfg.scale, device)}
    if state.ema is not None:
        live = {k: v.clone() for k, v in state.model.state_dict().items()}
        state.model.load_state_dict(state.ema)
        rec["psnr_ema"] = validate(state.model, val, cfg.scale, device)
        state.model.load_state_dict(live)
    state.best_psnr = max(state.best_psnr, rec["psnr"], rec.get("psnr_ema", -math.inf))
    state.history.append(rec)
    _log(run_dir, {**rec, "time": time.time()})
    reporter.event("val", rec)
