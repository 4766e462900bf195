"""The training loop, top to bottom: check, set up, resume, then iterate (step, log, validate,
save).

Nothing here prints: progress goes to a `Reporter` (the CLI draws it with Rich) and to a JSONL
log in the run folder. The pieces the loop calls live beside it: `losses` (the --loss
functions), `surgery` (--init-from, --init-grow), `distributed` (torchrun, the stop signal all
ranks agree on, the replica check), `validation`, `checkpoint`, `schedule` and `guard`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from srcli.data.patches import Prefetcher, build_patch_set
from srcli.devices import set_threads
from srcli.errors import ConfigError
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
from srcli.train.distributed import (
    Dist,
    StopFlag,
    launched_as_main,
    pick_device,
    replicas_in_sync,
    setup_distributed,
    shutdown,
    wrap,
)
from srcli.train.losses import LOSS_FUNCTIONS
from srcli.train.schedule import lr_at
from srcli.train.surgery import init_from
from srcli.train.validation import ValSet, load_val_set, validate_live_and_ema
from srcli.vocabulary import AMP_MODES, DEGRADATIONS, LOSSES, X3_ONLY_DEGRADATIONS, one_of


class Reporter(Protocol):
    def event(self, kind: str, record: dict[str, Any]) -> None: ...


class NullReporter:
    def event(self, kind: str, record: dict[str, Any]) -> None:
        pass


@dataclass
class TrainState:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    ema: dict[str, torch.Tensor] | None
    iteration: int = 0
    best_psnr: float = -math.inf
    history: list[dict[str, Any]] = field(default_factory=list)


# What a resumed run takes from the command line rather than the checkpoint: the horizon and
# settings that change speed or placement, never the recipe (model, data, schedule, seed).
RUNTIME_FIELDS = ("iters", "threads", "device", "channels_last", "out")


def train(cfg: TrainConfig, resume: str | None = None, reporter: Reporter | None = None,
          overwrite: bool = False) -> dict[str, Any]:
    """Run (or resume) training; returns a summary. Only rank 0 logs, validates and saves.

    Everything the command line can get wrong is checked before any image is decoded. A new
    run refuses a non-empty `cfg.out` unless `overwrite` (which clears the old run's files).
    """
    reporter = reporter or NullReporter()
    main = launched_as_main()

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
    model = wrap(state.model, dd, device)
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

    amp = _amp_context(cfg, device)
    with StopFlag() as stop:
        _run(cfg, state, model, patches, val, dd, device, run_dir, reporter, stop, amp)

    summary = {"iteration": state.iteration, "best_psnr": state.best_psnr,
               "run_dir": str(run_dir), "signal": stop.signum}
    if dd.world > 1:
        summary["replicas_in_sync"] = replicas_in_sync(state.model)
        if dd.main:
            _log(run_dir, {"iter": state.iteration, "world": dd.world,
                           "replicas_in_sync": summary["replicas_in_sync"]})
        del model  # frees DDP's reducer before the ranks leave the group
        shutdown()
    return summary


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


def build_state(cfg: TrainConfig, device: torch.device, resume_from: Path | None,
                reporter: Reporter) -> TrainState:
    """Model and optimizer, then either a checkpoint's state (weights, optimizer, EMA,
    iteration, history and every RNG: the resumed run continues exactly) or --init-from."""
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
         reporter: Reporter, stop: StopFlag, amp: tuple[Any, Any]) -> None:
    """From `state.iteration` to `cfg.iters`: every rank steps; rank 0 also logs, validates
    and saves. A signal on any rank ends the run on all of them after a checkpoint."""
    autocast, scaler = amp
    feeder = Prefetcher(patches, cfg.batch, cfg.patch, cfg.seed, dd.rank, state.iteration,
                        cfg.iters)
    # The losses since the last log line, as detached tensors: reading one as a number waits
    # for the device, so that happens once per log line instead of once per step.
    losses: list[torch.Tensor] = []
    t0 = time.perf_counter()
    try:
        for it, lr_b, hr_b in feeder:
            lr_now = lr_at(it, cfg)
            for g in state.optimizer.param_groups:
                g["lr"] = lr_now
            loss = _step(cfg, state, model, lr_b.to(device), hr_b.to(device), autocast, scaler)
            state.iteration = done = it + 1
            stopping = stop.agree(dd, device)
            if not dd.main:
                if stopping:
                    break
                continue
            losses.append(loss)
            if done % cfg.log_every == 0 or done == cfg.iters:
                _log_losses(run_dir, reporter, done, losses, lr_now, t0)
                t0, losses = time.perf_counter(), []
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
          hr_b: torch.Tensor, autocast: Any, scaler: Any) -> torch.Tensor:
    """One optimisation step; returns the loss, detached and still on the device."""
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
    return loss.detach()


def _update_ema(ema: dict[str, torch.Tensor], model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(decay).add_(v.detach(), alpha=1 - decay)
            else:
                ema[k].copy_(v)


def _log_losses(run_dir: Path, reporter: Reporter, done: int, losses: list[torch.Tensor],
                lr_now: float, t0: float) -> None:
    """One log line for the steps since the last: their mean loss, the last one, the rate."""
    values = torch.stack(losses).tolist()  # the one wait for the device per log line
    rate = len(values) / (time.perf_counter() - t0)
    # Summed in step order as Python floats (float64), as a running sum of float(loss) was.
    rec = {"iter": done, "loss": sum(values, 0.0) / len(values), "last_loss": values[-1],
           "lr": lr_now, "it_per_s": rate, "time": time.time()}
    _log(run_dir, rec)
    reporter.event("log", rec)


def _validate_and_log(cfg: TrainConfig, state: TrainState, val: ValSet, device: torch.device,
                      run_dir: Path, reporter: Reporter) -> None:
    rec: dict[str, Any] = {"iter": state.iteration, "val": val.name,
                           **validate_live_and_ema(state.model, state.ema, val, cfg.scale,
                                                   device)}
    state.best_psnr = max(state.best_psnr, rec["psnr"], rec.get("psnr_ema", -math.inf))
    state.history.append(rec)
    _log(run_dir, {**rec, "time": time.time()})
    reporter.event("val", rec)


def _state_dict(state: TrainState, cfg: TrainConfig) -> dict[str, Any]:
    """What a checkpoint holds: tensors and plain data only (it loads with weights_only)."""
    return {"model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
            "ema": state.ema, "iteration": state.iteration, "best_psnr": state.best_psnr,
            "config": cfg.to_dict(), "rng": rng_state(), "history": state.history}


def _log(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / "log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
