"""`srcli train` against bad options, bad data, damaged checkpoints and signals (issue 23).

The training images are random noise written to tmp_path, so none of this needs ../shared.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from srcli.cli.app import app
from srcli.data.patches import build_patch_set

TINY = ["--set", "n_feats=8", "--set", "n_blocks=2", "--set", "distance=1",
        "--set", "reduction=4", "--set", "image_skip=bicubic"]
runner = CliRunner()


def _noise(path: Path, h: int, w: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """datasets/train with three 64x64 noise images (datasets/val is made by tests needing it)."""
    folder = tmp_path / "datasets" / "train"
    folder.mkdir(parents=True)
    for i in range(3):
        _noise(folder / f"n{i}.png", 64, 64, i)
    return folder


def _args(data: Path, out: Path, iters: int, *extra: str) -> list[str]:
    return ["train", "--model", "dan", "--scale", "2", *TINY, "--data", str(data), "--patch",
            "16", "--batch", "2", "--iters", str(iters), "--threads", "1", "--log-every", "1",
            "--out", str(out), *extra]


def _train(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    res = runner.invoke(app, list(args), env={"SRCLI_VAL_DATA": None, **(env or {})})
    return res.exit_code, res.stderr


def _flat(text: str) -> str:
    """Rich wraps some lines at 80 columns: compare words, not line breaks."""
    return " ".join(text.split())


def _error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


# ------------------------------------------------------------------ item 4: tiny images


def test_images_smaller_than_a_patch_are_skipped_not_a_crash(data: Path, tmp_path: Path) -> None:
    _noise(data / "dot.png", 1, 1)
    _noise(data / "line.png", 1, 5000)
    patches = build_patch_set([data], 2, "bi", 16, [0.9])
    assert (len(patches.hr), patches.skipped) == (6, 4)  # 3 images + 3 scale-aug copies
    code, stderr = _train(*_args(data, tmp_path / "run", 2, "--val", ""))
    assert code == 0, stderr
    assert "2 smaller than a patch skipped" in _flat(stderr)


# ------------------------------------------------------------------ item 5: bad options


@pytest.mark.parametrize(("option", "message"), [
    (["--patch", "0"], "--patch must be at least 1, not 0"),
    (["--batch", "0"], "--batch must be at least 1, not 0"),
    (["--lr", "-1"], "--lr must be a positive number, not -1.0"),
    (["--set", "n_feats=0"], "does not work: RuntimeError"),
    (["--set", "n_feats=abc"], "--set n_feats=abc: expected int"),
    (["--ema", "1.5"], "--ema must be in [0, 1)"),
    (["--iters", "-5"], "--iters must be at least 1, not -5"),
    (["--keep", "-1"], "--keep must be at least 0, not -1"),
])
def test_bad_options_are_refused_before_any_data_is_read(option: list[str], message: str,
                                                        tmp_path: Path) -> None:
    # The data folder does not exist: an option error must come first, in one line.
    code, stderr = _train(*_args(tmp_path / "missing", tmp_path / "run", 10, "--val", "",
                                 *option))
    assert code == 1
    assert message in _error_line(stderr)
    assert "internal error" not in stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize(("option", "value", "choices"), [
    ("--lr-schedule", "linear", "'step', 'cosine'"),
    ("--amp", "int8", "'none', 'bf16', 'fp16'"),
    ("--loss", "huber", "'l1', 'l2', 'l1y'"),
    ("--degradation", "jpeg", "'bi', 'bd', 'dn', 'real'"),
])
def test_named_options_are_choices_refused_as_usage_errors(option: str, value: str,
                                                          choices: str, tmp_path: Path) -> None:
    code, stderr = _train(*_args(tmp_path / "missing", tmp_path / "run", 10, "--val", "",
                                 option, value))
    assert code == 2  # click's usage error, naming the flag and every accepted value
    text = _flat(stderr.replace("│", " "))  # the message is drawn in a Rich box
    assert f"Invalid value for '{option}'" in text and choices in text
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ item 2: run folder


def test_a_non_empty_run_folder_needs_resume_or_overwrite(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _train(*_args(data, run, 4, "--val", "", "--ckpt-every", "2"))[0] == 0
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    code, stderr = _train(*_args(data, run, 2, "--val", "", "--ckpt-every", "1"))
    assert code == 1 and "is not empty" in _error_line(stderr) and "--overwrite" in stderr
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before  # untouched
    (run / "notes.txt").write_text("mine")
    code, stderr = _train(*_args(data, run, 2, "--val", "", "--ckpt-every", "1",
                                 "--overwrite"))
    assert code == 0, stderr
    assert sorted(p.name for p in run.iterdir()) == [
        "ckpt_00000001.pt", "ckpt_00000002.pt", "config.json", "log.jsonl", "notes.txt"]
    iters = [json.loads(line)["iter"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert iters == [1, 2]  # one run's log, not two interleaved


# ------------------------------------------------------------------ item 14: resume


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_resume_falls_back_to_the_newest_readable_checkpoint(damage: str, data: Path,
                                                             tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _train(*_args(data, run, 4, "--val", "", "--ckpt-every", "2"))[0] == 0
    last = run / "ckpt_00000004.pt"
    last.write_bytes(last.read_bytes()[:1000] if damage == "truncated" else b"")
    code, stderr = _train(*_args(data, run, 6, "--val", "", "--ckpt-every", "2",
                                 "--resume", "auto"))
    assert code == 0, stderr
    warning = next(line for line in stderr.splitlines() if line.startswith("warning:"))
    reason = "the file is empty (0 bytes)" if damage == "empty" else "1,000 bytes, truncated"
    assert str(last) in warning and reason in warning
    iters = [json.loads(line)["iter"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert iters == [1, 2, 3, 4, 3, 4, 5, 6]  # resumed from iteration 2
    # a file named explicitly is not replaced by another one
    last.write_bytes(last.read_bytes()[:1000] if damage == "truncated" else b"")
    code, stderr = _train(*_args(data, run, 8, "--val", "", "--resume", str(last)))
    assert code == 1 and reason in _error_line(stderr)


# ------------------------------------------------------------------ item 13: validation


def test_validation_defaults_to_the_val_folder_beside_the_training_data(data: Path,
                                                                         tmp_path: Path) -> None:
    val = data.parent / "val"
    val.mkdir()
    _noise(val / "v.png", 48, 48, 7)
    code, stderr = _train(*_args(data, tmp_path / "a", 2, "--val-every", "2"))
    assert code == 0, stderr
    assert f"validation {val} at it 2" in _flat(stderr)
    other = tmp_path / "elsewhere"
    other.mkdir()
    _noise(other / "w.png", 40, 40, 8)
    code, stderr = _train(*_args(data, tmp_path / "b", 2, "--val-every", "2"),
                          env={"SRCLI_VAL_DATA": str(other)})
    assert code == 0 and f"validation {other} at it 2" in _flat(stderr)


def test_no_validation_folder_gives_a_note_and_a_benchmark_a_warning(data: Path,
                                                                      tmp_path: Path) -> None:
    code, stderr = _train(*_args(data, tmp_path / "a", 2))
    assert code == 0 and "note: no validation set" in stderr and " at it 2:" not in stderr
    bench = tmp_path / "benchmark" / "Set5" / "HR"
    bench.mkdir(parents=True)
    _noise(bench / "img_001.png", 48, 48)
    code, stderr = _train(*_args(data, tmp_path / "b", 2, "--val", str(bench)))
    assert code == 0, stderr
    assert "warning: validating on the benchmark Set5" in stderr


def test_a_missing_named_validation_set_fails_fast_with_advice_train_accepts(
        data: Path, tmp_path: Path) -> None:
    start = time.perf_counter()
    code, stderr = _train(*_args(data, tmp_path / "run", 2, "--val", "set5"),
                          env={"SRCLI_DATA": None, "SRCLI_CACHE": str(tmp_path / "cache")})
    line = _error_line(stderr)
    assert code == 1 and "SRCLI_DATA" in line and "--val" in line and "--data-dir" not in line
    assert time.perf_counter() - start < 20  # no download attempt, no image decoding


# ------------------------------------------------------------------ item 15: modes, SIGINT


def test_checkpoints_and_exports_follow_the_umask(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _train(*_args(data, run, 2, "--val", ""))[0] == 0
    out = tmp_path / "w.safetensors"
    assert runner.invoke(app, ["train", "export", str(run), "-o", str(out)]).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    for path in (run / "ckpt_00000002.pt", out):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


def _env() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SRCLI_VAL_DATA", None)
    return env


def _wait_for_log(run: Path, proc: subprocess.Popen[str], seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        if (run / "log.jsonl").is_file() and (run / "log.jsonl").read_text().strip():
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"training did not start: {proc.communicate()[1][-2000:]}")


def test_sigint_saves_a_checkpoint_and_exits_130_like_upscale(data: Path,
                                                              tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "srcli", *_args(data, run, 100_000, "--val", "",
                                                 "--ckpt-every", "100000")]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _wait_for_log(run, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert list(run.glob("ckpt_*.pt")) and "interrupted at iteration" in _flat(stderr)


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_sigterm_to_both_ddp_ranks_stops_them_together(data: Path, tmp_path: Path) -> None:
    """Before the stop flag was agreed across ranks, rank 0 blocked saving and rank 1 in the
    DDP forward, forever."""
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29523", "-m", "srcli",
           *_args(data, run, 100_000, "--val", "", "--ckpt-every", "100000")]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _wait_for_log(run, proc)
    workers = _children(proc.pid)
    assert len(workers) == 2
    for pid in workers:
        os.kill(pid, signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        for pid in [*workers, proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("DDP ranks deadlocked after SIGTERM")
    assert "exitcode  : 143" in stderr  # both ranks stopped through the handler, 128 + 15
    ckpts = list(run.glob("ckpt_*.pt"))
    assert len(ckpts) == 1 and "interrupted at iteration" in _flat(stderr)
