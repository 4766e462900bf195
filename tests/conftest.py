"""Shared fixtures. Tests read the real images and golden vectors copied into tests/data/
(see its README), so a plain clone runs them. Checks over whole sets (all of BSD100, the whole
training pool) carry the `full_set` marker: they run only when the shared data is present
($SRCLI_SHARED, else ../shared beside the clone) and are deselected otherwise."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"  # in-repo fixtures: byte-exact copies of the shared files
BENCHMARK = DATA / "benchmark"  # Set5, Set14 whole; BSD100 img_001..004; HR + LR_bicubic X2-4
TRAIN_DATA = DATA / "train"  # four T91 images
COMPAT = DATA / "compat"  # the 33 golden vectors; schema.json gzipped (2.1 MB -> 66 KB)


def shared_root() -> Path | None:
    """The shared data: $SRCLI_SHARED when set (even if it does not exist, so a run can be
    made to behave like a plain clone), else ../shared beside the clone; None when absent."""
    env = os.environ.get("SRCLI_SHARED")
    root = Path(env) if env else REPO.parent / "shared"
    return root if (root / "datasets").is_dir() else None


# The fake Hugging Face hub on 127.0.0.1 (fixtures fake_hub, offline_home, loopback_only).
pytest_plugins = ("hub_server",)

# Deterministic, and polite to a background training job on a 2-core machine.
torch.set_num_threads(int(os.environ.get("SRCLI_TEST_THREADS", "1")))


def _has_gpu() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps and mps.is_available())


def pytest_report_header(config: pytest.Config) -> str:
    root = shared_root()
    if root is None:
        return ("full-set checks: deselected (no shared data: set $SRCLI_SHARED or put it at "
                f"{REPO.parent / 'shared'})")
    return f"full-set checks: on, shared data at {root}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shared_root() is None:  # deselected, not skipped: a plain clone reports no skips
        full = [item for item in items if "full_set" in item.keywords]
        if full:
            config.hook.pytest_deselected(items=full)
            items[:] = [item for item in items if "full_set" not in item.keywords]
    if _has_gpu():
        return
    skip = pytest.mark.skip(reason="no CUDA or MPS device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def benchmark_dir() -> Path:
    """The in-repo benchmark fixtures, laid out as ../shared/datasets/benchmark."""
    return BENCHMARK


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets, for `full_set` tests (deselected when it is absent)."""
    root = shared_root()
    if root is None:  # only reached when a full_set test forgot its marker
        pytest.fail("shared data not found; mark this test full_set")
    return root / "datasets"


@pytest.fixture(scope="session")
def compat_dir() -> Path:
    """The in-repo compat kit: golden/*.safetensors and schema.json.gz."""
    return COMPAT


@cache
def compat_schema() -> dict[str, Any]:
    """The compat kit's schema.json "models" table (read once; stored gzipped)."""
    with gzip.open(COMPAT / "schema.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)["models"]


def _load_script(name: str) -> ModuleType:
    """scripts/NAME.py as a module (scripts/ is not a package, so load it by path)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script() -> Callable[[str], ModuleType]:
    return _load_script
