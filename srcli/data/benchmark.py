"""Benchmark sets: a named set (set5, set14, bsd100, urban100, manga109) or any folder of HR
images, read as integer arrays exactly as stored.

A name is looked up, case-insensitively, in `data_dir` (bench's `--data-dir`), then
`$SRCLI_DATA`, then srcli's cache (`<cache>/datasets`, where downloads land). Accepted
layouts under a root, for a set called Name:

    <root>/<Name>/HR/*.png    (the layout of ../shared/datasets/benchmark)
    <root>/<Name>/*.png       (a bare folder of HR images)
    <root>/<Name>_HR/*.png, <root>/<Name>/<Name>_HR/*.png, <root>/<Name>/<anything>/HR/...
                              (what the hub archives unpack to; searched two levels deep)

A set found nowhere is downloaded by srcli.data.download (through `srcli.weights`, the only
network code); with no network the error says in one line how to get the data by hand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from srcli.errors import DataError, SrcliError
from srcli.imaging.io import read_image
from srcli.vocabulary import DATASETS, IMAGE_SUFFIXES


@dataclass(frozen=True)
class BenchImage:
    """One HR image as stored: uint8 or uint16, H×W (grayscale) or H×W×3."""

    name: str  # file stem
    pixels: np.ndarray

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8


def list_images(folder: Path) -> list[Path]:
    """Image files directly in `folder`, sorted by name (hidden files skipped)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and bool(list_images(folder))


def _child(root: Path, name: str) -> Path | None:
    """`root/name`, matching the folder name case-insensitively."""
    exact = root / name
    if exact.is_dir():
        return exact
    if not root.is_dir():
        return None
    for p in root.iterdir():
        if p.is_dir() and p.name.lower() == name.lower():
            return p
    return None


def _walk_dirs(top: Path, depth: int) -> Iterator[Path]:
    yield top
    if depth == 0:
        return
    for p in sorted(top.iterdir()):
        if p.is_dir() and not p.name.startswith("."):
            yield from _walk_dirs(p, depth - 1)


def find_in_root(root: Path, name: str) -> Path | None:
    """HR folder of set `name` under `root` in any accepted layout, or None."""
    for base in filter(None, (_child(root, name), _child(root, f"{name}_HR"))):
        for cand in (base / "HR", base):
            if _has_images(cand):
                return cand
        for cand in _walk_dirs(base, 2):  # unpacked archives: Name/Name_HR, Name/x/HR, ...
            if cand.name.lower() in ("hr", f"{name.lower()}_hr") and _has_images(cand):
                return cand
    return None


def cache_root() -> Path:
    """Where downloaded sets are unpacked: `$SRCLI_CACHE/datasets`, by default
    `~/.cache/srcli/datasets` (the archives themselves stay in the Hugging Face cache)."""
    base = os.environ.get("SRCLI_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "srcli")
    return Path(base).expanduser() / "datasets"


def search_roots(data_dir: str | Path | None = None) -> list[Path]:
    roots = [data_dir, os.environ.get("SRCLI_DATA"), cache_root()]
    return [Path(r).expanduser() for r in roots if r]


def _download(name: str, dest: Path, searched: list[Path]) -> Path:
    """Fetch set `name` into `dest` (srcli.data.download); returns its HR folder."""
    missing = f"dataset {name} not found (searched: {', '.join(str(r) for r in searched)})"
    manual = f"put its HR images in <DIR>/{name}/HR and pass --data-dir DIR or set SRCLI_DATA"
    try:
        from srcli.data.download import HUB_SETS, download_dataset
    except ImportError:  # a build without the hub module (huggingface_hub)
        raise DataError(f"{missing}; {manual}") from None
    if name.lower() not in HUB_SETS:
        raise DataError(f"{missing} and it has no hub download; {manual}")
    try:
        return Path(download_dataset(name, dest))
    except SrcliError as exc:
        hint = "" if "--data-dir" in str(exc) else f"; {manual}"
        raise DataError(f"{missing} and the download failed: {exc}{hint}") from None


def resolve_dataset(spec: str | Path, data_dir: str | Path | None = None,
                    download: bool = True) -> Path:
    """Folder of HR images for a dataset name or path (see the module docstring)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        for cand in (path / "HR", path):
            if _has_images(cand):
                return cand
        raise DataError(f"{path}: no images found (expected image files or an HR/ folder)")
    name = DATASETS.get(str(spec).lower())
    if name is None:
        raise DataError(f"unknown dataset {str(spec)!r}: give a folder of HR images or one of "
                        f"{', '.join(DATASETS)}")
    for root in search_roots(data_dir):
        found = find_in_root(root, name) if root.is_dir() else None
        if found is not None:
            return found
    if not download:
        raise DataError(f"dataset {name} not found; pass --data-dir or set SRCLI_DATA")
    roots = search_roots(data_dir)
    got = _download(name, cache_root(), roots)
    found = got if _has_images(got) else find_in_root(cache_root(), name)
    if found is None:
        raise DataError(f"downloaded {name} into {got} but found no images there")
    return found


def dataset_label(spec: str | Path) -> str:
    """Display name: the canonical name of a known set, else the folder's name."""
    known = DATASETS.get(str(spec).lower())
    if known and not Path(spec).is_dir():
        return known
    path = Path(spec)
    return path.parent.name if path.name.lower() == "hr" else path.name


def to_integer(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """io's float [0, 1] pixels back to the stored integers (exact: k/top·top rounds to k)."""
    top, dtype = (65535.0, np.uint16) if bit_depth == 16 else (255.0, np.uint8)
    return np.floor(pixels.astype(np.float64) * top + 0.5).astype(dtype)


def load_image(path: Path) -> BenchImage:
    """One HR image as integers; alpha is dropped (scoring is on colour)."""
    data = read_image(path, max_pixels=None)
    return BenchImage(path.stem, to_integer(data.pixels, data.bit_depth))


def load_images(folder: Path, limit: int | None = None) -> list[BenchImage]:
    paths = list_images(folder)[: limit or None]
    if not paths:
        raise DataError(f"{folder}: no images found")
    return [load_image(p) for p in paths]
