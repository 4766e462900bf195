"""Measure `srcli upscale` speed and memory on this machine (the figures of the README).

    python scripts/bench_upscale.py                              # full run, 1000² LR, x4
    python scripts/bench_upscale.py --size 128 --rss-size 250    # quick check that it works

Prints, in one run:
- the machine's fp32 matmul peak (GFLOP/s, same thread count as the model runs);
- achieved GFLOP/s of the model on a --size² LR image, untiled (model FLOPs counted by
  torch.utils.flop_counter on the meta device, divided by the best wall time);
- tiled / untiled time ratio (--tile, default: the engine's auto tile, or --size/2 if the
  auto tile would cover the whole image) with the default overlap;
- ensemble / single time ratio;
- peak RSS of a --rss-size² -> x scale upscale with --tile auto, measured in a child process
  that runs the same path as the CLI (read -> engine -> write).

The default model is `dan` with its bundled weights when they exist, else (weights do not
change speed) a random-weight DAN in the configuration being trained for them
(TRAINED_DAN); `--model`/`--set` pick anything else. Targets from issue 6: >= 75 % of
matmul peak, tiled <= 1.15x untiled, <= 2 GB peak RSS at 1000² -> x4, ensemble <= 8.3x.
"""

from __future__ import annotations

import argparse
import copy
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from srcli.inference.engine import EngineOptions, Upscaler, set_threads  # noqa: E402
from srcli.models import create_model  # noqa: E402

#: The configuration of the bundled DAN being trained (as scripts/bench_train.py SMALL_DAN).
TRAINED_DAN = {"n_feats": 32, "n_blocks": 8, "distance": 3, "reduction": 8,
               "image_skip": "bicubic"}
SAMPLE = REPO.parent / "shared" / "datasets" / "benchmark" / "Set14" / "HR" / "img_001.png"


