"""Benchmark sets: find a named set (set5, set14, ...) or use any folder of HR images."""

from __future__ import annotations

import os
from pathlib import Path

from srcli.errors import DataError

KNOWN = {"set5": "Set5", "set14": "Set14", "bsd100": "BSD100", "urban100": "Urban100",
         "manga109": "Manga109"}


def resolve_dataset(spec: str, data_dir: str | Path | None = None) -> Path:
    """Folder of HR images for a dataset name or path.

    A name is looked up as `<root>/<Name>/HR` (or `<root>/<Name>`) in `data_dir`, then
    `$SRCLI_DATA`.
    """
    path = Path(spec)
    if path.is_dir():
        return path / "HR" if (path / "HR").is_dir() else path
    name = KNOWN.get(spec.lower())
    if name is None:
        raise DataError(f"unknown dataset {spec!r}: give a folder or one of {sorted(KNOWN)}")
    roots = [Path(r) for r in (data_dir, os.environ.get("SRCLI_DATA")) if r]
    for root in roots:
        for cand in (root / name / "HR", root / name):
            if cand.is_dir():
                return cand
    raise DataError(f"dataset {name} not found; pass --data-dir or set SRCLI_DATA")
