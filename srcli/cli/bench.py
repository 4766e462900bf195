"""`srcli bench`: PSNR/SSIM of models on benchmark sets, with the literature's conventions.

The table and progress go to stderr; `--json -` puts the machine-readable rows on stdout.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from srcli.cli.console import count_progress, err
from srcli.cli.options import (
    Degradation,
    Device,
    Precision,
    Threads,
    degradation_option,
    model_option,
    one_device,
    scale_option,
)
from srcli.errors import ConfigError, WeightsError
from srcli.runtime import keep_freed_memory
from srcli.vocabulary import DATASETS, default_scale, split_ensemble

if TYPE_CHECKING:  # torch, OpenCV and the models load only when the command runs
    from rich.table import Table

    from srcli.bench import BenchRow

DEFAULT_MODEL = "dan"
DEFAULT_DATASETS = ("set5", "set14")


CSV_FIELDS = ("dataset", "scale", "degradation", "model", "params", "psnr", "ssim", "images",
              "seconds", "ms_per_image", "mp_per_s", "metric", "crop", "ensemble", "device",
              "precision")




def _complete_dataset(incomplete: str) -> list[str]:
    return [n for n in DATASETS if n.startswith(incomplete.lower())]


def _finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: a perfect reconstruction's PSNR becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _params(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    return f"{n / 1e3:.0f}K" if n >= 1000 else str(n)


def _table(rows: list[BenchRow], metric: str) -> Table:
    from rich.table import Table

    table = Table(title=f"{metric}-channel PSNR/SSIM, border crop = scale", title_justify="left")
    for name, justify in (("dataset", "left"), ("scale", "right"), ("deg", "left"),
                          ("model", "left"), ("params", "right"), ("PSNR", "right"),
                          ("SSIM", "right"), ("ms/img", "right"), ("MP/s", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(r.dataset, f"x{r.scale}", r.degradation.upper(),
                      r.model + (" (x8)" if r.ensemble and not split_ensemble(r.model)[1] else ""),
                      _params(r.params), f"{r.psnr:.2f}", f"{r.ssim:.4f}",
                      f"{r.ms_per_image:.1f}", f"{r.mp_per_s:.2f}")
    return table


def _write_csv(path: Path, rows: list[BenchRow]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow(r.as_dict())


def _models(requested: list[str] | None, scales: list[int], weights: str | None,
            degradation: str) -> dict[str, Any]:
    """Load the models (weights trained for `degradation`); with no --model, bicubic plus the
    default model when it has such weights."""
    from srcli.bench import BASELINE, load_models

    def note(text: str) -> None:
        err.print(f"note: {text}", highlight=False, soft_wrap=True, markup=False)

    if requested:
        names = list(dict.fromkeys(requested))
        if weights is None:
            return load_models(names, scales, degradation=degradation, on_fallback=note)
        trained = [n for n in names if n.lower() != BASELINE]
        if len(trained) != 1:
            raise typer.BadParameter("needs exactly one --model other than bicubic",
                                     param_hint="'--weights'")
        return load_models(names, scales, {trained[0]: weights}, degradation=degradation)
    if weights is not None:
        raise typer.BadParameter("needs a --model", param_hint="'--weights'")
    table = load_models([BASELINE], scales)
    try:
        table.update(load_models([DEFAULT_MODEL], scales, degradation=degradation))
    except WeightsError as exc:
        note(f"default model {DEFAULT_MODEL} skipped, benchmarking bicubic only: {exc}")
    return table


def bench(
    dataset: Annotated[list[str] | None, typer.Option(
        "--dataset", "-d", autocompletion=_complete_dataset, show_default=False,
        help="set5, set14, bsd100, urban100, manga109 (any case) or a folder of HR images; "
        "repeatable. Default: set5 and set14.")] = None,
    model: Annotated[list[str] | None, model_option(
        "Repeatable; NAME+ adds x8 self-ensemble. Default: bicubic and "
        f"{DEFAULT_MODEL} (when its weights are available).")] = None,
    weights: Annotated[str | None, typer.Option(
        "--weights", show_default=False,
        help="Weights for the one --model other than bicubic: a file (e.g. a `srcli train` "
        "export), a super-image folder or hf://owner/repo/file.")] = None,
    scale: Annotated[list[int] | None, scale_option(
        "Repeatable. Default: 4 for bi and real, 3 for bd and dn.")] = None,
    degradation: Annotated[Degradation, degradation_option(
        "How LR inputs are made from HR (real's randomness is fixed per image by --seed):")
    ] = Degradation.bi,
    ensemble: Annotated[bool, typer.Option(
        "--ensemble", help="x8 self-ensemble for every model (8x slower).")] = False,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", show_default=False,
        help="Where named sets are looked up first (then $SRCLI_DATA, then the srcli cache, "
        "then they are downloaded).")] = None,
    json_path: Annotated[str | None, typer.Option(
        "--json", metavar="PATH|-", show_default=False,
        help="Write the results as JSON (one object per dataset/scale/model with per-image "
        "values); '-' = stdout.")] = None,
    csv_path: Annotated[Path | None, typer.Option(
        "--csv", show_default=False, help="Write the summary rows as CSV.")] = None,
    save_images: Annotated[Path | None, typer.Option(
        "--save-images", show_default=False,
        help="Write SR outputs to DIR/<set>/x<scale>_<deg>/<model>/<image>.png.")] = None,
    visuals: Annotated[Path | None, typer.Option(
        "--visuals", show_default=False,
        help="Write per-image comparisons (same zoomed crop of HR, bicubic and every model, "
        "PSNR labelled) to DIR/<set>/x<scale>_<deg>/<image>.png.")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, show_default=False, help="Only the first N images of each set.")
    ] = None,
    device: Device = "auto",
    threads: Threads = None,
    precision: Annotated[Precision, typer.Option(
        "--precision", case_sensitive=False,
        help="Model arithmetic: fp32 (as papers report), or bf16/fp16/auto to measure what "
        "reduced precision costs.")] = Precision.fp32,
    rgb: Annotated[bool, typer.Option(
        "--rgb", help="Score PSNR/SSIM on the RGB channels instead of the Y channel.")
    ] = False,
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed of the dn noise and of the real degradation (fixed, so every "
        "run sees the same inputs).")] = 0,
) -> None:
    """Benchmark models on standard test sets (PSNR/SSIM as published in SR papers)."""
    device = one_device(device, "bench")
    keep_freed_memory()
    from srcli.bench import BenchOptions, evaluate
    from srcli.inference import shard as sharding

    try:  # under torchrun/srun: score a share of the images, rank 0 prints the table
        shard = sharding.from_env()
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    sharding.init(shard)

    scales = list(dict.fromkeys(scale or [default_scale(degradation.value)]))
    opts = BenchOptions(degradation=degradation.value, y_channel=not rgb, limit=limit,
                        seed=seed, device=sharding.local_device(device, shard),
                        ensemble=ensemble, threads=sharding.local_threads(threads, shard),
                        precision=precision.value,
                        save_images=save_images, visuals=visuals)
    table = _models(model, scales, weights, degradation.value)
    start = time.perf_counter()
    bar = count_progress()
    with bar:
        task = bar.add_task("bench", total=None)

        def on_progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        def on_error(path: Path, message: str) -> None:
            failed.append(path)
            bar.console.print(f"failed  {message} (left out of the scores)", markup=False,
                              soft_wrap=True, highlight=False)

        failed: list[Path] = []
        try:
            rows = evaluate(list(dataset or DEFAULT_DATASETS), table, scales, opts,
                            data_dir=data_dir, progress=on_progress, on_error=on_error,
                            shard=shard)
        except ConfigError as exc:  # --device cuda without CUDA, ...: a usage error (exit 2)
            raise typer.BadParameter(str(exc)) from None
    elapsed = time.perf_counter() - start
    sharding.finish(shard)
    if shard.rank > 0:
        raise typer.Exit(1 if failed else 0)
    err.print(_table(rows, "RGB" if rgb else "Y"))
    err.print(f"{sum(r.images for r in rows)} image evaluations in {elapsed:.1f} s",
              highlight=False)
    if csv_path is not None:
        _write_csv(csv_path, rows)
    if json_path is not None:
        text = json.dumps(_finite([r.as_dict() for r in rows]), indent=2, allow_nan=False)
        if json_path == "-":
            typer.echo(text)
        else:
            Path(json_path).parent.mkdir(parents=True, exist_ok=True)
            Path(json_path).write_text(text + "\n")
    if failed:  # the scores above are of the readable images; the exit code says some were not
        err.print(f"{len(failed)} image(s) could not be read", highlight=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
