"""Ship a training checkpoint as srcli's bundled DAN weights, in one command.

    python scripts/ship_dan.py runs/dan_x3/ckpt_00010000.pt [--no-ema] [--compare-only]

Steps (the procedure docs/training.md describes):
1. `srcli train export CKPT --fp16` to /tmp/srcli-ship/dan_x<s>[_bd|_dn].safetensors;
2. `srcli bench` of that file on Set5, Set14 and BSD100 as DAN and DAN+ (two one-thread
   processes side by side), with the checkpoint's own scale and degradation;
3. prints the figures beside those of the bundled file in the manifest, and, unless
   `--compare-only` or some set got worse, runs scripts/add_bundled_weights.py with them;
4. prints the README quality-table rows (figures rounded from the raw bench output).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srcli.models.archs.dan import DANConfig  # noqa: E402
from srcli.weights.manifest import load_manifest  # noqa: E402

SETS = ("Set5", "Set14", "BSD100")


def _srcli(*args: str) -> list[str]:
    return [sys.executable, "-m", "srcli", *args]


def _notes(cfg: dict) -> str:
    mc = {**vars(DANConfig()), **cfg.get("model_config", {})}  # unset fields: DAN's defaults
    return (f"CPU-trained small DAN ({mc['n_feats']} channels, "
            f"{mc['n_blocks']} DABs); see docs/training.md")


def _export(ckpt: Path, cfg: dict, out_dir: Path, ema: bool) -> tuple[Path, int, str]:
    scale, deg = int(cfg["scale"]), cfg.get("degradation", "bi")
    out = out_dir / f"dan_x{scale}{'' if deg == 'bi' else '_' + deg}.safetensors"
    flags = [] if ema else ["--no-ema"]
    subprocess.run(_srcli("train", "export", str(ckpt), "-o", str(out), "--fp16", *flags),
                   check=True, cwd=ROOT)
    return out, scale, deg


def _bench(weights: Path, scale: int, deg: str, out_dir: Path) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs, paths = [], []
    for model in ("dan", "dan+"):
        path = out_dir / f"bench_{model}.json"
        cmd = _srcli("bench", "-d", "set5", "-d", "set14", "-d", "bsd100", "-m", model,
                     "-s", str(scale), "--degradation", deg, "--weights", str(weights),
                     "--data-dir", str(ROOT.parent / "shared/datasets/benchmark"),
                     "--threads", "1", "--json", str(path))
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env))
        paths.append(path)
    if any(p.wait() for p in procs):
        sys.exit("bench failed")
    return [row for p in paths for row in json.loads(p.read_text())]


def _compare(rows: list[dict], scale: int, deg: str) -> bool:
    """Print new vs bundled figures; True when DAN (single) is no worse on every set."""
    entry = load_manifest().find("dan", scale, deg)
    old = {(q.dataset, "self-ensemble" in q.source): q.psnr for q in entry.quality} \
        if entry else {}
    better = True
    for r in rows:
        was = old.get((r["dataset"], r["ensemble"]))
        tag = "dan+" if r["ensemble"] else "dan"
        print(f"{tag:5} {r['dataset']:7} new {r['psnr']:.3f} / {r['ssim']:.4f}   "
              f"bundled {was if was is not None else '-'}")
        if not r["ensemble"] and was is not None and round(r["psnr"], 4) < was:
            better = False
    return better


def _readme_rows(rows: list[dict], scale: int, deg: str) -> None:
    by = {(r["dataset"], r["ensemble"]): r for r in rows}
    for ens in (False, True):
        cells = [by[(s, ens)] for s in SETS]
        if deg == "bi":
            nums = [f"{c['psnr']:.2f}" for c in cells]
            print(" | ".join(nums if ens else [f"**{n}**" for n in nums]) + f"   (x{scale})")
        else:
            nums = [f"{c['psnr']:.2f} / {c['ssim']:.4f}" for c in cells]
            print(" | ".join(nums if ens else [f"**{n}**" for n in nums]) + f"   ({deg})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--no-ema", action="store_true", help="export the live weights")
    ap.add_argument("--compare-only", action="store_true", help="measure, do not bundle")
    ap.add_argument("--force", action="store_true", help="bundle even if a set got worse")
    ap.add_argument("--work", type=Path, default=Path("/tmp/srcli-ship"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cfg = torch.load(args.checkpoint, map_location="cpu", weights_only=True)["config"]
    weights, scale, deg = _export(args.checkpoint.resolve(), cfg, args.work, not args.no_ema)
    rows = _bench(weights, scale, deg, args.work)
    (args.work / "quality.json").write_text(json.dumps(rows, indent=1))
    better = _compare(rows, scale, deg)
    _readme_rows(rows, scale, deg)
    if args.compare_only or not (better or args.force):
        print("not bundled" + ("" if args.compare_only else ": a set got worse (--force)"))
        return
    subprocess.run([sys.executable, str(ROOT / "scripts/add_bundled_weights.py"), str(weights),
                    "--quality", str(args.work / "quality.json"), "--notes", _notes(cfg)],
                   check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