def parse_overrides(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def build_model(args: argparse.Namespace) -> tuple[torch.nn.Module, str]:
    """(model, description) for the command-line choice."""
    overrides = parse_overrides(args.set)
    if args.model != "dan" or overrides:
        return create_model(args.model, args.scale, **overrides), f"{overrides or ''}"
    from srcli.errors import SrcliError
    from srcli.models.pretrained import load_pretrained

    try:
        return load_pretrained("dan", args.scale, download=False), "bundled weights"
    except SrcliError:
        return (create_model("dan", args.scale, **TRAINED_DAN),
                f"{TRAINED_DAN} (random weights: bundled ones not available)")


def best_time(fn: Callable[[], object], repeat: int, warm_up: bool = True) -> float:
    if warm_up:
        fn()  # oneDNN builds plans per shape; the allocator grows
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_peak(n: int = 2048, repeat: int = 5) -> float:
    a, b = torch.rand(n, n), torch.rand(n, n)
    return 2 * n**3 / best_time(lambda: a @ b, repeat) / 1e9


def model_flops(model: torch.nn.Module, side: int) -> int:
    meta = copy.deepcopy(model).to("meta")
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        meta(torch.empty(1, 3, side, side, device="meta"))
    return int(counter.get_total_flops())


def test_image(side: int) -> np.ndarray:
    """A real photo (Set14 HR, tiled if needed) cropped to side x side, float32 RGB."""
    from srcli.imaging.io import read_image

    img = read_image(SAMPLE).pixels if SAMPLE.exists() else np.random.rand(side, side, 3)
    reps = (-(-side // img.shape[0]), -(-side // img.shape[1]), 1)
    return np.ascontiguousarray(np.tile(img, reps)[:side, :side], dtype=np.float32)


def rss_child(args: argparse.Namespace) -> None:
    """Run one CLI-equivalent upscale; print its peak RSS in bytes, then the tile."""
    from srcli.imaging.io import ImageData, read_image, write_image
    from srcli.inference.pipeline import upscale_image

    set_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.png"
        write_image(src, ImageData(test_image(args.rss_size)))
        model, _ = build_model(args)
        upscaler = Upscaler(model, EngineOptions(device="cpu", tile="auto",
                                                 threads=args.threads))
        write_image(dst, upscale_image(read_image(src), upscaler))
    print(f"{own_peak_rss()} tile {upscaler.tile}", flush=True)


def own_peak_rss() -> int:
    """This process's peak RSS in bytes, counted from its own exec.

    Not getrusage: on Linux a child's ru_maxrss (RUSAGE_SELF and the parent's RUSAGE_CHILDREN
    alike) starts at the parent's high-water mark, because exec folds the forked parent
    image's peak into it, so a parent that had just run the timings reported its own peak.
    VmHWM belongs to the address space exec created.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # macOS: bytes
    return peak if sys.platform == "darwin" else peak * 1024


def measure_rss(args: argparse.Namespace) -> tuple[float, str]:
    cmd = [sys.executable, __file__, "--rss-child", "--model", args.model, "--scale",
           str(args.scale), "--rss-size", str(args.rss_size)]
    cmd += [f"--set={s}" for s in args.set]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    peak_bytes, info = done.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(peak_bytes) / 1024**3, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dan")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="model config override, e.g. --set n_feats=64 (repeatable)")
    parser.add_argument("--size", type=int, default=1000,
                        help="LR side for the timing runs (0 skips them)")
    parser.add_argument("--tile", type=int, default=None, help="tile for the tiled run")
    parser.add_argument("--rss-size", type=int, default=1000,
                        help="LR side for the peak-RSS run (0 skips it)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs (best is kept)")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args)
        return

    threads = set_threads(args.threads)
    model, what = build_model(args)
    image = test_image(args.size) if args.size else np.zeros((0, 0, 3), np.float32)
    print(f"model {args.model} x{args.scale} {what} | {threads} thread(s) | "
          f"torch {torch.__version__} | LR {args.size}x{args.size}")

    if args.size:
        timings(model, image, args, threads)
    if args.rss_size:
        rss_gib, info = measure_rss(args)
        print(f"peak RSS {args.rss_size}x{args.rss_size} -> x{args.scale}, tile auto: "
              f"{rss_gib:.2f} GiB ({info})")


def timings(model: torch.nn.Module, image: np.ndarray, args: argparse.Namespace,
            threads: int) -> None:
    peak = matmul_peak()
    print(f"fp32 matmul peak:        {peak:8.1f} GFLOP/s")

    whole = Upscaler(model, EngineOptions(device="cpu", tile=0, threads=threads))
    t_whole = best_time(lambda: whole.upscale(image), args.repeat)
    flops = model_flops(model, args.size)
    achieved = flops / t_whole / 1e9
    print(f"model:                   {achieved:8.1f} GFLOP/s ({100 * achieved / peak:.0f} % of "
          f"peak; {flops / 1e9:.1f} GFLOP in {t_whole:.2f} s)")

    auto = Upscaler(model, EngineOptions(device="cpu", tile="auto", threads=threads)).tile
    tile = args.tile or (auto if auto < args.size else max(args.size // 2, 64))
    tiled = Upscaler(model, EngineOptions(device="cpu", tile=tile, threads=threads))
    t_tiled = best_time(lambda: tiled.upscale(image), args.repeat)
    print(f"tiled / untiled:         {t_tiled / t_whole:8.3f} (tile {tile}, overlap "
          f"{tiled.overlap}, {tiled.passes(args.size, args.size)} tiles; auto tile {auto})")

    ens = Upscaler(model, EngineOptions(device="cpu", tile=0, ensemble=True, threads=threads))
    # Same model and (square) shapes as the untiled run, which already warmed them up.
    t_ens = best_time(lambda: ens.upscale(image), args.repeat, warm_up=False)
    print(f"ensemble / single:       {t_ens / t_whole:8.3f}")


if __name__ == "__main__":
    main()
