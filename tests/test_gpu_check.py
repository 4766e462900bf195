"""scripts/gpu_check.sh on a machine without a GPU: arguments, output folder, the message.

The GPU steps themselves run on a GPU machine (see docs/performance.md); here the parts that
do not need one are checked, plus the measuring code of one step on the CPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gpu_check.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


def _run(*args: str, cwd: Path, out: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env.update({"OMP_NUM_THREADS": "1", "PYTHON": sys.executable})
    if out is not None:
        env["OUT"] = out
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_help_lists_the_steps_and_the_output_folder(tmp_path: Path) -> None:
    done = _run("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for word in ("$OUT", "gpu_check_out", "pytest -m gpu", "torchrun", "Exit status"):
        assert word in done.stdout
    assert not (tmp_path / "gpu_check_out").exists()  # help creates nothing


@pytest.mark.parametrize("args", [["--bogus"], ["--out"], ["--out", ""]])
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    done = _run(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("gpu_check: ") and len(done.stderr.splitlines()) == 1


@no_gpu
def test_without_a_gpu_it_says_so_in_the_default_folder(tmp_path: Path) -> None:
    done = _run(cwd=tmp_path)
    assert done.returncode == 3
    assert "no NVIDIA GPU" in done.stderr and "nothing was checked" in done.stderr
    note = tmp_path / "gpu_check_out" / "NO_GPU.txt"
    assert note.read_text().strip() == done.stderr.strip()


@no_gpu
def test_out_from_the_environment_and_the_flag(tmp_path: Path) -> None:
    done = _run(cwd=tmp_path, out=str(tmp_path / "env" / "nested"))
    assert done.returncode == 3 and (tmp_path / "env" / "nested" / "NO_GPU.txt").is_file()
    done = _run("--out", str(tmp_path / "flag"), "--allow-no-gpu", cwd=tmp_path,
                out=str(tmp_path / "ignored"))
    assert done.returncode == 0 and "no NVIDIA GPU" in done.stderr
    assert (tmp_path / "flag" / "NO_GPU.txt").is_file() and not (tmp_path / "ignored").exists()


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    done = _run("--out", str(tmp_path / "taken"), cwd=tmp_path)
    assert done.returncode == 2 and "cannot create" in done.stderr


def test_the_ddp_step_runs_under_torchrun_on_the_cpu(tmp_path: Path) -> None:
    # The same code as the NCCL step, with gloo: one process group, DDP steps, an all-reduce.
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
         str(REPO / "scripts" / "gpu_check.py"), "ddp", "--out", str(tmp_path), "--device",
         "cpu"], capture_output=True, text=True, timeout=300, cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads((tmp_path / "ddp.json").read_text())
    assert row["backend"] == "gloo" and row["world"] == 1 and row["all_reduce"] == 1.0
    assert row["losses_finite"] and (tmp_path / "ddp.md").read_text().startswith("| backend")
