"""Iterations and hours a model's whole training lineage cost, read from run logs.

    python scripts/training_cost.py runs/dan_x2:3000 runs/dan_x3 runs/dan_x3_w48

Each argument is a run folder (with its log.jsonl), optionally `:ITER` to count it only up to
the checkpoint the next run started from (`--init-from`). The time between consecutive log
records is summed; a longer pause than `--gap` minutes (the job was stopped between
sessions) counts as the record's own iterations at its logged speed instead. The runs used
one torch thread each, so their hours are also core-hours.
"""

from __future__ import annotations

import argparse
import json
from itertools import pairwise
from pathlib import Path


def read_log(run: Path) -> list[dict]:
    lines = (run / "log.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, filter(str.strip, lines)) if "time" in r]


def busy_seconds(records: list[dict], gap_s: float) -> float:
    """Seconds the run was training or validating, pauses between sessions left out."""
    if not records:
        return 0.0
    first = records[0]
    # The first record closes the window that began at iteration 0: its iterations at its
    # logged speed (data loading before it is not counted).
    seconds = first["iter"] / first["it_per_s"] if first.get("it_per_s") else 0.0
    for prev, rec in pairwise(records):
        dt = rec["time"] - prev["time"]
        if dt > gap_s:  # stopped and resumed: charge the window at its own speed
            rate = rec.get("it_per_s")
            dt = (rec["iter"] - prev["iter"]) / rate if rate else 0.0
        seconds += dt
    return seconds


def parse_segment(arg: str) -> tuple[Path, int | None]:
    path, _, upto = arg.partition(":")
    return Path(path), int(upto) if upto else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("segments", nargs="+", help="RUN or RUN:ITER, oldest first")
    ap.add_argument("--gap", type=float, default=20.0, help="pause in minutes (default 20)")
    args = ap.parse_args(argv)
    total_its, total_s = 0, 0.0
    print("| run | iterations | hours |\n|---|---|---|")
    for arg in args.segments:
        run, upto = parse_segment(arg)
        records = read_log(run)
        its = max((r["iter"] for r in records), default=0)
        if upto is not None:  # the log's records are every 100 its; the checkpoint is exact
            its, records = min(its, upto), [r for r in records if r["iter"] <= upto]
        seconds = busy_seconds(records, args.gap * 60)
        total_its, total_s = total_its + its, total_s + seconds
        print(f"| `{run}`{f' to it {upto}' if upto else ''} | {its:,} | {seconds / 3600:.2f} |")
    print(f"| **total** | **{total_its:,}** | **{total_s / 3600:.2f}** |")


if __name__ == "__main__":
    main()
