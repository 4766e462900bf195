"""`srcli upscale`: images in, super-resolved images out; one bad file never stops a batch.

Exit codes: 0 when every file succeeded (or was skipped), 1 when any failed or the model could
not be loaded, 2 for usage errors. Progress and per-file lines go to stderr, the `--json`
summary to stdout.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from srcli.cli.console import count_progress, err, out, state
from srcli.cli.options import (
    OutputFormat,
    Precision,
    Threads,
    Tile,
    UpscaleDegradation,
    Weights,
    degradation_option,
    device_option,
    model_option,
    scale_option,
)
from srcli.errors import ConfigError, SrcliError
from srcli.imaging.limits import DEFAULT_MAX_PIXELS
from srcli.inference.defaults import DEFAULT_OVERLAP
from srcli.inference.shard import Shard, local_device, local_threads
from srcli.inference.workers import Jobs as WorkerJobs
from srcli.runtime import keep_freed_memory
from srcli.vocabulary import (
    OUTPUT_FORMATS,
    default_scale,
    one_of,
    split_devices,
    split_ensemble,
)

if TYPE_CHECKING:  # the heavy modules (torch, OpenCV) load only when a command runs
    from rich.progress import Progress, TaskID

    from srcli.imaging.io import ImageData
    from srcli.inference.batch import Job
    from srcli.inference.claim import Claim
    from srcli.inference.engine import Upscaler

DEFAULT_MODEL = "dan"


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
    auto: dict[str, object] | None = None  # --degradation auto: measurements and choice


# ------------------------------------------------------------------------ option parsing


def _resolve_format(fmt: str, output: Path | None, single_file: bool) -> str:
    """The output format name, checking it against an explicit output file name."""
    from srcli.imaging.io import format_for_path
    from srcli.inference.batch import is_folder_target

    if output is None or not single_file or is_folder_target(output):
        return fmt
    implied = format_for_path(output)
    if implied is None:
        if fmt == "same" and output.suffix:  # x.gif: a format we do not write
            raise typer.BadParameter(
                f"{output.suffix[1:].upper()} is not an output format; srcli writes "
                f"{one_of(list(OUTPUT_FORMATS))} (use one of their suffixes or --format)",
                param_hint="'-o' / '--output'")
        if fmt == "same":
            raise typer.BadParameter(f"cannot tell the format of {output}; add an image "
                                     "suffix or --format", param_hint="'-o' / '--output'")
        return fmt
    if fmt not in ("same", implied):
        raise typer.BadParameter(f"{output} has a .{implied} name but --format is {fmt}",
                                 param_hint="'-o' / '--output'")
    return implied


# ------------------------------------------------------------------------ one file


def _debug() -> bool:
    return state["debug"]


@dataclass
class _Work:
    """One file on its way through the stages (srcli.inference.workers): what it holds."""

    job: Job
    res: FileResult
    pending: bool = False  # claimed and not yet finished (ok, skipped or failed)
    claim: Claim | None = None
    image: ImageData | None = None
    bits: int | None = None
    result: ImageData | None = None

    def finish(self, error: str | None = None) -> None:
        """Done: release the claim and the pixels; `error` marks it failed."""
        if error is not None:
            self.res.error = error
        if self.claim is not None:
            self.claim.release()
            self.claim = None
        self.pending, self.image, self.result = False, None, None
        self.res.seconds = round(self.res.seconds, 3)


@contextlib.contextmanager
def _stage(work: _Work) -> Iterator[None]:
    """Time a stage and turn its failure into the file's error (the batch goes on)."""
    start = time.perf_counter()
    try:
        yield
    except (SrcliError, OSError) as exc:
        work.finish(str(exc))
    except Exception as exc:
        if _debug():
            raise
        work.finish(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
    finally:
        work.res.seconds += time.perf_counter() - start


def _load(work: _Work, *, overwrite: bool | None, single: bool, max_pixels: int) -> None:
    """Skip, refuse or claim the file, then decode it."""
    from srcli.imaging.io import format_for_path, read_image, stored_bits

    job, res = work.job, work.res
    if job.error or job.output is None:
        res.error = job.error
        return
    if job.output.exists() and not overwrite:
        if overwrite is None and single:
            res.error = f"{job.output} exists (use --overwrite or --skip-existing)"
        else:
            res.status = "skipped"
        return
    work.claim = _claim(job, res, overwrite)
    if work.claim is None:
        return
    work.pending = True
    with _stage(work):
        work.image = read_image(job.input, max_pixels=max_pixels)
        res.size_in = list(work.image.size)
        res.notes = list(work.image.notes)
        fmt = format_for_path(job.output)  # quantize band by band to what gets stored
        work.bits = stored_bits(work.image, fmt) if fmt else None


def _compute(work: _Work, upscaler: Upscaler, *, outscale: float | None,
             on_pass: Callable[[int, int], None]) -> None:
    from srcli.inference.pipeline import upscale_image

    assert work.image is not None
    with _stage(work):
        image, work.image = work.image, None  # the decoded input is not needed any more
        work.result = upscale_image(image, upscaler, outscale=outscale, progress=on_pass,
                                    bits=work.bits)


def _save(work: _Work, *, quality: int) -> None:
    from srcli.imaging.io import write_image

    assert work.job.output is not None and work.result is not None
    with _stage(work):
        work.job.output.parent.mkdir(parents=True, exist_ok=True)
        notes = write_image(work.job.output, work.result, quality=quality, overwrite=True)
        work.res.notes = [*work.res.notes, *notes]
        work.res.size_out = list(work.result.size)
        work.res.status = "ok"
        work.finish()


def _run_job(job: Job, upscaler: Upscaler | None, *, overwrite: bool | None, single: bool,
             quality: int, max_pixels: int, outscale: float | None,
             on_pass: Callable[[int, int], None]) -> FileResult:
    """One file, start to end, in this thread (upscaler None: only skips and refusals)."""
    work = _Work(job, FileResult(str(job.input), str(job.output) if job.output else None))
    try:
        _load(work, overwrite=overwrite, single=single, max_pixels=max_pixels)
        if work.pending and upscaler is None:  # appeared to need nothing, then did
            work.finish("output vanished while the batch started; run again")
        if work.pending:
            _compute(work, upscaler, outscale=outscale, on_pass=on_pass)  # type: ignore[arg-type]
        if work.pending:
            _save(work, quality=quality)
    finally:
        work.finish()
    return work.res


def _claim(job: Job, res: FileResult, overwrite: bool | None) -> Claim | None:
    """Claim the output (see inference/claim.py) so that a second `srcli upscale` on the same
    folder takes other files; None, with `res` filled in, when this file is not ours to do."""
    from srcli.inference.claim import try_claim

    assert job.output is not None
    try:
        job.output.parent.mkdir(parents=True, exist_ok=True)
        claim = try_claim(job.output)
    except OSError as exc:
        res.error = f"{job.output}: cannot claim it ({exc.strerror or exc})"
        return None
    if claim is None:
        res.status = "skipped"
        res.notes = ["another srcli process is upscaling it"]
    elif job.output.exists() and not overwrite:  # finished by another process meanwhile
        claim.release()
        res.status = "skipped"
        return None
    return claim


def _describe(res: FileResult) -> str:
    if res.status == "failed":
        error = res.error or "failed"
        where = "" if error.startswith(res.input) else f"{res.input}: "  # no name twice
        return f"[red]failed[/red]  {where}{escape(error)}"
    if res.status == "skipped":
        why = res.notes[0] if res.notes else "exists"
        return f"[yellow]skipped[/yellow] {escape(str(res.output))} ({escape(why)})"
    (wi, hi), (wo, ho) = res.size_in or (0, 0), res.size_out or (0, 0)
    notes = "".join(f"\n        note: {n}" for n in res.notes)
    return (f"[green]ok[/green]      {escape(res.input)} -> {escape(str(res.output))}  "
            f"{wi}x{hi} -> {wo}x{ho}  {res.seconds:.2f} s{escape(notes)}")


def _progress(quiet: bool) -> Progress | None:
    if quiet or not err.is_terminal:  # a bar in a log file is noise; per-file lines remain
        return None
    return count_progress()


@dataclass
class _Worker:
    """A model worker: its engine (one device) and its line of the progress display."""

    upscaler: Upscaler
    tiles: TaskID | None = None
    label: str = ""


def _run_batch(jobs: list[Job], upscalers: list[Upscaler], pipeline: WorkerJobs, *,
               quiet: bool, overwrite: bool | None, single: bool, quality: int,
               max_pixels: int, outscale: float | None) -> list[FileResult]:
    """Every job through decode -> model -> encode, overlapped as `pipeline` says (see
    srcli.inference.workers); one line per file as it finishes, results in input order."""
    from srcli.devices import set_threads
    from srcli.inference.workers import Cancelled, Stages, run

    works = [_Work(j, FileResult(str(j.input), str(j.output) if j.output else None))
             for j in jobs]
    progress = _progress(quiet)
    several = len(upscalers) > 1
    workers = [_Worker(up, label=f" (worker {i + 1}, {up.device})" if several else "")
               for i, up in enumerate(upscalers)]
    with progress if progress is not None else contextlib.nullcontext():
        files = progress.add_task("files", total=len(jobs)) if progress is not None else None
        for w in workers:
            w.tiles = progress.add_task("tiles", total=None) if progress is not None else None

        def compute(worker: _Worker, work: _Work, stopping: Callable[[], bool]) -> None:
            def on_pass(done: int, total: int) -> None:
                if stopping():  # Ctrl-C or a fatal error elsewhere: drop this file now
                    raise Cancelled
                if progress is not None and worker.tiles is not None:
                    progress.update(worker.tiles, completed=done, total=total)

            if progress is not None and worker.tiles is not None:
                progress.reset(worker.tiles, total=None,
                               description=f"tiles of {work.job.input.name}{worker.label}")
            _compute(work, worker.upscaler, outscale=outscale, on_pass=on_pass)

        def done(work: _Work) -> None:
            work.finish()
            if progress is not None and files is not None:
                progress.console.print(_describe(work.res), soft_wrap=True, highlight=False)
                progress.advance(files)
            elif work.res.status == "failed" or not quiet:
                err.print(_describe(work.res), soft_wrap=True, highlight=False)

        stages: Stages[_Work, _Worker] = Stages(
            load=lambda w: _load(w, overwrite=overwrite, single=single, max_pixels=max_pixels),
            compute=compute, save=lambda w: _save(w, quality=quality),
            pending=lambda w: w.pending, done=done,
            enter=lambda w: set_threads(w.upscaler.threads))
        try:
            run(works, workers, stages, pipeline)
        finally:  # Ctrl-C or --debug: files left unfinished give their claims back
            for w in works:
                w.finish()
    return [w.res for w in works]


# ------------------------------------------------------------------------ the command


def _plan(inputs: list[str], output_arg: str | None, fmt: str, label: str, *,
          recursive: bool) -> tuple[list[Job], bool]:
    """(jobs, single): one job per input file, unreadable inputs as failed jobs up front."""
    from srcli.inference.batch import expand_inputs, plan_outputs

    output = Path(output_arg).expanduser() if output_arg else None
    # Path() drops a trailing slash, which is how a user says "a folder" for one input.
    to_folder = bool(output_arg) and output_arg.endswith(("/", os.sep))  # type: ignore[union-attr]
    sources, missing = expand_inputs(inputs, recursive=recursive)
    single = len(inputs) == 1 and len(sources) == 1 and sources[0].root is None
    if output is not None and not single and output.exists() and not output.is_dir():
        raise typer.BadParameter(f"{output} is a file; several inputs need an output folder",
                                 param_hint="'-o' / '--output'")
    fmt_name = _resolve_format(fmt, output, single and not to_folder)
    return missing + plan_outputs(sources, output=output, fmt=fmt_name, label=label,
                                  single_file=single and not to_folder), single


def _needs_model(jobs: list[Job], overwrite: bool | None) -> bool:
    return any(j.error is None and j.output is not None and (overwrite or not j.output.exists())
               for j in jobs)


def _check_weights_exist(model: str, scale: int, degradation: str, weights: str | None) -> None:
    """Fail on weights the manifest lacks (DN at x2) before reporting existing outputs: the
    user would otherwise fix those first, only to hear of the weights next."""
    if weights is not None or degradation == "auto":
        return
    from srcli.weights.resolve import missing_entry

    problem = missing_entry(split_ensemble(model)[0], scale, degradation)
    if problem is not None:
        raise problem


def _finish_without_model(jobs: list[Job], settings: dict[str, object], *,
                          overwrite: bool | None, single: bool, quiet: bool,
                          json_output: bool) -> None:
    """Report a batch with nothing to compute (all skipped or failed) without loading the
    model: loading a big model, or an ensemble, only to refuse an existing output wastes
    seconds."""
    results = [_run_job(job, None, overwrite=overwrite, single=single,  # type: ignore[arg-type]
                        quality=0, max_pixels=0, outscale=None, on_pass=lambda d, t: None)
               for job in jobs]
    for res in results:
        if res.status == "failed" or not quiet:
            err.print(_describe(res), soft_wrap=True, highlight=False)
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "failed")}
    if json_output:
        summary = {**settings, **counts, "seconds": 0.0, "files": [asdict(r) for r in results]}
        out.print(json.dumps(summary, indent=2), markup=False, highlight=False)
    if not quiet:
        err.print(f"0 upscaled, {counts['skipped']} skipped, {counts['failed']} failed "
                  "(model not loaded: nothing to compute)", highlight=False)
    raise typer.Exit(1 if counts["failed"] else 0)


