"""Cost of the REAL degradation of one training patch (blur, bicubic 1/s, noise, JPEG), one
thread, on a real photo: wall mean, median, p95 and CPU-time mean per patch over random draws.

    python scripts/time_real_degrade.py [IMAGE] [--draws N]

Run it on a quiet machine: wall time on a loaded one measures the other jobs too.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from srcli.imaging.degrade import degrade_real_patch  # noqa: E402
from srcli.imaging.resize import modcrop  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent / "tests/data/benchmark/Set14/HR/img_002.png"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--draws", type=int, default=300)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    hr_full = np.asarray(Image.open(args.image).convert("RGB"))
    print(f"{args.image.name} {hr_full.shape[1]}x{hr_full.shape[0]}, {args.draws} draws, "
          "1 thread; ms per patch: wall mean / median / p95, CPU mean")
    for scale in (2, 3, 4):
        hr = modcrop(hr_full, scale)
        h, w = hr.shape[0] // scale, hr.shape[1] // scale
        for size in (48, 64, 96):
            if min(h, w) < size:
                continue
            rng = np.random.default_rng(0)
            times = []
            cpu0 = time.process_time()
            for _ in range(args.draws):
                y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
                t0 = time.perf_counter()
                degrade_real_patch(hr, scale, y, x, size, rng)
                times.append(1000 * (time.perf_counter() - t0))
            cpu = 1000 * (time.process_time() - cpu0) / args.draws
            t = np.array(times)
            print(f"x{scale} {size:3d} px LR: {t.mean():5.2f} / {np.median(t):5.2f} / "
                  f"{np.percentile(t, 95):5.2f} ms wall, {cpu:5.2f} ms CPU")


if __name__ == "__main__":
    main()
