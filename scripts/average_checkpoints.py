"""Average the weights of sibling training checkpoints (a "model soup") into one checkpoint.

    python scripts/average_checkpoints.py runs/dan_x3_y6/ckpt_00001500.pt:live \
        runs/dan_x3_yp/ckpt_00001500.pt:live -o runs/dan_x3_soup/ckpt_00001500.pt

Each input is a checkpoint, optionally `:live` (its `model` weights, the default) or `:ema`.
All inputs must share the architecture, scale and degradation. The output holds the mean as
its `model` weights and no EMA, so `srcli train export OUT`, `scripts/ship_dan.py OUT` and
`srcli train --init-from OUT` read it like any other checkpoint. Why: cycles restarted from
one parent with different seeds end a few thousandths of a dB apart on each benchmark, in
different directions; their mean sits between them in weight space and averages that
seed-to-seed scatter out instead of picking the luckiest seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srcli.train.checkpoint import atomic_save, load_checkpoint  # noqa: E402

SAME = ("model", "scale", "model_config", "degradation")


def _load(spec: str) -> tuple[str, dict, dict[str, torch.Tensor]]:
    path, _, which = spec.partition(":")
    which = which or "live"
    if which not in ("live", "ema"):
        raise SystemExit(f"{spec}: weights must be :live or :ema")
    ck = load_checkpoint(Path(path))  # weights_only: a checkpoint never runs code
    weights = ck["model"] if which == "live" else ck.get("ema")
    if weights is None:
        raise SystemExit(f"{path}: has no EMA weights")
    return f"{path}:{which}", ck, weights


def average(specs: list[str]) -> dict:
    """The averaged checkpoint (config and iteration count from the inputs)."""
    loaded = [_load(s) for s in specs]
    _, first, ref = loaded[0]
    for name, ck, weights in loaded[1:]:
        for key in SAME:
            if ck["config"].get(key) != first["config"].get(key):
                raise SystemExit(f"{name}: {key} differs from {loaded[0][0]}")
        if weights.keys() != ref.keys():
            raise SystemExit(f"{name}: tensor names differ from {loaded[0][0]}")
    # Sum in float64 so the mean does not depend on the order of the inputs.
    mean = {k: (sum(w[k].double() for _, _, w in loaded) / len(loaded)).to(ref[k].dtype)
            for k in ref}
    config = {**first["config"], "init_from": " + ".join(n for n, _, _ in loaded)}
    return {"model": mean, "ema": None, "optimizer": None,
            "iteration": max(ck["iteration"] for _, ck, _ in loaded),
            "best_psnr": None, "config": config, "history": [],
            "averaged_from": [n for n, _, _ in loaded]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="CKPT[:live|:ema], two or more")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    if len(args.checkpoints) < 2:
        raise SystemExit("give two or more checkpoints")
    if args.output.exists():
        raise SystemExit(f"{args.output}: exists; not overwriting it")
    ck = average(args.checkpoints)
    atomic_save(ck, args.output)  # a half-written checkpoint never has the final name
    print(f"{args.output}: mean of {len(ck['averaged_from'])} checkpoints")


if __name__ == "__main__":
    main()
