"""Confusion table of `--degradation auto` on generated inputs, and the estimators' errors.

    python scripts/selector_table.py [--images DIR] [--bench DIR] [--scales 2 4]

Every HR image of --images (default ../shared/datasets/val, else tests/data/benchmark/Set14/HR)
is downscaled by MATLAB bicubic at each scale, then made into: the clean LR (PNG); LR plus
colour Gaussian noise σ 5, 15, 30 (PNG); LR saved as JPEG q 20, 40, 70, 90 (a .jpg file, so
the tables are read); and the same JPEGs decoded and re-saved as PNG (only the pixels tell).
Expected family: clean -> bi, σ 5/15 and every JPEG -> real, σ 30 -> dn. The selector is run
with every family available (what it asks for) and with what dan has in the manifest now.
--bench adds the guard the issue sets: clean bicubic LR of every image in DIR's Set5, Set14,
BSD100 at ×2/×3/×4 must never get real or dn.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from srcli.data.patches import find_images, load_rgb
from srcli.imaging.estimate import measure
from srcli.imaging.resize import imresize, modcrop
from srcli.inference.auto import available_families, choose

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("bi", "bd", "dn", "real")
KINDS = ["clean", "noise 5", "noise 15", "noise 30", "jpeg 20", "jpeg 40", "jpeg 70",
         "jpeg 90", "png<jpeg 20", "png<jpeg 40", "png<jpeg 70", "png<jpeg 90"]


def expected(kind: str) -> str:
    return "bi" if kind == "clean" else "dn" if kind == "noise 30" else "real"


def variants(lr: np.ndarray, rng: np.random.Generator, tmp: Path):
    """(kind, pixels, path or None, true σ or None, true quality or None)."""
    yield "clean", lr, None, 0.0, None
    for s in (5, 15, 30):
        noisy = np.clip(np.floor(lr + rng.normal(0, s, lr.shape) + 0.5), 0, 255)
        yield f"noise {s}", noisy.astype(np.uint8), None, float(s), None
    for q in (20, 40, 70, 90):
        path = tmp / f"q{q}.jpg"
        Image.fromarray(lr).save(path, quality=q)
        dec = np.asarray(Image.open(path).convert("RGB"))
        yield f"jpeg {q}", dec, path, None, q
        buf = io.BytesIO()
        Image.fromarray(dec).save(buf, "PNG")
        yield f"png<jpeg {q}", np.asarray(Image.open(buf)), None, None, None


def table(rows: dict[str, Counter], title: str) -> None:
    print(f"\n{title}\n")
    print("| input | n | " + " | ".join(FAMILIES) + " | right |")
    print("|---|---:|" + "---:|" * len(FAMILIES) + "---:|")
    right = total = 0
    for kind in KINDS:
        c = rows[kind]
        n = sum(c.values())
        ok = c[expected(kind)]
        right, total = right + ok, total + n
        cells = " | ".join(str(c[f]) for f in FAMILIES)
        print(f"| {kind} (want {expected(kind)}) | {n} | {cells} | {100 * ok / n:.0f} % |")
    print(f"| **all** | {total} | | | | | **{100 * right / total:.1f} %** |")


def run(images: list[Path], scales: list[int]) -> None:
    everything = set(FAMILIES)
    wanted: dict[str, Counter] = defaultdict(Counter)
    now: dict[int, dict[str, Counter]] = {s: defaultdict(Counter) for s in scales}
    sigma_err: dict[str, list[float]] = defaultdict(list)
    q_exact = q_total = 0
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for path in images:
            hr = load_rgb(path)
            for s in scales:
                lr = imresize(modcrop(hr, s), 1 / s)
                for kind, px, fpath, sigma, q in variants(lr, rng, Path(tmp)):
                    m = measure(px, fpath)
                    wanted[kind][choose(m, everything).degradation] += 1
                    now[s][kind][choose(m, available_families("dan", s)).degradation] += 1
                    if sigma is not None:
                        sigma_err[kind].append(m.noise_sigma - sigma)
                    if q is not None:
                        q_total += 1
                        q_exact += m.jpeg_quality == q
    print(f"{len(images)} images × scales {scales} × {len(KINDS)} variants")
    table(wanted, "Chosen family with every family available (what the selector asks for):")
    for s in scales:
        table(now[s], f"Chosen family for dan ×{s} today "
                      f"(available: {', '.join(sorted(available_families('dan', s)))}):")
    print("\nNoise σ estimate minus truth (median [min, max]):")
    for kind, errs in sigma_err.items():
        e = np.array(errs)
        print(f"  {kind:9s} {np.median(e):+.2f} [{e.min():+.2f}, {e.max():+.2f}]")
    print(f"JPEG quality read exactly from the tables: {q_exact}/{q_total}")


def bench_guard(bench: Path) -> None:
    wrong, n, worst_sigma, worst_block = [], 0, 0.0, 0.0
    for name in ("Set5", "Set14", "BSD100"):
        folder = bench / name / "HR" if (bench / name / "HR").is_dir() else bench / name
        if not folder.is_dir():
            continue
        for path in find_images([folder]):
            hr = load_rgb(path)
            for s in (2, 3, 4):
                m = measure(imresize(modcrop(hr, s), 1 / s))
                n += 1
                worst_sigma = max(worst_sigma, m.noise_sigma)
                worst_block = max(worst_block, m.blockiness)
                if (d := choose(m, set(FAMILIES)).degradation) != "bi":
                    wrong.append(f"{name}/{path.name} x{s}: {d}")
    print(f"\nClean bicubic benchmark LR (Set5, Set14, BSD100 × 2/3/4): {n} inputs, "
          f"{len(wrong)} not bi; largest σ estimate {worst_sigma:.2f}, "
          f"largest blockiness {worst_block:.3f}")
    for w in wrong:
        print("  ", w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = ROOT.parent / "shared" / "datasets"
    default = shared / "val" if (shared / "val").is_dir() else \
        ROOT / "tests/data/benchmark/Set14/HR"
    ap.add_argument("--images", type=Path, default=default)
    ap.add_argument("--bench", type=Path, default=None)
    ap.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    args = ap.parse_args()
    run(find_images([args.images]), args.scales)
    if args.bench is not None:
        bench_guard(args.bench)


if __name__ == "__main__":
    main()
