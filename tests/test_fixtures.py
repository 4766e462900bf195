"""tests/data: small enough to keep in the repository, and true copies of the shared files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from conftest import DATA

LIMIT = 22_000_000  # bytes for all of tests/data (issue 22: a clone stays small)


def _files() -> list[Path]:
    return sorted(p for p in DATA.rglob("*") if p.is_file())


def test_fixtures_stay_small() -> None:
    sizes = {p: p.stat().st_size for p in _files()}
    assert sum(sizes.values()) <= LIMIT
    assert max(sizes.values()) < 1_000_000, max(sizes, key=sizes.__getitem__)


@pytest.mark.full_set
def test_fixtures_are_byte_exact_copies_of_the_shared_data(shared_datasets: Path) -> None:
    shared = shared_datasets.parent
    for path in _files():
        rel = path.relative_to(DATA)
        if rel == Path("README.md"):
            continue  # this folder's own description
        src = (shared if rel.parts[0] == "compat" else shared_datasets) / rel
        if rel.name == "schema.json.gz":
            assert gzip.decompress(path.read_bytes()) == src.with_suffix("").read_bytes()
        else:
            assert path.read_bytes() == src.read_bytes(), rel
