"""Confusion table of `--degradation auto` on generated inputs, and the estimators' errors.

    python scripts/selector_table.py [--images DIR] [--every N] [--bench DIR] [--scales 2 4]

Every HR image of --images (default ../shared/datasets/val, else tests/data/benchmark/Set14/HR)
is downscaled by MATLAB bicubic at each scale, then made into: the clean LR (PNG); LR plus
colour Gaussian noise σ 5, 15, 30 (PNG); LR saved as JPEG q 20, 40, 70, 90 (a .jpg file, so
the tables are read); and the same JPEGs decoded and re-saved as PNG (only the pixels tell).
Expected family: clean -> bi, σ 5/15 and every JPEG -> real, σ 30 -> dn. The selector is run
with every family available (what it asks for) and with what dan has in the manifest now.
--bench adds the guard the issue sets: clean bicubic LR of every image in DIR's Set5, Set14,
BSD100 at ×2/×3/×4 (made here from HR, and the stored LR_bicubic files) must never get real
or dn. --time prints how long one measurement of a 1000×1000 photo takes (1 thread).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from srcli.data.patches import find_images, load_rgb
from srcli.imaging.estimate import chroma_noise_sigma, jpeg_grid, measure, noise_sigma
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
    colour: dict[str, list[float]] = defaultdict(list)
    grid: dict[str, list[tuple[float, bool]]] = defaultdict(list)
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
                        colour[kind].append(m.chroma_noise)
                    truth = int(kind.split()[-1]) if "jpeg" in kind else None
                    grid[kind].append((m.grid_score, m.grid_quality == truth))
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
    print("Colour noise σ (median [min, max]):")
    for kind, vals in colour.items():
        v = np.array(vals)
        print(f"  {kind:9s} {np.median(v):.2f} [{v.min():.2f}, {v.max():.2f}]")
    print("JPEG grid score (median [min, max]), quality of the lattice found = truth:")
    for kind, pairs in grid.items():
        g = np.array([p[0] for p in pairs])
        hit = sum(p[1] for p in pairs) if "jpeg" in kind else "-"
        print(f"  {kind:11s} {np.median(g):.3f} [{g.min():.3f}, {g.max():.3f}]  {hit}/{len(g)}")


def bench_guard(bench: Path) -> None:
    wrong, n, worst_sigma, worst_colour, worst_grid = [], 0, 0.0, 0.0, 0.0
    for name in ("Set5", "Set14", "BSD100"):
        folder = bench / name / "HR" if (bench / name / "HR").is_dir() else bench / name
        if not folder.is_dir():
            continue
        for path in find_images([folder]):
            hr = load_rgb(path)
            for s in (2, 3, 4):
                stored = bench / name / "LR_bicubic" / f"X{s}" / path.name
                lrs = [imresize(modcrop(hr, s), 1 / s)] + \
                    ([load_rgb(stored)] if stored.is_file() else [])
                for lr, src in zip(lrs, ("imresize", "LR_bicubic"), strict=False):
                    n += 1
                    m = measure(lr)
                    worst_sigma = max(worst_sigma, m.noise_sigma)
                    worst_colour = max(worst_colour, m.chroma_noise)
                    worst_grid = max(worst_grid, m.grid_score)
                    if (d := choose(m, set(FAMILIES)).degradation) != "bi":
                        wrong.append(f"{name}/{path.name} x{s} ({src}): {d}")
    print(f"\nClean bicubic benchmark LR (Set5, Set14, BSD100 × 2/3/4; our imresize of HR "
          f"and the stored LR_bicubic files): {n} inputs, "
          f"{len(wrong)} not bi; largest σ estimate {worst_sigma:.2f}, largest colour "
          f"noise {worst_colour:.2f}, largest grid score {worst_grid:.3f}")
    for w in wrong:
        print("  ", w)


def time_measure(images: list[Path], repeats: int = 10) -> None:
    """Seconds for one `measure` of a 1000×1000 photo (the first image, bicubic-resized;
    plus each estimator alone), best and median of `repeats`, one thread."""
    cv2.setNumThreads(1)
    photo = np.ascontiguousarray(imresize(load_rgb(images[0]), size=(1000, 1000)))
    print(f"\nTime for a 1000×1000 RGB photo ({images[0].name}), 1 thread, "
          f"best / median of {repeats}:")
    for fn in (measure, noise_sigma, chroma_noise_sigma, jpeg_grid):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn(photo)
            times.append(time.perf_counter() - t)
        print(f"  {fn.__name__:20s} {min(times) * 1e3:6.1f} / {np.median(times) * 1e3:6.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = ROOT.parent / "shared" / "datasets"
    default = shared / "val" if (shared / "val").is_dir() else \
        ROOT / "tests/data/benchmark/Set14/HR"
    ap.add_argument("--images", type=Path, default=default)
    ap.add_argument("--bench", type=Path, default=None)
    ap.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--every", type=int, default=1, help="use every Nth image of --images")
    ap.add_argument("--time", action="store_true", help="only time the estimators")
    args = ap.parse_args()
    if args.time:
        time_measure(find_images([args.images]))
        return
    run(find_images([args.images])[::args.every], args.scales)
    if args.bench is not None:
        bench_guard(args.bench)


if __name__ == "__main__":
    main()