def _remove_stale_temps(jobs: list[Job]) -> None:
    """Delete `.NAME.*.part` files an earlier, killed run left beside our outputs."""
    from srcli.imaging.io import remove_stale_temps

    for folder in {j.output.parent for j in jobs if j.output is not None}:
        remove_stale_temps(folder)


def _refuse_oversized(jobs: list[Job], scale: int, *, tile: str, overlap: int,
                      outscale: float | None, overwrite: bool | None,
                      max_pixels: int | None) -> None:
    """Fail, before the model loads, each job whose image cannot fit in the memory available
    (estimated from its header, see inference/budget.py), instead of dying mid-way."""
    from srcli.imaging.io import format_for_path, peek_image, stored_bits_for
    from srcli.inference.budget import JobShape, available_memory, refusal

    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    available: int | None = None
    for job in jobs:
        if job.error or job.output is None or (job.output.exists() and not overwrite):
            continue
        head = peek_image(job.input)
        if head is None or (limit and head.width * head.height > limit):
            continue  # read_image says why, in its own words
        fmt = format_for_path(job.output)
        out_size = None
        if outscale:
            size = (max(1, math.floor(head.width * outscale + 0.5)),
                    max(1, math.floor(head.height * outscale + 0.5)))
            out_size = None if size == (head.width * scale, head.height * scale) else size
        shape = JobShape(head.width, head.height, scale, gray=head.gray, alpha=head.alpha,
                         bits=stored_bits_for(head.bit_depth, head.alpha, fmt) if fmt else None,
                         out_size=out_size, fmt=fmt or "png")
        available = available_memory() if available is None else available
        job.error = refusal(str(job.input), shape, tile=None if tile == "auto" else int(tile),
                            overlap=overlap, available=available)


