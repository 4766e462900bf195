"""Which files a batch reads and where each result goes; no pixels involved.

Inputs are files, folders (top level, or every level with `recursive`) and glob patterns;
folders and patterns skip an earlier run's outputs found beside their inputs.
Outputs default to `{stem}_x{scale}.{ext}` beside the input, or under an output folder
(mirroring sub-folders of a recursive folder input). A planned output that would replace an
input, or that two inputs would both write, is refused per file, never silently.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import os
import re
from collections.abc import Iterator, Sequence
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


def walk_files(top: Path, errors: list[tuple[Path, OSError]]) -> Iterator[Path]:
    """Every file under `top`, following symlinked folders but entering each real folder
    once (a `loop -> .` link would otherwise recurse until the path is too long); folders
    that cannot be listed are appended to `errors` and skipped."""
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            errors.append((folder, exc))
            continue
        subfolders = []
        for entry in entries:
            with contextlib.suppress(OSError):  # a dangling link is neither: skip it
                if entry.is_dir():
                    subfolders.append(Path(entry.path))
                elif entry.is_file():
                    yield Path(entry.path)
        stack.extend(reversed(subfolders))


def _folder_images(folder: Path, recursive: bool,
                   errors: list[tuple[Path, OSError]]) -> list[Path]:
    if recursive:
        found = list(walk_files(folder, errors))
    else:
        try:
            found = [p for p in folder.iterdir() if p.is_file()]
        except OSError as exc:
            errors.append((folder, exc))
            found = []
    return _without_earlier_outputs(sorted(p for p in found if _is_image_name(p)))


def _match_parts(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    """glob semantics per path component; `**` matches zero or more non-hidden folders."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return _match_parts(rest, parts) or (
            bool(parts) and not parts[0].startswith(".") and _match_parts(pattern, parts[1:]))
    if not parts or (parts[0].startswith(".") and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(parts[0], head) and _match_parts(rest, parts[1:])


def _recursive_glob(spec: str, errors: list[tuple[Path, OSError]]) -> list[Path]:
    """`glob(spec, recursive=True)` for files, safe on symlink loops (see walk_files)."""
    parts = Path(os.path.expanduser(spec)).parts
    fixed = next(i for i, part in enumerate(parts) if _GLOB_CHARS.search(part))
    root = Path(*parts[:fixed]) if fixed else Path()
    pattern = parts[fixed:]
    return [p for p in walk_files(root, errors)
            if _match_parts(pattern, p.relative_to(root).parts)] if root.is_dir() else []


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
    errors: list[tuple[Path, OSError]] = []  # unreadable folders: one failed job each

    def add(path: Path, root: Path | None) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            sources.append(Source(path, root))

    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            images = _folder_images(path, recursive, errors)
            if not images and not errors:
                failed.append(Job(path, None, "folder holds no images"
                                  + ("" if recursive else " (use --recursive for sub-folders)")))
            for p in images:
                add(p, path)
        elif path.exists() or not _GLOB_CHARS.search(spec):
            if path.exists():
                add(path, None)
            else:
                why = "no such file or directory" + (  # e.g. `--json -`: upscale's is a flag
                    " (srcli does not read images from stdin)" if spec == "-" else "")
                failed.append(Job(path, None, why))
        else:
            matches = sorted(_recursive_glob(spec, errors) if "**" in spec else
                             (Path(m) for m in glob.glob(os.path.expanduser(spec))))
            files = _without_earlier_outputs(
                [m for m in matches if m.is_file() and _is_image_name(m)])
            if not files:
                failed.append(Job(path, None, "no image files match this pattern"))
            for p in files:
                add(p, None)
        for folder, exc in errors:
            failed.append(Job(folder, None, f"cannot read folder ({exc.strerror or exc})"))
        errors.clear()
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
