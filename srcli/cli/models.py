"""`srcli models`: what pretrained weights exist, where they are, fetch and verify them.

`list` and `info` never touch the network. `download` fetches into the Hugging Face cache
(HF_HOME) with a progress bar on stderr; `verify` re-hashes every bundled or cached file.
Tables go to stdout (`--json` for machines), progress and notes to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from srcli.cli.console import err, out
from srcli.cli.options import Degradation, Weights, degradation_option, scale_option
from srcli.errors import ConfigError, WeightsError
from srcli.vocabulary import default_scale, split_ensemble

if TYPE_CHECKING:  # srcli.weights loads torch (checkpoint reading): only when a command runs
    from rich.progress import Progress

    from srcli.weights.manifest import Manifest, WeightsEntry

models_app = typer.Typer(help="List, inspect, download, verify and export pretrained models.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


def _source(entry: WeightsEntry) -> str:
    return "+".join(n for n, v in (("bundled", entry.bundled), ("hub", entry.hub)) if v)


def _scales(entries: list[WeightsEntry], deg: bool = True) -> str:
    """`x2 x3 x3-BD`, or `x2 x3` with deg=False (for a row of one degradation)."""
    return " ".join(e.label if deg else f"x{e.scale}" for e in entries)


def _best_set5(entries: list[WeightsEntry]) -> str:
    figures = [(q.degradation != "bi", q.scale, q.degradation, q.psnr) for e in entries
               for q in e.quality if q.dataset.lower() == "set5" and "ensemble" not in q.source]
    if not figures:
        return "—"
    return "\n".join(f"x{s} {p:.2f}" for _, s, _, p in sorted(figures))


def _millions(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.2f}M"


def _params_cell(group: list[WeightsEntry]) -> str:
    """One figure when every scale has the same size, else one per scale (DAN's upsampler
    grows with the scale: 0.63M at x2, 0.72M at x4)."""
    sizes = list(dict.fromkeys(_millions(e.params) for e in group))
    # one line per scale, beside the Set5 column's one line per scale
    return sizes[0] if len(sizes) == 1 else "\n".join(_millions(e.params) for e in group)


def _entry_json(entry: WeightsEntry) -> dict[str, Any]:
    from srcli.weights import hub
    from srcli.weights.resolve import entry_status

    data = entry.to_json()
    where = entry_status(entry)
    data["available"] = where is not None
    data["path"] = str(where) if where else None
    data["cache_dir"] = str(hub.repo_cache_dir(entry.hub.repo_id)) if entry.hub else None
    return data


def _with_model(manifest: Manifest, name: str) -> list[WeightsEntry]:
    entries = manifest.for_model(name)
    if not entries:
        known = ", ".join(manifest.models())
        raise WeightsError(f"no weights named {name!r} in the manifest; known: {known}")
    return entries


@models_app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", show_default=False,
                                          help="One JSON object per weights file on stdout.")
                       ] = False,
) -> None:
    """Every model with pretrained weights: family, scales, size, source, whether it is here."""
    from rich import box
    from rich.table import Table

    from srcli.weights.manifest import load_manifest
    from srcli.weights.resolve import entry_status

    manifest = load_manifest()
    if as_json:
        out.print_json(json.dumps([_entry_json(e) for e in manifest.entries]))
        return
    table = Table(title="Pretrained weights (srcli models info NAME for details)",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("model", "family", "scales", "params", "deg.", "source", "cached",
                "Set5 PSNR"):
        # The Set5 column may wrap (one line per scale) so the others never get truncated.
        table.add_column(col, justify="right" if col == "params" else "left",
                         no_wrap=col != "Set5 PSNR")
    for name in manifest.models():
        entries = manifest.for_model(name)
        for deg in dict.fromkeys(e.degradation for e in entries):  # BI first: one row each
            group = [e for e in entries if e.degradation == deg]
            here = [e for e in group if entry_status(e) is not None]
            table.add_row(name, group[0].family, _scales(group, deg=False),
                          _params_cell(group), deg.upper(), _source(group[0]),
                          _scales(here, deg=False) or "—", _best_set5(group))
    out.print(table)
    if not any(e.bundled for e in manifest.for_model(manifest.default_model)):
        err.print(f"The default model ({manifest.default_model}) has no bundled weights yet; "
                  "`--model bicubic` needs none.")


def _info_lines(entry: WeightsEntry) -> list[tuple[str, str]]:
    from srcli.weights import hub
    from srcli.weights.resolve import entry_files, entry_status

    rows = [("architecture", entry.architecture), ("format", entry.format),
            ("degradation", entry.degradation.upper()), ("params", f"{entry.params:,}"
                                                         if entry.params else "?"),
            ("license", entry.license or "not recorded"), ("paper", entry.paper or "—")]
    if entry.bundled:
        rows.append(("bundled file", str(entry.bundled_path)))
    if entry.hub is not None:
        weights_file, config_file = entry_files(entry)
        rows += [("hub file", weights_file.url()), ("revision", entry.hub.revision)]
        if config_file:
            rows.append(("config file", config_file.url()))
        rows.append(("cached under", str(hub.repo_cache_dir(entry.hub.repo_id))))
    where = entry_status(entry)
    rows += [("available", str(where) if where else "no (srcli models download "
              f"{entry.model} --scale {entry.scale}"
              + ("" if entry.degradation == "bi" else f" --degradation {entry.degradation}")
              + ")"),
             ("sha256", entry.sha256 or "not recorded (checked against the hub's LFS sha256)"),
             ("size", f"{entry.size:,} bytes" if entry.size else "not recorded")]
    rows += [(f"quality {q.dataset} x{q.scale}", f"{q.psnr:.2f} dB"
              + (f" / {q.ssim:.4f}" if q.ssim is not None else "")
              + f", {q.source}")  # sources may end in their own parenthesis
             for q in entry.quality]
    if entry.training:
        rows.append(("training", json.dumps(entry.training, sort_keys=True)))
    if entry.notes:
        rows.append(("notes", entry.notes))
    return rows


@models_app.command("info")
def info_cmd(
    name: Annotated[str, typer.Argument(help="Model name, as in `srcli models list`.",
                                        metavar="NAME", show_default=False)],
    scale: Annotated[int | None, scale_option("Only this one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", show_default=False,
                                          help="JSON on stdout.")] = False,
) -> None:
    """Everything the manifest knows about NAME, and where its files are (or would be) cached."""
    from rich.table import Table

    from srcli.weights.manifest import load_manifest

    entries = _with_model(load_manifest(), name)
    if scale is not None:
        entries = [e for e in entries if e.scale == scale]
        if not entries:
            raise WeightsError(f"{name} has no weights for x{scale}")
    if as_json:
        out.print_json(json.dumps([_entry_json(e) for e in entries]))
        return
    for entry in entries:
        table = Table(title=entry.tag, show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in _info_lines(entry):
            table.add_row(key, value)
        out.print(table)


def _bar() -> Progress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=err, transient=True,
                    disable=not err.is_terminal)


def _download_one(entry: WeightsEntry, bar: Progress) -> Path:
    from srcli.weights.resolve import resolve_weights

    task = bar.add_task(entry.tag, total=None)

    def progress(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    try:
        return resolve_weights(entry.model, entry.scale, degradation=entry.degradation,
                               progress=progress).path
    finally:
        bar.remove_task(task)


@models_app.command("download")
def download_cmd(
    names: Annotated[list[str], typer.Argument(help="Model names (see `srcli models list`).",
                                               metavar="NAME", show_default=False)],
    scale: Annotated[int | None, scale_option("Only this one (default: every scale "
                                              "listed).")] = None,
) -> None:
    """Fetch weights into the Hugging Face cache (HF_HOME), verified, for offline use later."""
    from srcli.weights.manifest import load_manifest

    manifest = load_manifest()
    todo: list[WeightsEntry] = []
    for name in names:
        entries = _with_model(manifest, name)
        if scale is not None:
            entries = [e for e in entries if e.scale == scale]
            if not entries:
                raise WeightsError(f"{name} has no weights for x{scale}; it has "
                                   f"{_scales(manifest.for_model(name))}")
        todo += entries
    with _bar() as bar:
        for entry in todo:
            path = _download_one(entry, bar)
            size = path.stat().st_size
            where = "bundled" if entry.bundled_path == path else str(path)
            err.print(f"[green]ok[/green] {entry.tag}: {size / 1e6:.1f} MB "
                      f"-> {where}", soft_wrap=True)


@models_app.command("verify")
def verify_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="Only these models.",
                                                      metavar="NAME",
                                                      show_default=False)] = None,
) -> None:
    """Re-hash every bundled and cached weights file; a cached file that fails is deleted."""
    from rich.table import Table

    from srcli.weights.manifest import load_manifest
    from srcli.weights.resolve import verify_entry

    manifest = load_manifest()
    entries = [e for n in names for e in _with_model(manifest, n)] if names else list(
        manifest.entries)
    table = Table(title="Weights verification")
    for col in ("model", "scale", "status", "sha256", "file"):
        table.add_column(col, overflow="fold")
    failed = 0
    for entry in entries:
        result = verify_entry(entry)
        if result.status == "not cached" and not names:
            continue  # the full listing shows what is here; `models list` shows the rest
        failed += result.status in ("mismatch", "deleted", "missing")
        style = {"ok": "green", "unverified": "yellow"}.get(result.status, "red")
        table.add_row(entry.model, entry.label,
                      f"[{style}]{result.status}[/{style}]",
                      (result.sha256 or "")[:16], str(result.path or "—"))
    if table.row_count:
        out.print(table)
    else:
        err.print("No bundled or cached weights to verify.")
    if failed:
        raise WeightsError(f"{failed} weights file(s) failed verification")


@models_app.command("export")
def export_cmd(
    name: Annotated[str, typer.Argument(help="Model name (see `srcli models list`).",
                                        metavar="NAME", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE.onnx",
                                         help="The ONNX file to write.", show_default=False)],
    scale: Annotated[int | None, scale_option(
        "Default: 4 (3 with --degradation bd or dn).")] = None,
    degradation: Annotated[Degradation, degradation_option(
        "Which pretrained weights (as for `srcli upscale`): those trained on")
    ] = Degradation.bi,
    weights: Weights = None,
    opset: Annotated[int, typer.Option("--opset", min=13, help="ONNX opset version.")
                     ] = 18,
    verify: Annotated[bool, typer.Option(
        "--verify/--no-verify", help="Compare onnxruntime with PyTorch at two input sizes.")
    ] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing FILE.")
                         ] = False,
    as_json: Annotated[bool, typer.Option("--json", show_default=False,
                                          help="A JSON summary on stdout.")] = False,
) -> None:
    """Export NAME with its weights to ONNX (dynamic height/width), checked with onnxruntime."""
    if split_ensemble(name)[1]:
        raise typer.BadParameter("self-ensemble (NAME+) is not part of a model; export NAME",
                                 param_hint="NAME")
    if output.exists() and not overwrite:
        raise typer.BadParameter(f"{output} exists (use --overwrite)", param_hint="'-o'")
    from srcli.export import EXTRA_HINT, TOLERANCE, ExportError, export_onnx, verify_onnx
    from srcli.models.pretrained import load_model

    if scale is None:
        scale = default_scale(degradation.value)
    model = load_model(name, scale, weights, degradation=degradation.value)
    output.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, output, opset=opset)
    checks = []
    if verify:
        try:
            checks = verify_onnx(model, output)
        except ConfigError:  # no onnxruntime: the file is written, only the check is missing
            err.print(f"note: not verified (onnxruntime is missing: {EXTRA_HINT})")
        worst = max((c.max_abs_diff for c in checks), default=0.0)
        if worst > TOLERANCE:
            output.unlink()
            raise ExportError(f"onnxruntime and PyTorch differ by {worst:.2e} > {TOLERANCE:g}; "
                              f"{output} removed")
    summary = {"model": model.model_name, "scale": scale, "degradation": degradation.value,
               "path": str(output), "bytes": output.stat().st_size, "opset": opset,
               "checks": [{"height": c.height, "width": c.width,
                           "max_abs_diff": c.max_abs_diff} for c in checks]}
    if as_json:
        out.print_json(json.dumps(summary))
    diffs = ", ".join(f"{c.max_abs_diff:.1e} at {c.height}x{c.width}" for c in checks)
    err.print(f"[green]ok[/green] {output}: {summary['bytes'] / 1e6:.1f} MB, opset {opset}, "
              "dynamic height/width"
              + (f"; onnxruntime vs PyTorch max |diff| {diffs}" if checks else ""),
              soft_wrap=True)
