"""scripts/training_cost.py: the hours behind docs/training.md's cost table."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


def _write_log(run: Path, records: list[dict]) -> Path:
    run.mkdir()
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def test_a_pause_between_sessions_is_charged_at_the_logged_speed(
        tmp_path: Path, load_script: Callable[[str], ModuleType]) -> None:
    t0 = 1_000_000.0
    run = _write_log(tmp_path / "run", [
        {"iter": 100, "it_per_s": 1.0, "time": t0},
        {"iter": 200, "it_per_s": 1.0, "time": t0 + 100},
        {"iter": 200, "val": "set5", "psnr": 30.0, "time": t0 + 130},  # validation: 30 s
        {"iter": 300, "it_per_s": 0.5, "time": t0 + 130 + 3 * 3600},   # stopped for 3 hours
        {"iter": 400, "it_per_s": 0.5, "time": t0 + 130 + 3 * 3600 + 200},
    ])
    cost = load_script("training_cost")
    records = cost.read_log(run)
    # 100 s before the first record, 100 s, 30 s of validation, 200 s for the window across
    # the pause (100 its at 0.5 it/s), 200 s.
    assert cost.busy_seconds(records, gap_s=1200) == pytest.approx(630.0)


def test_a_lineage_counts_each_run_up_to_the_checkpoint_the_next_started_from(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        load_script: Callable[[str], ModuleType]) -> None:
    t0 = 1_000_000.0
    parent = _write_log(tmp_path / "parent", [
        {"iter": i, "it_per_s": 1.0, "time": t0 + i} for i in range(100, 1001, 100)])
    child = _write_log(tmp_path / "child", [
        {"iter": i, "it_per_s": 2.0, "time": t0 + 5000 + i / 2} for i in range(100, 401, 100)])
    load_script("training_cost").main([f"{parent}:550", str(child)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].endswith("| 550 | 0.14 |")  # 500 s up to the record at it 500
    assert lines[3].endswith("| 400 | 0.06 |")  # 200 s
    assert lines[4] == "| **total** | **950** | **0.19** |"
