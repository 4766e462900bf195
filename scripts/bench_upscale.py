"""Measure `srcli upscale` speed and memory on this machine (the figures of docs/performance.md).

    OMP_NUM_THREADS=1 python scripts/bench_upscale.py --threads 1          # ~1-2 minutes
    python scripts/bench_upscale.py --size 64 --rss-size 128 --cli-size 64   # does it work?

Prints, in one run (a Markdown table at the end):
- the machine's fp32 and bf16 matmul peaks (GFLOP/s, same thread count as the model runs);
- each path's time on a --size² LR image, untiled, and its achieved GFLOP/s (model FLOPs
  counted by torch.utils.flop_counter on the meta device / best time) and ratio against eager
  NCHW fp32: eager NCHW fp32, channels_last fp32, channels_last bf16 (what `--precision auto`
  runs on a CPU with bf16 units), the rounds interleaved so a busy machine slows all alike;
- tiled / untiled time ratio in the default precision (--tile, default: the engine's auto
  tile, or --size/2 if the auto tile would cover the whole image) with the default overlap;
- ensemble (DAN+) / single time ratio in the default precision;
- peak RSS of a --rss-size² -> x scale upscale with --tile auto and the default precision,
  measured in a child process that runs the same path as the CLI (read -> engine -> write);
- CLI overhead: `srcli upscale` of a --cli-size² PNG (default settings) minus the engine time
  of the same image in-process, next to the time of a bare `import torch`.

Times are process CPU seconds (`time.process_time`, and the children's user+sys for the CLI),
not wall time: with one thread they are the same on an idle machine, and on a shared one
other jobs do not count. The default model is `dan` with its bundled weights when they
exist, else a random-weight DAN in the bundled configuration (weights do not change speed).
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

from srcli.devices import set_threads  # noqa: E402
from srcli.inference.engine import EngineOptions, Upscaler  # noqa: E402
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
    print(f"{own_peak_rss()} tile {upscaler.tile}, {upscaler.precision}", flush=True)


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
    parser.add_argument("--size", type=int, default=256,
                        help="LR side for the timing runs (0 skips them)")
    parser.add_argument("--tile", type=int, default=None, help="tile for the tiled run")
    parser.add_argument("--rss-size", type=int, default=1000,
                        help="LR side for the peak-RSS run (0 skips it)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (best is kept)")
    parser.add_argument("--cli-size", type=int, default=256,
                        help="PNG side for the CLI overhead run (0 skips it)")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args)
        return

    threads = set_threads(args.threads)
    model, what = build_model(args)
    image = test_image(args.size) if args.size else np.zeros((0, 0, 3), np.float32)
    print(f"model {args.model} x{args.scale} {what} | {threads} thread(s) | "
          f"torch {torch.__version__} | LR {args.size}x{args.size}", flush=True)
    rows: list[Row] = []
    if args.size:
        rows += timings(model, image, args, threads)
    if args.rss_size:
        rss_gib, info = measure_rss(args)
        rows.append((f"peak RSS {args.rss_size}² -> x{args.scale}, tile auto, default "
                     "precision", f"{rss_gib:.2f} GiB ({info})"))
    if args.cli_size:
        rows += cli_overhead(model, args, threads)
    print("| measure | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


Row = tuple[str, str]


def cpu_time(fn: Callable[[], object], repeat: int, warm_up: bool = True) -> float:
    """Best process CPU seconds of `repeat` calls (after one untimed call)."""
    if warm_up:
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeat: int = 5) -> float:
    a, b = torch.rand(n, n, dtype=dtype), torch.rand(n, n, dtype=dtype)
    return 2 * n**3 / cpu_time(lambda: a @ b, repeat) / 1e9


PATHS = {  # label: (precision, channels_last)
    "eager NCHW fp32": ("fp32", False),
    "channels_last fp32": ("fp32", True),
    "channels_last bf16": ("bf16", True),
}


def timings(model: torch.nn.Module, image: np.ndarray, args: argparse.Namespace,
            threads: int) -> list[Row]:
    peaks = {p: matmul_peak(d) for p, d in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    rows: list[Row] = [(f"{p} matmul peak (2048², {threads} thread)", f"{v:.0f} GFLOP/s")
                       for p, v in peaks.items()]
    flops = model_flops(model, args.size)
    engines = {label: Upscaler(copy.deepcopy(model), EngineOptions(
        device="cpu", precision=prec, tile=0, channels_last=cl, threads=threads))
        for label, (prec, cl) in PATHS.items()}
    best = {label: float("inf") for label in engines}
    for round_ in range(args.repeat + 1):  # round 0 warms up; then interleaved rounds
        for label, eng in engines.items():
            start = time.process_time()
            eng.upscale(image)
            took = time.process_time() - start
            best[label] = min(best[label], took) if round_ else best[label]
    base = best["eager NCHW fp32"]
    for label, seconds in best.items():
        prec = PATHS[label][0]
        achieved = flops / seconds / 1e9
        rows.append((f"{label}, {args.size}² untiled", f"{seconds:.2f} s, {achieved:.0f} "
                     f"GFLOP/s ({100 * achieved / peaks[prec]:.0f} % of the {prec} peak), "
                     f"{seconds / base:.2f}× eager fp32"))
    rows += tile_and_ensemble(model, image, args, threads)
    return rows


def tile_and_ensemble(model: torch.nn.Module, image: np.ndarray, args: argparse.Namespace,
                      threads: int) -> list[Row]:
    """Tiled / untiled and ensemble / single, both in the default (auto) precision."""
    whole = Upscaler(copy.deepcopy(model), EngineOptions(device="cpu", tile=0, threads=threads))
    t_whole = cpu_time(lambda: whole.upscale(image), args.repeat)
    auto = Upscaler(copy.deepcopy(model), EngineOptions(device="cpu", threads=threads)).tile
    tile = args.tile or (auto if auto < args.size else max(args.size // 2, 64))
    tiled = Upscaler(copy.deepcopy(model), EngineOptions(device="cpu", tile=tile,
                                                         threads=threads))
    t_tiled = cpu_time(lambda: tiled.upscale(image), args.repeat)
    ens = Upscaler(copy.deepcopy(model), EngineOptions(device="cpu", tile=0, ensemble=True,
                                                       threads=threads))
    # Same model and (square) shapes as the untiled run, which already warmed them up.
    t_ens = cpu_time(lambda: ens.upscale(image), args.repeat, warm_up=False)
    where = f"{args.size}², {whole.precision}"
    return [(f"tiled / untiled, {where}", f"{t_tiled / t_whole:.3f} (tile {tile}, overlap "
             f"{tiled.overlap}, {tiled.passes(args.size, args.size)} tiles; auto tile {auto})"),
            (f"DAN+ (x8 ensemble) / single, {where}", f"{t_ens / t_whole:.2f}")]


def cli_overhead(model: torch.nn.Module, args: argparse.Namespace, threads: int) -> list[Row]:
    """`srcli upscale` CPU time of a --cli-size² PNG minus the engine's time for it."""
    from srcli.imaging.io import ImageData, write_image

    image = test_image(args.cli_size)
    eng = Upscaler(copy.deepcopy(model), EngineOptions(device="cpu", threads=threads))
    engine_s = cpu_time(lambda: eng.upscale(image), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.png"
        write_image(src, ImageData(image))
        cmd = [sys.executable, "-m", "srcli", "upscale", str(src), "-o", str(Path(tmp) / "o.png"),
               "--overwrite", "--threads", str(threads), "--quiet"]
        cli_s = min(child_cpu(cmd) for _ in range(args.repeat))
    torch_s = min(child_cpu([sys.executable, "-c", "import torch"]) for _ in range(args.repeat))
    return [(f"srcli upscale {args.cli_size}² -> x{args.scale} (default settings)",
             f"{cli_s:.2f} s; engine alone {engine_s:.2f} s; overhead {cli_s - engine_s:.2f} s "
             f"= `import torch` {torch_s:.2f} s + {cli_s - engine_s - torch_s:.2f} s")]


def child_cpu(cmd: list[str]) -> float:
    """user + sys CPU seconds of one child process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


if __name__ == "__main__":
    main()