def _load_upscalers(model: str, scale: int, weights: str | None, degradation: str, *,
                    quiet: bool, devices: list[str], per_device: int,
                    options: dict[str, object]) -> list[Upscaler]:
    """One engine per model worker: `per_device` on each of `devices`, all from one load of
    the weights; CPU workers share the thread budget (srcli.inference.workers)."""
    deg = "" if degradation == "bi" else f" {degradation}"
    with _loading(quiet, f"loading {model} x{scale}{deg}"):
        import copy

        from srcli.devices import default_threads, resolve_device
        from srcli.inference.engine import EngineOptions, Upscaler
        from srcli.inference.workers import worker_threads
        from srcli.models.pretrained import load_model

        try:
            net = load_model(model, scale, weights, degradation=degradation)
        except ConfigError as exc:  # --weights for a parameter-free model, a bad --scale
            hint = "'--weights'" if weights is not None else None  # the message names a scale
            raise typer.BadParameter(str(exc), param_hint=hint) from None
        specs = [d for d in devices for _ in range(per_device)]
        try:  # --tile 8, --device cuda without CUDA, ...: usage errors
            cpu = [resolve_device(d).type == "cpu" for d in specs]
            threads = worker_threads(options["threads"], cpu,  # type: ignore[arg-type]
                                     default_threads())
            nets = [net, *(copy.deepcopy(net) for _ in specs[1:])]  # the engine moves its own
            return [Upscaler(n, EngineOptions(**{**options, "device": d, "threads": t}))
                    for n, d, t in zip(nets, specs, threads, strict=True)]  # type: ignore[arg-type]
        except ConfigError as exc:
            raise typer.BadParameter(str(exc)) from None


