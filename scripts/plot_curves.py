"""Plot validation PSNR against iterations from run logs (log.jsonl) into a PNG.

    python scripts/plot_curves.py runs/dan_x2 runs/dan_x2_c2 runs/dan_x4 -o docs/training_curves.png

A run started with `--init-from` another listed run's checkpoint of the same scale and
degradation (a warm-restart cycle) is drawn in that run's panel, its iterations counted on
from the checkpoint's.

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


def _config(run: Path) -> dict:
    path = run / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _kind(cfg: dict) -> tuple:
    return cfg.get("scale"), str(cfg.get("degradation", "bi"))


def continues(run: Path, runs: list[Path]) -> tuple[Path, int] | None:
    """(parent run, iteration offset) when `run` is a cycle started from a listed run."""
    cfg = _config(run)
    src = Path(cfg.get("init_from") or ".")
    if not src.name.startswith("ckpt_") or not src.stem[5:].isdigit():
        return None
    for other in runs:
        if other != run and other.resolve() == src.parent.resolve() \
                and _kind(_config(other)) == _kind(cfg):
            return other, int(src.stem[5:])
    return None


def _title(run: Path) -> str:
    """`dan_x3_bd: x3 BD` from the run's config.json (the folder name alone if it has none)."""
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        return run.name
    cfg = json.loads(cfg_path.read_text())
    return f"{run.name}: x{cfg['scale']} {str(cfg.get('degradation', 'bi')).upper()}"


def _chain(run: Path, cycles: dict[Path, tuple[Path, int] | None]) -> list[Path]:
    """`run` followed by the cycles that continue it, in order."""
    chain = [run]
    while nxt := [r for r, c in cycles.items() if c and c[0] == chain[-1]]:
        chain.append(nxt[0])
    return chain


def _draw(ax: object, run: Path, offset: int, k: int) -> float:
    """Plot one run's live and EMA curves; returns their highest value."""
    its, live, ema = read_curve(run)
    its = [i + offset for i in its]
    name = "" if k == 0 else f" ({run.name})"
    ax.plot(its, live, marker=".", color=f"C{2 * k}", label="live weights" + name)
    if any(v == v for v in ema):  # not all NaN
        ax.plot(its, ema, linestyle="--", alpha=0.7, color=f"C{2 * k + 1}",
                label="EMA 0.999" + name)
    return max([v for v in live + ema if v == v], default=0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("-o", "--output", type=Path, default=Path("docs/training_curves.png"))
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One panel per run: the scales and degradations differ by up to 10 dB, and a shared axis
    # would flatten each curve's late gains to nothing. Cycles join their parent's panel.
    cycles = {r: continues(r, args.runs) for r in args.runs}
    panels = [r for r in args.runs if cycles[r] is None]
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), dpi=100,
                             squeeze=False)
    for ax, run in zip(axes.flat, panels, strict=False):
        tops, offset = [], 0
        for k, part in enumerate(_chain(run, cycles)):
            offset += cycles[part][1] if cycles[part] else 0  # iterations before this cycle
            tops.append(_draw(ax, part, offset, k))
        top = max(tops)
        ax.set_ylim(top - 1.5, top + 0.1)  # the early EMA values would squash the rest
        ax.set_title(_title(run), fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("Set5 Y-PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("srcli DAN training on a 2-core CPU (validation on Set5)")
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
