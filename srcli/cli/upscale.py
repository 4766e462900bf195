"""`srcli upscale`: images in, super-resolved images out; one bad file never stops a batch.

Exit codes: 0 when every file succeeded (or was skipped), 1 when any failed or the model could
not be loaded, 2 for usage errors. Progress and per-file lines go to stderr, the `--json`
summary to stdout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from srcli.cli.console import count_progress, err, out, state
from srcli.cli.options import Degradation, check_device
from srcli.errors import ConfigError, SrcliError
from srcli.imaging.limits import DEFAULT_MAX_PIXELS
from srcli.inference.defaults import DEFAULT_OVERLAP
from srcli.runtime import keep_freed_memory

if TYPE_CHECKING:  # the heavy modules (torch, OpenCV) load only when a command runs
    import torch
    from rich.progress import Progress

    from srcli.inference.batch import Job
    from srcli.inference.engine import Upscaler

DEFAULT_MODEL = "dan"


class OutputFormat(str, Enum):
    png = "png"
    jpg = "jpg"
    webp = "webp"
    tiff = "tiff"
    same = "same"


class Precision(str, Enum):
    auto = "auto"
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"


@dataclass
class FileResult:
    input: str
    output: str | None
    status: str = "failed"  # ok | skipped | failed
    size_in: list[int] | None = None  # [width, height]
    size_out: list[int] | None = None
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------ option parsing


def _complete_model(incomplete: str) -> list[str]:
    # The registry is the set of architecture modules, so this one completion imports torch.
    from srcli.models import list_models

    names = list_models()
    names += [f"{n}+" for n in names if n.startswith("dan")]
    return [n for n in names if n.startswith(incomplete)]


def _check_tile(value: str) -> str:
    value = value.strip().lower()
    if value != "auto" and not value.isdigit():
        raise typer.BadParameter("expected a number of LR pixels, 0 (whole image) or auto")
    return value


def _resolve_format(fmt: str, output: Path | None, single_file: bool) -> str:
    """The output format name, checking it against an explicit output file name."""
    from srcli.imaging.io import format_for_path
    from srcli.inference.batch import is_folder_target

    if output is None or not single_file or is_folder_target(output):
        return fmt
    implied = format_for_path(output)
    if implied is None:
        if fmt == "same":
            raise typer.BadParameter(f"cannot tell the format of {output}; add an image "
                                     "suffix or --format", param_hint="'-o' / '--output'")
        return fmt
    if fmt not in ("same", implied):
        raise typer.BadParameter(f"{output} has a .{implied} name but --format is {fmt}",
                                 param_hint="'-o' / '--output'")
    return implied


# ------------------------------------------------------------------------ settings


def _precision_name(dtype: torch.dtype) -> str:
    import torch

    return {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]


# ------------------------------------------------------------------------ one file


def _debug() -> bool:
    return state["debug"]


def _run_job(job: Job, upscaler: Upscaler, *, overwrite: bool | None, single: bool,
             quality: int, max_pixels: int, outscale: float | None,
             on_pass: Callable[[int, int], None]) -> FileResult:
    from srcli.imaging.io import read_image, write_image
    from srcli.inference.pipeline import upscale_image

    res = FileResult(str(job.input), str(job.output) if job.output else None)
    if job.error or job.output is None:
        res.error = job.error
        return res
    if job.output.exists() and not overwrite:
        if overwrite is None and single:
            res.error = f"{job.output} exists (use --overwrite or --skip-existing)"
        else:
            res.status = "skipped"
        return res
    start = time.perf_counter()
    try:
        image = read_image(job.input, max_pixels=max_pixels)
        res.size_in = list(image.size)
        result = upscale_image(image, upscaler, outscale=outscale, progress=on_pass)
        job.output.parent.mkdir(parents=True, exist_ok=True)
        res.notes = write_image(job.output, result, quality=quality, overwrite=True)
        res.size_out = list(result.size)
        res.status = "ok"
    except (SrcliError, OSError) as exc:
        res.error = str(exc)
    except Exception as exc:
        if _debug():
            raise
        res.error = f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)"
    res.seconds = round(time.perf_counter() - start, 3)
    return res


def _describe(res: FileResult) -> str:
    if res.status == "failed":
        error = res.error or "failed"
        where = "" if error.startswith(res.input) else f"{res.input}: "  # no name twice
        return f"[red]failed[/red]  {where}{escape(error)}"
    if res.status == "skipped":
        return f"[yellow]skipped[/yellow] {escape(str(res.output))} (exists)"
    (wi, hi), (wo, ho) = res.size_in or (0, 0), res.size_out or (0, 0)
    notes = "".join(f"\n        note: {n}" for n in res.notes)
    return (f"[green]ok[/green]      {escape(res.input)} -> {escape(str(res.output))}  "
            f"{wi}x{hi} -> {wo}x{ho}  {res.seconds:.2f} s{escape(notes)}")


def _progress(quiet: bool) -> Progress | None:
    if quiet or not err.is_terminal:  # a bar in a log file is noise; per-file lines remain
        return None
    return count_progress()


def _run_batch(jobs: list[Job], upscaler: Upscaler, *, quiet: bool,
               **job_options: object) -> list[FileResult]:
    results: list[FileResult] = []
    progress = _progress(quiet)
    if progress is None:
        for job in jobs:
            results.append(res := _run_job(job, upscaler, on_pass=lambda d, t: None,
                                           **job_options))  # type: ignore[arg-type]
            if res.status == "failed" or not quiet:
                err.print(_describe(res), soft_wrap=True, highlight=False)
        return results
    with progress:
        files = progress.add_task("files", total=len(jobs))
        tiles = progress.add_task("tiles", total=None)

        def on_pass(done: int, total: int) -> None:
            progress.update(tiles, completed=done, total=total)

        for job in jobs:
            progress.reset(tiles, total=None, description=f"tiles of {job.input.name}")
            res = _run_job(job, upscaler, on_pass=on_pass, **job_options)  # type: ignore[arg-type]
            results.append(res)
            progress.console.print(_describe(res), soft_wrap=True, highlight=False)
            progress.advance(files)
    return results


# ------------------------------------------------------------------------ the command


def _plan(inputs: list[str], output: Path | None, fmt: str, label: str, *,
          recursive: bool) -> tuple[list[Job], bool]:
    """(jobs, single): one job per input file, unreadable inputs as failed jobs up front."""
    from srcli.inference.batch import expand_inputs, plan_outputs

    sources, missing = expand_inputs(inputs, recursive=recursive)
    single = len(inputs) == 1 and len(sources) == 1 and sources[0].root is None
    if output is not None and not single and output.exists() and not output.is_dir():
        raise typer.BadParameter(f"{output} is a file; several inputs need an output folder",
                                 param_hint="'-o' / '--output'")
    fmt_name = _resolve_format(fmt, output, single)
    return missing + plan_outputs(sources, output=output, fmt=fmt_name, label=label,
                                  single_file=single), single


def _headline(n_files: int, s: dict[str, object], *, auto_tile: bool) -> str:
    deg = "" if s["degradation"] == "bi" else f" {str(s['degradation']).upper()}"
    return (f"srcli upscale: {n_files} file(s), model {s['model']} x{s['scale']}{deg}"
            f"{' +ensemble' if s['ensemble'] else ''}, {s['device']} {s['precision']}, "
            f"tile {s['tile'] or 'whole image'}{' (auto)' if auto_tile else ''}, "
            f"{s['threads']} thread(s)")


def upscale(
    inputs: Annotated[list[str], typer.Argument(
        help="Image files, folders or glob patterns (quote globs to let srcli expand them).",
        show_default=False, metavar="INPUT...")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", metavar="PATH",
        help="Output file (one input) or folder (created if missing). Default: beside each "
        "input, named {stem}_x{scale}.{ext}.", show_default=False)] = None,
    model: Annotated[str, typer.Option(
        "--model", "-m", autocompletion=_complete_model, metavar="NAME",
        help="Model name (see `srcli models`); NAME+ adds x8 self-ensemble (dan+ is the "
        "paper's DAN+); bicubic needs no weights.")] = DEFAULT_MODEL,
    scale: Annotated[int | None, typer.Option(
        "--scale", "-s", min=2, max=8, show_default=False,
        help="Model upscaling factor. Default: 4 (3 with --degradation bd or dn).")] = None,
    degradation: Annotated[Degradation, typer.Option(
        "--degradation", "-d", case_sensitive=False,
        help="What the input went through, to pick weights trained for it: bi = clean "
        "downscale; bd = blurred, then downscaled; dn = downscaled, then noisy.")
    ] = Degradation.bi,
    weights: Annotated[str | None, typer.Option(
        "--weights", metavar="FILE|REPO", show_default=False,
        help="Weights file or hub repo (default: the model's bundled or published weights).")
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", case_sensitive=False,
        help="Output format; 'same' keeps the input's (or the -o file's) format.")
    ] = OutputFormat.same,
    quality: Annotated[int, typer.Option(
        "--quality", min=1, max=100, help="JPEG/WebP quality (WebP 100 = lossless).")] = 95,
    overwrite: Annotated[bool | None, typer.Option(
        "--overwrite/--skip-existing", show_default=False,
        help="Replace or skip existing outputs. Default: skip in batches, refuse for a single "
        "file. Inputs are never overwritten.")] = None,
    recursive: Annotated[bool, typer.Option(
        "--recursive", "-r", help="Also read images in sub-folders of folder inputs.")] = False,
    tile: Annotated[str, typer.Option(
        "--tile", "-t", callback=_check_tile, metavar="N|auto",
        help="Tile size in input pixels; 0 = whole image; auto = largest that fits memory.")
    ] = "auto",
    tile_overlap: Annotated[int, typer.Option(
        "--tile-overlap", min=0, help="Overlap of neighbouring tiles, in input pixels.")
    ] = DEFAULT_OVERLAP,
    ensemble: Annotated[bool, typer.Option(
        "--ensemble", help="x8 self-ensemble: average over 4 rotations x flip (8x slower).")
    ] = False,
    device: Annotated[str, typer.Option(
        "--device", callback=check_device, metavar="DEVICE",
        help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.")] = "auto",
    precision: Annotated[Precision, typer.Option(
        "--precision", case_sensitive=False,
        help="auto = fp16/bf16 on CUDA when the model allows it, else fp32.")
    ] = Precision.auto,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, show_default=False,
        help="CPU threads (default: the physical cores this process may use).")] = None,
    max_pixels: Annotated[int | None, typer.Option(
        "--max-pixels", min=0, show_default=False,
        help=f"Refuse larger inputs (decompression bombs); default {DEFAULT_MAX_PIXELS:,}, "
        "0 = no limit.")] = None,
    outscale: Annotated[float | None, typer.Option(
        "--outscale", show_default=False,
        help="Final size = input size x this factor (model output resized with antialiased "
        "bicubic).")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print a JSON summary (per file: input, output, sizes, seconds, "
        "status, error) on stdout.")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress or per-file lines (failures are still reported).")
    ] = False,
) -> None:
    """Upscale images with a super-resolution model (tiled, on any device)."""
    keep_freed_memory()
    from srcli.inference.engine import EngineOptions, Upscaler
    from srcli.models.pretrained import load_model

    if scale is None:
        scale = 4 if degradation is Degradation.bi else 3
    if outscale is not None and not 0 < outscale <= 64:
        raise typer.BadParameter("must be in (0, 64]", param_hint="'--outscale'")
    label = f"{outscale:g}" if outscale else str(scale)
    jobs, single = _plan(inputs, output, fmt.value, label, recursive=recursive)

    try:
        net = load_model(model, scale, weights, degradation=degradation.value)
    except ConfigError as exc:  # --weights for a parameter-free model: a usage error
        raise typer.BadParameter(str(exc), param_hint="'--weights'") from None
    ens_from_name = model.endswith("+")
    upscaler = Upscaler(net, EngineOptions(
        device=device, precision=precision.value, tile=tile, tile_overlap=tile_overlap,
        ensemble=ensemble or ens_from_name, threads=threads))
    settings = {
        "model": model, "scale": scale, "degradation": degradation.value,
        "ensemble": upscaler.ensemble,
        "device": str(upscaler.device), "precision": _precision_name(upscaler.dtype),
        "tile": upscaler.tile, "tile_overlap": upscaler.overlap, "threads": upscaler.threads,
    }
    if not quiet:
        err.print(_headline(len(jobs), settings, auto_tile=tile == "auto"),
                  highlight=False, soft_wrap=True)

    start = time.perf_counter()
    results = _run_batch(jobs, upscaler, quiet=quiet, overwrite=overwrite, single=single,
                         quality=quality, outscale=outscale,
                         max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "failed")}
    elapsed = time.perf_counter() - start
    if json_output:
        summary = {**settings, **counts, "seconds": round(elapsed, 3),
                   "files": [asdict(r) for r in results]}
        out.print(json.dumps(summary, indent=2), markup=False, highlight=False)
    if not quiet:
        err.print(f"{counts['ok']} upscaled, {counts['skipped']} skipped, "
                  f"{counts['failed']} failed in {elapsed:.1f} s", highlight=False)
    if counts["failed"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("upscale", no_args_is_help=True)(upscale)