def _groups(jobs: list[Job], degradation: str, model: str, scale: int, *,
            weights: str | None, overwrite: bool | None, quiet: bool,
            max_pixels: int | None) -> tuple[dict[str, list[Job]], dict[str, dict[str, object]]]:
    """Jobs by weights family, and per input what auto measured and chose. Auto decodes each
    input once more, before any model loads, to measure it (srcli.imaging.estimate)."""
    if degradation != "auto":
        return {degradation: jobs}, {}
    if weights is not None:
        raise typer.BadParameter("auto picks among the model's own weights; drop --weights "
                                 "or name a degradation", param_hint="'--degradation'")
    from srcli.imaging.estimate import measure
    from srcli.imaging.io import read_image
    from srcli.inference.auto import available_families, choose

    available = available_families(model, scale)
    groups: dict[str, list[Job]] = {}
    picks: dict[str, dict[str, object]] = {}
    for job in jobs:
        deg = "bi"  # failed or skipped jobs: no measurement, the batch reports them
        if job.error is None and job.output is not None and \
                (overwrite or not job.output.exists()):
            try:
                image = read_image(job.input, max_pixels=DEFAULT_MAX_PIXELS
                                   if max_pixels is None else max_pixels)
                m = measure(image.pixels, job.input)
            except (SrcliError, OSError):
                m = None  # the run itself reports the unreadable file
            if m is not None:
                c = choose(m, available)
                deg = c.degradation
                picks[str(job.input)] = {**m.as_dict(), "wanted": c.wanted, "chosen": deg}
                missing = "" if deg == c.wanted else f" (no {c.wanted} weights)"
                if not quiet:
                    err.print(f"auto: {c.why} → {model} {deg} ×{scale}{missing}  "
                              f"{escape(str(job.input))}", highlight=False, soft_wrap=True)
        groups.setdefault(deg, []).append(job)
    return groups, picks


