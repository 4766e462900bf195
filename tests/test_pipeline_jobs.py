"""Overlapped batches and several model workers (issue 29 items 2 and 3): `-j LOAD:PROC:SAVE`
and `--device cpu,cpu` give the serial loop's outputs and report, each file done once, with
bounded memory, isolated failures, claims honoured and nothing partial after Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from srcli.cli.app import app
from srcli.errors import ConfigError
from srcli.inference.claim import try_claim
from srcli.inference.workers import Jobs, Stages, run, worker_threads

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _folder(tmp_path: Path, n: int, size: tuple[int, int] = (40, 48), bad: bool = True) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 256, (size[0], size[1] + i, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"img_{i:02d}.png")
    if bad:  # sorts between img_02 and img_03: a failure in the middle of the batch
        (folder / "img_02b.png").write_bytes(b"not a png")
    return folder


def _upscale(folder: Path, out: Path, *extra: str) -> tuple[int, dict, str]:
    result = runner.invoke(app, ["upscale", str(folder), "-o", str(out), "-m", "bicubic",
                                 "-s", "2", "--threads", "1", "--json", *extra],
                           prog_name="srcli")
    return result.exit_code, json.loads(result.stdout), result.stderr


def _files(report: dict) -> list[dict]:
    return [{k: v for k, v in f.items() if k != "seconds"} for f in report["files"]]


# ------------------------------------------------------------------ parsing


def test_jobs_parse_and_refuse() -> None:
    assert Jobs.parse("1:1:1") == Jobs() and Jobs.parse(" 0:2:3 ") == Jobs(0, 2, 3)
    assert str(Jobs(2, 1, 0)) == "2:1:0"
    for bad in ("1:0:1", "1:1", "a:b:c", "1:1:1:1", "-1:1:1", "1:99:1"):
        with pytest.raises(ConfigError):
            Jobs.parse(bad)


def test_cpu_workers_split_the_thread_budget() -> None:
    assert worker_threads(None, [True], 8) == [None]  # one worker: the engine's default
    assert worker_threads(4, [True, True], 8) == [2, 2]
    assert worker_threads(None, [True, True], 8) == [4, 4]
    assert worker_threads(1, [True, True], 8) == [1, 1]  # at least one each
    assert worker_threads(6, [True, False, True], 8) == [3, 3, 3]  # GPU workers agree


@pytest.mark.parametrize(("argv", "says"), [
    (["upscale", "x.png", "-j", "1:0:1"], "PROC"),
    (["upscale", "x.png", "--jobs", "fast"], "LOAD:PROC:SAVE"),
    (["upscale", "x.png", "-g", "cpu,tpu"], "comma list"),
    (["bench", "-g", "cpu,cpu"], "one device"),
    (["train", "-g", "cuda:0,cuda:1"], "one device"),
])
def test_bad_jobs_and_device_lists_are_usage_errors(argv: list[str], says: str) -> None:
    result = runner.invoke(app, argv, prog_name="srcli")
    assert result.exit_code == 2 and says in result.stderr, result.stderr


# ------------------------------------------------------------------ the CLI


def test_pipelined_and_two_workers_equal_the_serial_loop(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 7)
    runs = {j: _upscale(folder, tmp_path / f"out{i}", *args) for i, (j, args) in enumerate({
        "serial": ("-j", "0:1:0"), "1:1:1": (), "2:1:2": ("-j", "2:1:2"),
        "cpu,cpu": ("-g", "cpu,cpu", "--threads", "2"),
        "cpu,cpu 0:2:0": ("-g", "cpu,cpu", "-j", "0:2:0", "--threads", "4"),
    }.items())}
    code, serial, _ = runs["serial"]
    assert code == 1 and serial["ok"] == 7 and serial["failed"] == 1  # the bad file only
    names = sorted(p.name for p in (tmp_path / "out0").iterdir())
    assert len(names) == 7
    for i, (name, (code, report, _)) in enumerate(runs.items()):
        out = tmp_path / f"out{i}"
        assert code == 1, name
        # Same report in input order, up to the outputs' folder; each file exactly once.
        assert json.dumps(_files(report)).replace(f"out{i}", "out0") == \
            json.dumps(_files(serial)), name
        assert sorted(p.name for p in out.iterdir()) == names, name  # no claim or temp left
        for n in names:
            assert (out / n).read_bytes() == (tmp_path / "out0" / n).read_bytes(), (name, n)
    assert runs["cpu,cpu"][1]["device"] == "cpu,cpu" and runs["cpu,cpu"][1]["threads"] == 2
    assert runs["cpu,cpu 0:2:0"][1]["device"] == "cpu,cpu,cpu,cpu"


def test_one_thread_per_stage_reports_in_input_order(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 5)
    (tmp_path / "out").mkdir()
    held = try_claim(tmp_path / "out" / "img_01_x2.png")  # another process's file
    assert held is not None
    try:
        code, report, stderr = _upscale(folder, tmp_path / "out", "-j", "1:1:1")
    finally:
        held.release()
    lines = [ln for ln in stderr.splitlines() if ln.startswith(("ok", "failed", "skipped"))]
    expected = ["img_00", "img_01", "img_02", "img_02b", "img_03", "img_04"]
    assert [ln.split()[1].rsplit("/", 1)[-1].split(".")[0].removesuffix("_x2")
            for ln in lines] == expected, stderr
    status = {Path(f["input"]).stem: f["status"] for f in report["files"]}
    assert status == {"img_00": "ok", "img_01": "skipped", "img_02": "ok",
                      "img_02b": "failed", "img_03": "ok", "img_04": "ok"}
    assert code == 1 and not (tmp_path / "out" / "img_01_x2.png").exists()
    assert not list((tmp_path / "out").glob(".*"))


def test_ctrl_c_leaves_no_partial_file_claim_or_temp(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 8, size=(240, 320), bad=False)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "srcli", "upscale", str(folder), "-o", str(out), "-m",
           "bicubic", "-s", "4", "--threads", "1", "-j", "2:1:2", "-g", "cpu,cpu"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*_x4.png")) and time.monotonic() < deadline:
        time.sleep(0.02)  # in the middle of the batch: files decoded, computed, being written
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    written = sorted(out.iterdir())
    assert written and all(p.name.endswith("_x4.png") for p in written), written
    assert len(written) < 8
    for p in written:  # complete images only
        with Image.open(p) as im:
            im.load()
            assert im.height == 240 * 4


# ------------------------------------------------------------------ the scheduler itself


class _Item:
    def __init__(self, i: int) -> None:
        self.i, self.pending, self.by, self.times = i, False, "", {"load": 0, "proc": 0,
                                                                  "save": 0, "done": 0}


def _stages(log: list[_Item], delays: dict[str, float], peaks: dict[str, int],
            fail_at: int | None = None) -> Stages[_Item, str]:
    """Stages that record what ran where, and how many inputs and results existed at once."""
    lock = threading.Lock()
    alive = {"inputs": 0, "results": 0}

    def count(kind: str, step: int) -> None:
        with lock:
            alive[kind] += step
            peaks[kind] = max(peaks.get(kind, 0), alive[kind])

    def load(it: _Item) -> None:
        it.times["load"] += 1
        it.pending = it.i % 5 != 4  # every fifth is "skipped" at load
        if it.pending:
            count("inputs", 1)

    def compute(worker: str, it: _Item, stopping: object) -> None:
        if it.i == fail_at:
            raise RuntimeError("boom")
        it.times["proc"] += 1
        it.by = worker
        time.sleep(delays[worker])
        count("inputs", -1)
        count("results", 1)

    def save(it: _Item) -> None:
        it.times["save"] += 1
        count("results", -1)
        it.pending = False

    def done(it: _Item) -> None:
        it.times["done"] += 1
        log.append(it)

    return Stages(load=load, compute=compute, save=save, pending=lambda it: it.pending,
                  done=done)


@pytest.mark.parametrize("jobs", [Jobs(1, 1, 1), Jobs(2, 1, 3), Jobs(0, 1, 0), Jobs(0, 1, 2)])
def test_a_slow_worker_takes_fewer_items_each_item_once(jobs: Jobs) -> None:
    items = [_Item(i) for i in range(30)]
    log: list[_Item] = []
    peaks: dict[str, int] = {}
    run(items, ["fast", "slow"], _stages(log, {"fast": 0.002, "slow": 0.03}, peaks), jobs)
    assert sorted(it.i for it in log) == list(range(30))  # reported once each
    for it in items:
        busy = it.i % 5 != 4
        assert it.times == {"load": 1, "proc": int(busy), "save": int(busy), "done": 1}
    by = [it.by for it in items if it.by]
    assert by.count("fast") > by.count("slow") >= 1
    # Memory bound: decoded inputs <= LOAD + PROC, results <= PROC + SAVE (at least 1 each).
    assert peaks["inputs"] <= jobs.load + 2
    assert peaks["results"] <= 2 + jobs.save


def test_one_worker_per_stage_keeps_input_order_and_bounds() -> None:
    items = [_Item(i) for i in range(20)]
    log: list[_Item] = []
    peaks: dict[str, int] = {}
    run(items, ["w"], _stages(log, {"w": 0.003}, peaks), Jobs(1, 1, 1))
    assert [it.i for it in log] == list(range(20))
    assert peaks["inputs"] <= 2 and peaks["results"] <= 2


def test_an_error_in_a_stage_stops_the_batch_and_is_raised() -> None:
    before = threading.active_count()
    items = [_Item(i) for i in range(40)]
    log: list[_Item] = []
    with pytest.raises(RuntimeError, match="boom"):
        run(items, ["a", "b"], _stages(log, {"a": 0.002, "b": 0.002}, {}, fail_at=7),
            Jobs(1, 1, 1))
    assert threading.active_count() == before  # every thread joined
    assert len(log) < 40
