"""Time per pixel against tile size on this CPU: the measurement behind `--tile auto` on CPU.

    OMP_NUM_THREADS=1 python scripts/tile_sweep.py                   # bundled dan x4, 1 thread
    OMP_NUM_THREADS=1 python scripts/tile_sweep.py --tiles 64 128 --rounds 1   # quick

For every tile side T (LR pixels) and precision it times one engine pass over a T×T crop of a
real photo (bundled weights, channels_last, the engine's own forward; best of --rounds, the
sizes interleaved so a busy machine slows them alike; process CPU time, not wall time, so
that other jobs on a shared machine do not count) and prints

- µs per LR pixel of the bare pass (cache effects: grows with T);
- the tile's activation MiB (srcli.inference.memory, what the engine budgets with);
- the cost of a whole --image² picture with that tile: bare µs/px × the pixels the tiles
  really compute (overlap included, from the engine's own tile plan) / the image's pixels.

The fastest tile in that last column is what `--tile auto` should pick on a CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from srcli.inference.defaults import DEFAULT_OVERLAP  # noqa: E402
from srcli.inference.engine import EngineOptions, Upscaler  # noqa: E402
from srcli.inference.memory import bytes_per_pixel  # noqa: E402
from srcli.inference.tiling import plan_tiles  # noqa: E402
from srcli.models.pretrained import load_pretrained  # noqa: E402

SAMPLE = REPO.parent / "shared" / "datasets" / "benchmark" / "BSD100" / "HR" / "img_001.png"


def crop(side: int) -> np.ndarray:
    """A real photo, repeated if needed, cropped to side × side, float32 RGB in [0, 1]."""
    from srcli.imaging.io import read_image

    rng = np.random.default_rng(0)
    img = read_image(SAMPLE).pixels if SAMPLE.exists() else rng.random((321, 481, 3))
    reps = (-(-side // img.shape[0]), -(-side // img.shape[1]), 1)
    return np.ascontiguousarray(np.tile(img, reps)[:side, :side], dtype=np.float32)


def computed_fraction(image: int, tile: int, overlap: int) -> float:
    """Pixels the tiles of an image² picture compute / the picture's pixels."""
    tiles = plan_tiles(image, image, tile, overlap)
    return sum(t.height * t.width for t in tiles) / image**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--tiles", type=int, nargs="+",
                        default=[64, 96, 128, 160, 192, 256, 384, 512])
    parser.add_argument("--precisions", nargs="+", default=["bf16", "fp32"])
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds (best is kept)")
    parser.add_argument("--image", type=int, default=1000, help="picture side for the plan")
    args = parser.parse_args()
    torch.set_num_threads(1)
    engines = {p: Upscaler(load_pretrained("dan", args.scale, download=False),
                           EngineOptions(device="cpu", precision=p, tile=0, threads=1))
               for p in args.precisions}
    inputs = {t: torch.from_numpy(crop(t)).permute(2, 0, 1)[None] for t in args.tiles}
    best: dict[tuple[str, int], float] = {}
    for round_ in range(args.rounds + 1):  # round 0 warms up oneDNN's plans for each shape
        for t in args.tiles:
            for p, eng in engines.items():
                start = time.process_time()
                with torch.inference_mode():
                    eng._forward(inputs[t])
                took = time.process_time() - start
                if round_:
                    best[(p, t)] = min(best.get((p, t), took), took)
    print(f"dan x{args.scale} bundled, 1 thread, torch {torch.__version__}, best of "
          f"{args.rounds}; picture {args.image}² LR, overlap {DEFAULT_OVERLAP}")
    print("| precision | tile | act. MiB | bare µs/LR px | computed/picture | "
          f"µs/px for {args.image}² |")
    print("|---|---:|---:|---:|---:|---:|")
    for p, eng in engines.items():
        per_px = bytes_per_pixel(eng._model, eng.dtype, channels_last=True)
        for t in args.tiles:
            bare = best[(p, t)] / t**2 * 1e6
            frac = computed_fraction(args.image, t, DEFAULT_OVERLAP)
            print(f"| {p} | {t} | {per_px * t * t / 2**20:.0f} | {bare:.2f} | {frac:.3f} | "
                  f"{bare * frac:.2f} |")


if __name__ == "__main__":
    main()