def _shard() -> Shard:
    """This process's share of the batch under torchrun/srun (see inference/shard.py)."""
    from srcli.inference.shard import from_env, init

    try:
        shard = from_env()
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    init(shard)
    return shard


def _gather(shard: Shard, results: list[FileResult], elapsed: float
            ) -> tuple[list[FileResult], float] | None:
    """All ranks' results on rank 0, in the batch's order (None on the other ranks)."""
    from srcli.inference.shard import finish, gather

    if not shard.active:
        return results, elapsed
    parts = gather(shard, (results, elapsed))
    finish(shard)
    if parts is None:
        return None
    return shard.merge([p[0] for p in parts]), max(p[1] for p in parts)


def _headline(n_files: int, model: str, scale: int, degradation: str, ensemble: bool) -> str:
    """The first line: on a terminal printed before torch and the weights load, in a log
    once the model has loaded (so a bad --model is still a one-line error)."""
    deg = "" if degradation == "bi" else f" {degradation.upper()}"
    return (f"srcli upscale: {n_files} file(s), model {model} x{scale}{deg}"
            f"{' +ensemble' if ensemble and not split_ensemble(model)[1] else ''}")


def _settings_line(s: dict[str, object], *, auto_tile: bool, workers: int = 1) -> str:
    """What the engine chose, and why the precision: `cpu bf16 (auto: CPU has amx_bf16)`."""
    return (f"  {s['device']} {s['precision']} ({s['precision_reason']}), "
            f"tile {s['tile'] or 'whole image'}{' (auto)' if auto_tile else ''}, "
            f"{s['threads']} thread(s){f' in {workers} model workers' if workers > 1 else ''}")


