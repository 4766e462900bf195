"""The CLI starts without torch: help, usage and shell completion (which runs `srcli` on every
TAB) must not pay for torch, OpenCV, numpy or huggingface_hub. Commands import those when they
run. Each check is a fresh interpreter, since this test process has torch loaded already."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "cv2", "numpy", "huggingface_hub", "srcli.models", "srcli.weights")

# Runs `srcli ARGS...` in-process, then reports which heavy modules got imported.
_PROBE = f"""
import runpy, sys
sys.argv = ["srcli", *sys.argv[1:]]
try:
    runpy.run_module("srcli", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = [m for m in {HEAVY!r} if m in sys.modules]
print("LOADED:", ",".join(loaded), "EXIT:", code, file=sys.stderr)
"""


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **extra}


def _probe(*args: str, **env: str) -> tuple[list[str], str, str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                          text=True, env=_env(**env), cwd=REPO, timeout=120)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("LOADED:"), done.stderr
    loaded = last.removeprefix("LOADED:").split("EXIT:")[0].strip()
    return [m for m in loaded.split(",") if m], done.stdout, done.stderr


def test_importing_the_app_does_not_import_torch() -> None:
    code = "import srcli.cli.app, sys; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("args", [
    ["--help"], ["upscale", "--help"], ["bench", "--help"], ["train", "--help"],
    ["train", "export", "--help"], ["models", "--help"], ["models", "list", "--help"],
    ["--version"],
])
def test_help_loads_no_heavy_module(args: list[str]) -> None:
    loaded, stdout, stderr = _probe(*args)
    assert loaded == [], f"srcli {' '.join(args)} imported {loaded}"
    assert "EXIT: 0" in stderr and stdout.strip(), stderr


def test_usage_error_loads_no_heavy_module() -> None:
    loaded, _, stderr = _probe("upscale", "in.png", "--device", "tpu")
    assert loaded == [] and "EXIT: 2" in stderr, stderr


@pytest.mark.parametrize(("words", "cword", "expected"), [
    ("srcli upscale --mo", "2", "--model"),
    ("srcli upscale --format w", "3", "webp"),
    ("srcli bench --dataset set1", "3", "set14"),
    ("srcli models ", "2", "download"),
])
def test_completion_loads_no_heavy_module(words: str, cword: str, expected: str) -> None:
    loaded, stdout, stderr = _probe(_SRCLI_COMPLETE="complete_bash", COMP_WORDS=words,
                                    COMP_CWORD=cword)
    assert expected in stdout.split(), (stdout, stderr)
    assert loaded == [], f"completing {words!r} imported {loaded}"


def test_model_name_completion_uses_the_registry() -> None:
    # The registry is the architecture modules themselves, so this one completion may load
    # torch; it must still offer every registered model and the DAN+ ensemble names.
    loaded, stdout, stderr = _probe(_SRCLI_COMPLETE="complete_bash",
                                    COMP_WORDS="srcli upscale --model da", COMP_CWORD="3")
    names = stdout.split()
    assert "dan" in names and "dan+" in names, (stdout, stderr)
    assert all(n.startswith("da") for n in names), names



def _wait_until_blocked_writing(pid: int) -> None:
    # Linux names the kernel function a sleeping process waits in; a pipe writer waits in
    # (anon_)pipe_write. Polling it, not a sleep, makes the next step deterministic.
    for _ in range(3000):
        if "pipe_write" in Path(f"/proc/{pid}/wchan").read_text():
            return
        time.sleep(0.02)
    raise AssertionError("srcli never blocked writing its help")


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc")
def test_a_reader_that_leaves_early_is_not_reported_as_an_error() -> None:
    # `srcli bench --help | head -1`: the reader leaves while srcli is still writing. That is
    # the shell's normal business: click's quiet exit 1, no "error: [Errno 32] Broken pipe".
    # A one-page pipe makes srcli block mid-help (~6 KB); the reader leaves at that moment.
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    child = subprocess.Popen([sys.executable, "-m", "srcli", "bench", "--help"],
                             stdout=write_end, stderr=subprocess.PIPE, text=True,
                             env=_env(), cwd=REPO)
    os.close(write_end)
    with os.fdopen(read_end, "rb", buffering=0) as reader:  # take 100 bytes, no more
        assert reader.read(100)
        _wait_until_blocked_writing(child.pid)
    _, stderr = child.communicate(timeout=120)
    assert stderr == ""
    assert child.returncode == 1


@pytest.mark.parametrize("args", [
    ["models", "list"], ["models", "list", "--json"], ["models", "info", "dan"],
    ["models", "info", "msrn", "--scale", "4", "--json"],
])
def test_models_list_and_info_load_no_torch(args: list[str]) -> None:
    # They only read the manifest and look for files: no torch, OpenCV or numpy (~1 s).
    loaded, stdout, stderr = _probe(*args)
    assert "EXIT: 0" in stderr and stdout.strip(), stderr
    assert not {"torch", "cv2", "numpy"} & set(loaded), f"srcli {' '.join(args)} imported {loaded}"
