"""Plot validation PSNR against iterations from run logs (log.jsonl) into a PNG.

    python scripts/plot_curves.py runs/dan_x2 runs/dan_x4 -o docs/training_curves.png

Needs matplotlib (`pip install -e ".[plot]"`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_curve(run: Path) -> tuple[list[int], list[float], list[float]]:
    its, live, ema = [], [], []
    for line in (run / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "psnr" in rec:
            its.append(rec["iter"])
            live.append(rec["psnr"])
            ema.append(rec.get("psnr_ema", float("nan")))
    return its, live, ema


def _title(run: Path) -> str:
    """`dan_x3_bd: x3 BD` from the run's config.json (the folder name alone if it has none)."""
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        return run.name
    cfg = json.loads(cfg_path.read_text())
    return f"{run.name}: x{cfg['scale']} {str(cfg.get('degradation', 'bi')).upper()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("-o", "--output", type=Path, default=Path("docs/training_curves.png"))
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One panel per run: the scales and degradations differ by up to 10 dB, and a shared axis
    # would flatten each curve's late gains to nothing.
    cols = min(len(args.runs), 3)
    rows = -(-len(args.runs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), dpi=100,
                             squeeze=False)
    for ax, run in zip(axes.flat, args.runs, strict=False):
        its, live, ema = read_curve(run)
        ax.plot(its, live, marker=".", label="live weights")
        if any(v == v for v in ema):  # not all NaN
            ax.plot(its, ema, linestyle="--", alpha=0.7, label="EMA 0.999")
            tail = [v for v in live + ema if v == v]
            top = max(tail)
            ax.set_ylim(top - 1.5, top + 0.1)  # the early EMA values would squash the rest
        ax.set_title(_title(run), fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("Set5 Y-PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    for ax in list(axes.flat)[len(args.runs):]:
        ax.axis("off")
    fig.suptitle("srcli DAN training on a 2-core CPU (validation on Set5)")
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