def _settings(upscalers: list[Upscaler], **run: object) -> dict[str, object]:
    """The `--json` settings: those of the one engine, or for several model workers their
    devices as a comma list and the threads of their CPU workers added up."""
    first = upscalers[0]
    cpu_threads = sum(u.threads for u in upscalers if u.device.type == "cpu")
    return {
        **run, "ensemble": first.ensemble,
        "device": ",".join(str(u.device) for u in upscalers), "precision": first.precision,
        "precision_reason": first.precision_reason,
        "tile": first.tile, "tile_overlap": first.overlap,
        "threads": cpu_threads if len(upscalers) > 1 and cpu_threads else first.threads,
    }


def _check_jobs(value: str) -> str:
    try:
        return str(WorkerJobs.parse(value))
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


def _loading(quiet: bool, what: str) -> contextlib.AbstractContextManager[object]:
    """A spinner on stderr while torch and the weights load (only on a terminal)."""
    if quiet or not err.is_terminal:
        return contextlib.nullcontext()
    return err.status(what, spinner="dots")


def upscale(
    inputs: Annotated[list[str], typer.Argument(
        help="Image files, folders or glob patterns (quote globs to let srcli expand them).",
        show_default=False, metavar="INPUT...")],
    output: Annotated[str | None, typer.Option(
        "-o", "--output", metavar="PATH",
        help="Output file (one input) or folder (created if missing). Default: beside each "
        "input, named {stem}_x{scale}.{ext}.", show_default=False)] = None,
    model: Annotated[str, model_option(
        "NAME+ adds x8 self-ensemble (dan+ is the paper's DAN+); bicubic needs no weights; "
        "spandrel runs whatever architecture the --weights file holds (pip install "
        "\"srcli\\[spandrel]\").")] = DEFAULT_MODEL,
    scale: Annotated[int | None, scale_option(
        "Default: 4 (3 with --degradation bd or dn).")] = None,
    degradation: Annotated[UpscaleDegradation, degradation_option(
        "What the input went through, to pick weights trained for it (auto = measure each "
        "input's noise, JPEG quality and 8x8 blocks, and pick among the model's weights):")
    ] = UpscaleDegradation.bi,
    weights: Weights = None,
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
    tile: Tile = "auto",
    tile_overlap: Annotated[int, typer.Option(
        "--tile-overlap", min=0, help="Overlap of neighbouring tiles, in input pixels.")
    ] = DEFAULT_OVERLAP,
    ensemble: Annotated[bool, typer.Option(
        "--ensemble", help="x8 self-ensemble: average over 4 rotations x flip (8x slower).")
    ] = False,
    device: Annotated[str, device_option(
        "A comma list (cuda:0,cuda:1 or cpu,cpu) runs one model worker per device, fed from "
        "one queue; CPU workers share --threads.")] = "auto",
    precision: Annotated[Precision, typer.Option(
        "--precision", case_sensitive=False,
        help="auto = fp16 on CUDA; bf16 on a CPU with bf16 units (AMX, AVX-512 BF16) unless "
        "the weights lose > 0.02 dB in it; else fp32. The headline says which and why.")
    ] = Precision.auto,
    threads: Threads = None,
    jobs_arg: Annotated[str, typer.Option(
        "--jobs", "-j", metavar="LOAD:PROC:SAVE", callback=_check_jobs,
        help="Threads that decode, model workers per device, threads that encode; all run "
        "at once, so I/O overlaps the model. 0:1:0 = one file at a time.")] = "1:1:1",
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
    if scale is None:
        scale = default_scale(degradation.value)
    if outscale is not None and not 0 < outscale <= 64:
        raise typer.BadParameter("must be in (0, 64]", param_hint="'--outscale'")
    label = f"{outscale:g}" if outscale else str(scale)
    pipeline = WorkerJobs.parse(jobs_arg)
    jobs, single = _plan(inputs, output, fmt.value, label, recursive=recursive)
    shard = _shard()  # one of several processes (torchrun, srun): a share of the files
    n_files = len(jobs)
    jobs = shard.take(sorted(jobs, key=lambda j: str(j.input))) if shard.active else jobs
    _remove_stale_temps(jobs)
    _refuse_oversized(jobs, scale, tile=tile, overlap=tile_overlap, outscale=outscale,
                      overwrite=overwrite, max_pixels=max_pixels)
    if not shard.active and not _needs_model(jobs, overwrite):  # all exist or all failed
        _check_weights_exist(model, scale, degradation.value, weights)
        _finish_without_model(jobs, {"model": model, "scale": scale}, overwrite=overwrite,
                              single=single, quiet=quiet, json_output=json_output)

    ens = ensemble or split_ensemble(model)[1]
    head = _headline(n_files, model, scale, degradation.value, ens) \
        if not quiet and shard.rank == 0 else None
    if head is not None and err.is_terminal:  # at once, before torch and the weights load
        err.print(head, highlight=False, soft_wrap=True)
        head = None
    groups, picks = _groups(jobs, degradation.value, model, scale, weights=weights,
                            overwrite=overwrite, quiet=quiet, max_pixels=max_pixels)
    results: list[FileResult] = []
    elapsed = 0.0
    settings: dict[str, object] = {"model": model, "scale": scale}  # a rank with no files
    for deg, group in groups.items():  # one family of weights (one model load) per group
        upscalers = _load_upscalers(
            model, scale, weights, deg, quiet=quiet,
            devices=[local_device(d, shard) for d in split_devices(device)],
            per_device=pipeline.proc, options=dict(
                precision=precision.value, tile=tile, tile_overlap=tile_overlap, ensemble=ens,
                threads=local_threads(threads, shard)))
        settings = _settings(upscalers, model=model, scale=scale,
                             degradation=degradation.value)
        if head is not None:  # a log: after the load, so a bad --model stays a one-line error
            err.print(head, highlight=False, soft_wrap=True)
            head = None
        if not quiet:
            err.print(_settings_line(settings, auto_tile=tile == "auto",
                                     workers=len(upscalers)), highlight=False, soft_wrap=True)
        start = time.perf_counter()
        results += _run_batch(group, upscalers, pipeline, quiet=quiet, overwrite=overwrite,
                              single=single, quality=quality, outscale=outscale,
                              max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None
                              else max_pixels)
        elapsed += time.perf_counter() - start
    order = {str(j.input): i for i, j in enumerate(jobs)}
    results.sort(key=lambda r: order.get(r.input, 0))
    for r in results:
        r.auto = picks.get(r.input)
    merged = _gather(shard, results, elapsed)
    if merged is None:  # rank 0 reports for the whole batch
        raise typer.Exit(1 if any(r.status == "failed" for r in results) else 0)
    results, elapsed = merged
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "failed")}
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
