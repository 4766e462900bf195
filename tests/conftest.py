"""Shared fixtures. Tests use the real images in ../shared (CI has them beside the clone)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SRCLI_SHARED", REPO.parent / "shared"))
BENCHMARK = SHARED / "datasets" / "benchmark"
TRAIN_DATA = SHARED / "datasets" / "train"
COMPAT = SHARED / "compat"

# The fake Hugging Face hub on 127.0.0.1 (fixtures fake_hub, offline_home, loopback_only).
pytest_plugins = ("hub_server",)

# Deterministic, and polite to a background training job on a 2-core machine.
torch.set_num_threads(int(os.environ.get("SRCLI_TEST_THREADS", "1")))


def _has_gpu() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps and mps.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _has_gpu():
        return
    skip = pytest.mark.skip(reason="no CUDA or MPS device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def benchmark_dir() -> Path:
    if not BENCHMARK.is_dir():
        pytest.skip(f"benchmark data not found at {BENCHMARK}")
    return BENCHMARK


@pytest.fixture(scope="session")
def compat_dir() -> Path:
    if not COMPAT.is_dir():
        pytest.skip(f"compat kit not found at {COMPAT}")
    return COMPAT


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
