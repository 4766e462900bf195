"""Store bf16 benchmark figures of bundled weight files in the manifest (`quality_bf16`).

    srcli bench -d set5 -d set14 -d bsd100 -m dan -s 3 --degradation bd --precision bf16 \
        --threads 1 --data-dir ../shared/datasets/benchmark --json x3_bd_bf16.json
    python scripts/record_bf16_quality.py x3_bd_bf16.json [more.json ...]

Each JSON file is `srcli bench --json` output of one bundled file in bf16. Its rows replace the
entry's `quality_bf16` block. Prints, per file, the fp32 - bf16 loss per set and whether
`--precision auto` may use bf16 for it (loss <= BF16_MAX_LOSS_DB on every set).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from srcli.weights.manifest import (  # noqa: E402
    BF16_MAX_LOSS_DB,
    PACKAGE_MANIFEST,
    load_manifest,
    write_manifest,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", type=Path)
    parser.add_argument("--date", default=dt.date.today().isoformat())
    args = parser.parse_args()
    data = json.loads(PACKAGE_MANIFEST.read_text(encoding="utf-8"))
    for path in args.json:
        rows = json.loads(path.read_text(encoding="utf-8"))
        if any(r.get("precision") != "bf16" or r["ensemble"] for r in rows):
            raise SystemExit(f"{path}: not a single-model bf16 bench")
        scale, deg = rows[0]["scale"], rows[0]["degradation"]
        entry = next(w for w in data["weights"] if w["bundled"] and w["model"] == rows[0]["model"]
                     and w["scale"] == scale and w.get("degradation", "bi") == deg)
        entry["quality_bf16"] = [
            {"dataset": r["dataset"], "scale": scale, "psnr": round(r["psnr"], 4),
             "ssim": round(r["ssim"], 4), "degradation": deg,
             "source": f"measured by srcli bench --precision bf16 on {args.date}"}
            for r in rows]
    write_manifest(data)
    for e in load_manifest().entries:
        if e.quality_bf16:
            fp32 = {q.dataset: q.psnr for q in e.quality if "self-ensemble" not in q.source}
            losses = ", ".join(f"{q.dataset} {fp32[q.dataset] - q.psnr:+.4f}"
                               for q in e.quality_bf16)
            allowed = e.bf16_verdict()[0]
            print(f"{e.tag}: fp32 - bf16 = {losses} dB -> auto "
                  f"{'bf16' if allowed else 'fp32'} (limit {BF16_MAX_LOSS_DB} dB)")


if __name__ == "__main__":
    main()
