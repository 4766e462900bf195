"""Which files a batch reads and where each result goes; no pixels involved.

Inputs are files, folders (top level, or every level with `recursive`) and glob patterns;
folders and patterns skip an earlier run's outputs found beside their inputs.
Outputs default to `{stem}_x{scale}.{ext}` beside the input, or under an output folder
(mirroring sub-folders of a recursive folder input). A planned output that would replace an
input, or that two inputs would both write, is refused per file, never silently.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from srcli.imaging.io import FORMATS, SUFFIX_FORMATS

IMAGE_SUFFIXES = frozenset(SUFFIX_FORMATS)
_GLOB_CHARS = re.compile(r"[*?\[]")
_OUTPUT_STEM = re.compile(r"^(?P<stem>.+)_x\d+(\.\d+)?$")


@dataclass(frozen=True)
class Source:
    path: Path
    root: Path | None = None  # folder the file was found in; None for a file named directly


@dataclass
class Job:
    input: Path
    output: Path | None
    error: str | None = None  # set when the job cannot run (missing input, name clash, ...)


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _folder_images(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return _without_earlier_outputs(sorted(p for p in found if p.is_file() and _is_image_name(p)))


def _without_earlier_outputs(files: list[Path]) -> list[Path]:
    """Drop results of an earlier run found beside their inputs (a.png + a_x4.png): a folder
    or a pattern srcli expands should not upscale its own outputs again on a second run."""
    stems = {(p.parent, p.stem) for p in files}
    return [p for p in files if not ((m := _OUTPUT_STEM.match(p.stem))
                                     and (p.parent, m["stem"]) in stems)]


def expand_inputs(specs: Sequence[str], *, recursive: bool = False
                  ) -> tuple[list[Source], list[Job]]:
    """Files, folders and globs -> unique sources in order, plus failed jobs for specs that
    name nothing."""
    sources: list[Source] = []
    failed: list[Job] = []
    seen: set[Path] = set()

    def add(path: Path, root: Path | None) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            sources.append(Source(path, root))

    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            images = _folder_images(path, recursive)
            if not images:
                failed.append(Job(path, None, "folder holds no images"
                                  + ("" if recursive else " (use --recursive for sub-folders)")))
            for p in images:
                add(p, path)
        elif path.exists() or not _GLOB_CHARS.search(spec):
            if path.exists():
                add(path, None)
            else:
                failed.append(Job(path, None, "no such file or directory"))
        else:
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(spec), recursive=True))
            files = _without_earlier_outputs(
                [m for m in matches if m.is_file() and _is_image_name(m)])
            if not files:
                failed.append(Job(path, None, "no image files match this pattern"))
            for p in files:
                add(p, None)
    return sources, failed


def output_name(source: Path, label: str, fmt: str) -> str:
    """`{stem}_x{label}{ext}`; fmt "same" keeps the input's suffix (PNG if it is unknown)."""
    if fmt == "same":
        ext = source.suffix.lower() if source.suffix.lower() in IMAGE_SUFFIXES else ".png"
    else:
        ext = FORMATS[fmt][1]
    return f"{source.stem}_x{label}{ext}"


def is_folder_target(output: Path) -> bool:
    return output.is_dir() or str(output).endswith(("/", os.sep))


def plan_outputs(sources: Sequence[Source], *, output: Path | None, fmt: str, label: str,
                 single_file: bool) -> list[Job]:
    """Destination of every source. `single_file`: one input named directly, so `output`
    (unless it is an existing folder or ends with a slash) is the output file itself."""
    inputs = {s.path.resolve() for s in sources}
    claimed: dict[Path, Path] = {}
    jobs: list[Job] = []
    for src in sources:
        name = output_name(src.path, label, fmt)
        if output is None:
            dest = src.path.parent / name
        elif single_file and not is_folder_target(output):
            dest = output
        else:
            rel = src.path.parent.relative_to(src.root) if src.root is not None else Path()
            dest = output / rel / name
        key = dest.resolve()
        if key in inputs:
            jobs.append(Job(src.path, dest, f"output {dest} would overwrite an input"))
        elif key in claimed:
            jobs.append(Job(src.path, dest, f"output {dest} is also the output of "
                                            f"{claimed[key]}"))
        else:
            claimed[key] = src.path
            jobs.append(Job(src.path, dest))
    return jobs
