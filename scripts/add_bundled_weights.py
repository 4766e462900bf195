"""Bundle exported srcli weights into the package and list them in the weights manifest.

    python scripts/add_bundled_weights.py runs/dan_x2/dan_x2.safetensors [more files...]
        [--model dan] [--license MIT] [--paper "..."] [--notes "..."] [--quality BENCH.json]

Each FILE is a `srcli train export` output with its JSON sidecar (FILE with .json). The pair
is copied to `srcli/weights/bundled/<model>_x<scale>[_bd|_dn].safetensors` (+ .json), then an
entry with the file's sha256 and size is written (replacing any entry for the same model,
scale and degradation)
to `srcli/weights/manifest.json` and its byte-identical copy `weights_manifest.json`.
`--quality` takes `srcli bench --json` output measured on the bundled files; its rows for the
same model, scale and degradation become the entry's quality figures ("measured by srcli
bench on DATE").
Run `pytest tests/test_weights_manifest.py` afterwards: it re-checks every bundled hash.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srcli.models.archs.dan import _PAPER as DAN_PAPER  # noqa: E402
from srcli.weights.manifest import BUNDLED_DIR, add_entries, bundled_entry_from_sidecar  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--model", help="user-facing name (default: the sidecar's architecture)")
    ap.add_argument("--license", default="MIT")
    ap.add_argument("--paper", default=None, help="default: the DAN paper for dan* models")
    ap.add_argument("--notes", default="")
    ap.add_argument("--quality", type=Path, help="srcli bench --json output for these files")
    args = ap.parse_args()
    rows = json.loads(args.quality.read_text()) if args.quality else []
    stamp = f"measured by srcli bench on {datetime.date.today().isoformat()}"
    BUNDLED_DIR.mkdir(parents=True, exist_ok=True)
    entries = []
    for src in args.files:
        sidecar_src = src.with_suffix(".json")
        sidecar = json.loads(sidecar_src.read_text())
        model = (args.model or sidecar["architecture"]).lower()
        deg = str(sidecar.get("degradation", "bi")).lower()
        suffix = "" if deg == "bi" else f"_{deg}"  # dan_x3.safetensors, dan_x3_bd.safetensors
        dest = BUNDLED_DIR / f"{model}_x{int(sidecar['scale'])}{suffix}.safetensors"
        if src.resolve() != dest.resolve():
            shutil.copyfile(src, dest)
            shutil.copyfile(sidecar_src, dest.with_suffix(".json"))
        paper = args.paper if args.paper is not None else (
            DAN_PAPER if sidecar["architecture"].startswith("dan") else "")
        scale = int(sidecar["scale"])
        quality = [{"dataset": r["dataset"], "scale": scale, "psnr": round(r["psnr"], 4),
                    "ssim": round(r["ssim"], 4), "degradation": r["degradation"],
                    "source": stamp + (" (x8 self-ensemble)" if r.get("ensemble") else "")}
                   for r in rows
                   if r["model"].rstrip("+") == model and r["scale"] == scale
                   and r["degradation"] == deg]
        entries.append(bundled_entry_from_sidecar(dest, sidecar, model=model,
                                                  license=args.license, paper=paper,
                                                  notes=args.notes, quality=quality))
    written = add_entries(entries)
    for e in entries:
        print(f"{e['model']} x{e['scale']} {e['degradation']}: {e['bundled']} {e['size']} "
              f"bytes sha256 {e['sha256']}")
    print("updated " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
