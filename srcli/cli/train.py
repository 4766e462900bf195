"""`srcli train`: train any registered model; `srcli train export` turns a checkpoint into
shippable weights. Distributed: `torchrun --nproc_per_node N -m srcli train ...`."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from srcli.cli.console import err, out
from srcli.cli.options import (
    AmpMode,
    Degradation,
    Device,
    Loss,
    LrSchedule,
    Threads,
    degradation_option,
    model_option,
    one_device,
    scale_option,
)
from srcli.errors import ConfigError
from srcli.runtime import keep_freed_memory

if TYPE_CHECKING:
    from rich.progress import Progress

train_app = typer.Typer(help="Train a model (see `srcli train --help`) or export a checkpoint.",
                        invoke_without_command=True, no_args_is_help=False)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")


class RichReporter:
    """Progress line on a terminal; one plain line per event when logging to a file."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.last_val: float | None = None
        self.progress: Progress | None = None
        self.task: Any = None

    def event(self, kind: str, rec: dict[str, Any]) -> None:
        if int(os.environ.get("RANK", "0")) != 0 or (self.quiet and kind != "warning"):
            return
        if kind == "start":
            err.print(f"training: {rec['params']:,} parameters on {rec['device']} "
                      f"(world {rec['world']}), {rec['images']} images "
                      f"({rec['skipped_small']} smaller than a patch skipped), "
                      f"iterations {rec['start']} -> {rec['iters']}")
            if err.is_terminal:
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

                self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                         TextColumn("{task.completed}/{task.total}"),
                                         TimeRemainingColumn(), console=err, transient=False)
                self.task = self.progress.add_task("train", total=rec["iters"],
                                                   completed=rec["start"])
                self.progress.start()
        elif kind == "log":
            val = f" val {self.last_val:.3f} dB" if self.last_val is not None else ""
            line = (f"it {rec['iter']} loss {rec['loss']:.5f} lr {rec['lr']:.2e} "
                    f"{rec['it_per_s']:.2f} it/s{val}")
            if self.progress is not None:
                self.progress.update(self.task, completed=rec["iter"], description=line)
            else:
                err.print(line)
        elif kind == "val":
            self.last_val = rec.get("psnr_ema", rec["psnr"])
            ema = f" (EMA {rec['psnr_ema']:.3f})" if "psnr_ema" in rec else ""
            err.print(f"validation {rec['val']} at it {rec['iter']}: {rec['psnr']:.3f} dB{ema}")
        elif kind == "warning":
            err.print(f"warning: {rec['message']}", highlight=False, soft_wrap=True)
        elif kind in ("checkpoint", "resume", "stopped", "init_from"):
            if kind == "init_from":
                new = rec.get("identity")  # a deeper model: list its new blocks, not tensors
                rec = {"path": rec["path"], "loaded": len(rec["loaded"]),
                       "skipped": len(rec["skipped"]) if new else rec["skipped"],
                       "unused": rec["unused"], **({"identity": new} if new else {})}
            err.print(f"{kind}: " + ", ".join(f"{k}={v}" for k, v in rec.items()))

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _parse_model_config(items: list[str]) -> dict[str, Any]:
    """`--set n_feats=32 --set lea_dilations=[2,2,2]`: values parsed as JSON when possible."""
    cfg: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            cfg[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            cfg[key.strip()] = raw
    return cfg


def _parse_factors(text: str) -> list[float]:
    """`--scale-aug 0.9,0.8`: comma-separated floats; train.loop._check checks the range."""
    try:
        return [float(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise ConfigError(f"--scale-aug expects comma-separated factors such as 0.9,0.8, "
                          f"got {text!r}") from None


@train_app.callback()
def train_cmd(
    ctx: typer.Context,
    model: Annotated[str, model_option(completion=False)] = "dan",
    scale: Annotated[int, scale_option()] = 2,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Model config override KEY=VALUE "
                                            "(repeatable), e.g. --set n_feats=32.")] = None,
    data: Annotated[list[Path] | None, typer.Option(help="Folder of HR training images "
                                             "(repeatable; default $SRCLI_TRAIN_DATA).")] = None,
    degradation: Annotated[Degradation, degradation_option(
        "How training inputs are made from the HR patches (bd and dn: x3 only):")
    ] = Degradation.bi,
    patch: Annotated[int, typer.Option(help="LR patch size (paper: 48 DAN, 64 BAM).")] = 48,
    scale_aug: Annotated[str, typer.Option(help="Also train on the HR images downscaled by "
                                           "these factors, e.g. 0.9,0.8,0.7,0.6 (VDSR's "
                                           "scale augmentation; '' = off).")] = "",
    batch: Annotated[int, typer.Option(help="Patches per batch (per process).")] = 16,
    iters: Annotated[int, typer.Option(help="Total iterations.")] = 300_000,
    lr: Annotated[float, typer.Option(help="Initial learning rate.")] = 1e-4,
    lr_schedule: Annotated[LrSchedule, typer.Option(
        case_sensitive=False, help="step (halve every --decay-epochs) or cosine.")
    ] = LrSchedule.step,
    epoch_iters: Annotated[int, typer.Option(help="Iterations per 'epoch'.")] = 1000,
    decay_epochs: Annotated[int, typer.Option(help="Step schedule period.")] = 200,
    warmup: Annotated[int, typer.Option(help="Linear warm-up iterations.")] = 0,
    ema: Annotated[float, typer.Option(help="Weight EMA decay (0 = off).")] = 0.0,
    loss: Annotated[Loss, typer.Option(
        case_sensitive=False, help="l1 (papers), l2 (mean squared error, the quantity PSNR "
        "measures) or l1y (luma L1 + 0.25 x RGB L1).")] = Loss.l1,
    val: Annotated[str | None, typer.Option(
        help="Validation folder of HR images, or a benchmark name ('' = none). Default: "
        "$SRCLI_VAL_DATA, else the val/ folder beside the first --data folder, else none.",
        show_default=False)] = None,
    val_every: Annotated[int, typer.Option(help="Validate every K iterations.")] = 1000,
    val_limit: Annotated[int, typer.Option(help="Validate on the first N images (0 = all).")] = 0,
    ckpt_every: Annotated[int, typer.Option(help="Checkpoint every N iterations.")] = 500,
    keep: Annotated[int, typer.Option(help="Checkpoints kept.")] = 3,
    log_every: Annotated[int, typer.Option(help="Log every N iterations.")] = 50,
    out_dir: Annotated[Path, typer.Option("--out", help="Run folder.")] = Path("runs/dan"),
    resume: Annotated[str | None, typer.Option(help="Resume from a run folder, checkpoint "
                                               "or 'auto'.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Start a new run in a non-empty --out, "
                                            "deleting the earlier run's checkpoints, log and "
                                            "config (without it that is refused).")] = False,
    init_from: Annotated[str, typer.Option(help="Initialise matching tensors from weights "
                                           "or a checkpoint (transfer learning).")] = "",
    init_grow: Annotated[bool, typer.Option(help="With --init-from a narrower or shallower "
                                            "model of the same architecture: embed its weights "
                                            "and start extra DABs as identities (the grown DAN "
                                            "then computes the same function).")] = False,
    seed: Annotated[int, typer.Option(help="Random seed (patches, augmentation, init).")] = 0,
    threads: Threads = None,
    device: Device = "auto",
    amp: Annotated[AmpMode, typer.Option(
        case_sensitive=False, help="Mixed precision: none, bf16 (CUDA, and CPUs with "
        "AMX/AVX512-BF16, where it is ~2.5x faster: recommended there) or fp16 (CUDA only). "
        "Master weights and the loss stay fp32.")] = AmpMode.none,
    channels_last: Annotated[bool, typer.Option(help="channels_last memory format.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="Only warnings and errors.")] = False,
) -> None:
    """Train a model with the papers' recipe (L1, Adam, random patches, 8 augmentations)."""
    if ctx.invoked_subcommand is not None:
        return
    device = one_device(device, "train")
    from srcli.train.config import TrainConfig
    from srcli.train.loop import train

    keep_freed_memory()
    folders = [str(d) for d in data or []] or [p for p in os.environ.get(
        "SRCLI_TRAIN_DATA", "").split(os.pathsep) if p]
    cfg = TrainConfig(
        model=model, scale=scale, model_config=_parse_model_config(set_ or []), data=folders,
        degradation=degradation.value, patch=patch, scale_aug=_parse_factors(scale_aug),
        batch=batch, iters=iters, lr=lr,
        lr_schedule=lr_schedule.value, epoch_iters=epoch_iters, decay_epochs=decay_epochs,
        warmup_iters=warmup, ema=ema, loss=loss.value, val=_default_val(val, folders),
        val_every=val_every,
        val_limit=val_limit,
        ckpt_every=ckpt_every, keep_ckpts=keep, log_every=log_every, out=str(out_dir),
        seed=seed, threads=threads or 0, device=device, amp=amp.value,
        channels_last=channels_last,
        init_from=init_from, init_grow=init_grow)
    reporter = RichReporter(quiet)
    try:
        summary = train(cfg, resume=resume, reporter=reporter, overwrite=overwrite)
    finally:
        reporter.close()
    if summary.get("signal"):  # stopped by SIGINT/SIGTERM: checkpoint saved, exit as upscale
        if int(os.environ.get("RANK", "0")) == 0:
            err.print(f"interrupted at iteration {summary['iteration']}; checkpoint saved, "
                      f"continue with --resume {summary['run_dir']}")
        raise typer.Exit(128 + summary["signal"])
    if int(os.environ.get("RANK", "0")) == 0 and not quiet:
        best = summary["best_psnr"]
        scored = f"best validation PSNR {best:.3f} dB" if best > -math.inf else "no validation"
        err.print(f"done at iteration {summary['iteration']}; {scored}; run folder "
                  f"{summary['run_dir']}")


def _default_val(val: str | None, data: list[str]) -> str:
    """`--val` when not given: $SRCLI_VAL_DATA, else `val/` beside the first --data folder
    (datasets/val beside datasets/train), else no validation, with a note."""
    if val is not None:
        return val
    if env := os.environ.get("SRCLI_VAL_DATA"):
        return env
    if data:
        beside = Path(data[0]).expanduser().resolve().parent / "val"
        if beside.is_dir():
            return str(beside)
    if int(os.environ.get("RANK", "0")) == 0:
        err.print("note: no validation set (no --val, no $SRCLI_VAL_DATA, no val/ folder "
                  "beside --data); checkpoints are not scored", highlight=False, soft_wrap=True)
    return ""


@train_app.command("export")
def export_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint file or run folder.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="NAME.safetensors")],
    fp16: Annotated[bool, typer.Option(help="Store weights as float16.")] = False,
    use_ema: Annotated[bool, typer.Option("--ema/--no-ema", help="Export the EMA weights "
                                          "when the run kept them.")] = True,
) -> None:
    """Write weights (safetensors) plus a JSON sidecar ready for weights_manifest.json."""
    from srcli.train.export import export_checkpoint

    sidecar = export_checkpoint(checkpoint, output, fp16=fp16, use_ema=use_ema)
    out.print(json.dumps(sidecar, indent=2))
