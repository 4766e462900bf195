"""keep_freed_memory: large freed blocks are reused, not page-faulted in again (glibc only)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")

# A small DAN forward pass, run once cold and then WARM times more in a fresh process (fresh
# activations each pass, as in a tiled upscale or a training step); prints the minor page
# faults of each pass. The first pass faults in the whole working set.
WARM = 7
_PROBE = """
import resource, sys, torch
from srcli.runtime import keep_freed_memory
from srcli.models import create_model
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
torch.set_num_threads(1)
net = create_model("dan", 2, n_feats=16, n_blocks=2, distance=1, reduction=4).eval()
x = torch.rand(1, 3, 256, 256)
def faults(): return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
per_pass = []
with torch.inference_mode():
    for _ in range(1 + int(sys.argv[2])):
        before = faults()
        net(x)
        per_pass.append(faults() - before)
print(applied, *per_pass)
"""


def _probe(mode: str) -> tuple[str, int, int]:
    """(applied, faults of the cold pass, median faults of the warm passes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    res = subprocess.run([sys.executable, "-c", _PROBE, mode, str(WARM)], capture_output=True,
                         text=True, check=True, env=env)
    applied, cold, *warm = res.stdout.split()
    assert len(warm) == WARM
    return applied, int(cold), int(statistics.median(int(n) for n in warm))


def test_freed_activation_memory_is_reused_without_page_faults() -> None:
    # Medians over warm passes against the cold pass, not one pass against a fixed figure: now
    # and then a single warm pass takes a few thousand faults (3,328 failed a one-pass check
    # in CI). Measured with this probe (1 thread, 2-core machine shared with other jobs): cold
    # pass 24.8-27.6 k; kept warm passes 0 except single passes of 256-1,024, median 0 every
    # time; glibc's default: 10.7-26.6 k on every warm pass, medians 15-26 k.
    applied, cold, kept = _probe("keep")
    assert applied == "True"
    assert kept <= cold // 10, (cold, kept)
    # Control: without it the same passes do fault (so the check above can fail). One
    # 16-channel 512x512 float map is 4,096 pages; glibc's default faults them in anew.
    _, _, default = _probe("default")
    assert default > 4096, default


def test_users_malloc_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    from srcli.runtime import keep_freed_memory

    monkeypatch.setenv("MALLOC_ARENA_MAX_", "2")
    assert keep_freed_memory() is False
