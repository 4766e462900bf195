"""Peak memory and wall time of `srcli upscale` on a phone-sized photo (issue 29).

    python scripts/bench_bigimage.py                       # 4000×3000 at ×2 and ×4, bicubic
    python scripts/bench_bigimage.py --size 1000x750 --scales 2   # quick check that it works
    python scripts/bench_bigimage.py --model dan --threads 1      # the real model (slow)

Each run is a fresh child process (`python -m srcli upscale ...`, the user's path), and its
peak RSS comes from the kernel (os.wait4), so nothing of this process is counted. `--float`
also runs the old float path in a child (read -> float32 result -> write), the memory the
band-wise quantization removes. Target: peak RSS <= output bytes + 1 GB, that is 1.15 GB at
×2 and 1.6 GB at ×4 for 8-bit RGB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
_FLOAT_CHILD = """
import sys
from srcli.imaging.io import read_image, write_image
from srcli.inference.engine import EngineOptions, Upscaler
from srcli.inference.pipeline import upscale_image
from srcli.models.pretrained import load_model
src, dst, model, scale, tile, threads = sys.argv[1:7]
up = Upscaler(load_model(model, int(scale), None), EngineOptions(
    device="cpu", precision="fp32", tile=tile if tile == "auto" else int(tile),
    threads=int(threads)))
write_image(dst, upscale_image(read_image(src), up), overwrite=True)
"""


def make_photo(path: Path, width: int, height: int) -> None:
    """A JPEG with photo-like content: smooth shading, edges and fine noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 128 + 60 * np.sin(xx / 37.0) * np.cos(yy / 53.0) + 40 * ((xx // 200 + yy // 150) % 2)
    rgb = np.stack([base, base * 0.8 + 30, 255 - base], axis=2)
    rgb += rng.normal(0, 6, rgb.shape).astype(np.float32)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path, quality=92)


def run_child(cmd: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes, exit status) of one child process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss * 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="4000x3000", help="input WxH (default 4000x3000)")
    ap.add_argument("--scales", default="2,4")
    ap.add_argument("--model", default="bicubic")
    ap.add_argument("--tile", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--format", default="png")
    ap.add_argument("--float", action="store_true", help="also run the full-float path")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    print(f"input {width}x{height}, model {args.model}, tile {args.tile}, "
          f"{args.threads} thread(s), output {args.format}")
    print(f"{'scale':>5} {'path':>6} {'wall s':>7} {'peak RSS':>9} {'output':>8} "
          f"{'target':>8} {'ok':>3}")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.jpg"
        make_photo(src, width, height)
        for scale in (int(s) for s in args.scales.split(",")):
            dst = Path(tmp) / f"out_x{scale}.{args.format}"
            out_bytes = width * height * scale * scale * 3
            cli = [sys.executable, "-m", "srcli", "upscale", str(src), "-o", str(dst),
                   "-m", args.model, "-s", str(scale), "--tile", args.tile, "--threads",
                   str(args.threads), "--precision", "fp32", "--overwrite", "-q"]
            runs = [("bands", cli)]
            if args.float:
                runs.append(("float", [sys.executable, "-c", _FLOAT_CHILD, str(src), str(dst),
                                       args.model, str(scale), args.tile, str(args.threads)]))
            for name, cmd in runs:
                wall, rss, rc = run_child(cmd)
                if rc != 0:
                    print(f"{scale:>5} {name:>6} failed with exit status {rc}")
                    continue
                target = out_bytes + (1 << 30)
                print(f"{scale:>5} {name:>6} {wall:7.1f} {rss / 2**30:7.2f} G "
                      f"{out_bytes / 2**30:6.2f} G {target / 2**30:6.2f} G "
                      f"{'yes' if rss <= target else 'NO':>3}", flush=True)


if __name__ == "__main__":
    main()
