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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("-o", "--output", type=Path, default=Path("docs/training_curves.png"))
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for run in args.runs:
        its, live, ema = read_curve(run)
        (line,) = ax.plot(its, live, marker=".", label=f"{run.name}")
        if any(v == v for v in ema):  # not all NaN
            ax.plot(its, ema, linestyle="--", color=line.get_color(), alpha=0.6,
                    label=f"{run.name} (EMA 0.999)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation Y-PSNR (dB)")
    ax.set_title("srcli DAN training on 2-core CPU (validation: Set5, BI)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
