"""keep_freed_memory: large freed blocks are reused, not page-faulted in again (glibc only)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")

# Runs a small DAN forward pass three times (fresh activations each time, as in a tiled
# upscale or a training step) and prints the minor page faults of the third pass.
_PROBE = """
import resource, sys, torch
from srcli.runtime import keep_freed_memory
from srcli.models import create_model
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
torch.set_num_threads(1)
net = create_model("dan", 2, n_feats=16, n_blocks=2, distance=1, reduction=4).eval()
x = torch.rand(1, 3, 256, 256)
def faults(): return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
with torch.inference_mode():
    net(x); net(x)
    before = faults()
    net(x)
print(applied, faults() - before)
"""


def _probe(mode: str) -> tuple[str, int]:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MALLOC_")}
    res = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True,
                         check=True, env=env)
    applied, faults = res.stdout.split()
    return applied, int(faults)


def test_freed_activation_memory_is_reused_without_page_faults() -> None:
    applied, kept = _probe("keep")
    _, default = _probe("default")
    assert applied == "True"
    # One 16-channel 512x512 float map is 4,096 pages; glibc's default faults them in anew.
    assert default > 4096
    assert kept < default // 10


def test_users_malloc_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    from srcli.runtime import keep_freed_memory

    monkeypatch.setenv("MALLOC_ARENA_MAX_", "2")
    assert keep_freed_memory() is False
