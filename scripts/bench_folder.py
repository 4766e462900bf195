"""Wall time of `srcli upscale` on a folder, serial (`-j 0:1:0`) against overlapped I/O
(`-j 1:1:1` and more), 1 model thread (issue 29 item 2).

    python scripts/bench_folder.py                    # 24 photos: bicubic 640x480, dan 128x96
    python scripts/bench_folder.py --models bicubic --jobs 0:1:0,1:1:1,2:1:2
    python scripts/bench_folder.py --devices cpu,cpu --threads 2   # two model workers
    python scripts/bench_folder.py --stages           # one photo's model and PNG write,
                                                      # one after the other, then at once

`-m bicubic` is I/O-bound (decoding a JPEG and encoding a 4x larger PNG take longer than the
resize), so overlapping them with the model is where the pipeline pays; `dan` is bound by the
model, so it should gain little. Each run is a fresh child process (the user's path), timed
from start to exit, peak RSS from the kernel; the outputs of every run are compared byte for
byte with the first one's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bigimage import REPO, make_photo  # noqa: E402

SIZES = {"bicubic": "640x480", "dan": "128x96"}


def run_child(cmd: list[str]) -> tuple[float, float, int, int]:
    """(wall s, CPU s (user + system), peak RSS bytes, exit status) of one child process.
    CPU / wall above 1 means stages ran at once; on a machine whose cores are busy with
    other work the pipeline has no idle core to overlap on, whatever it does."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024,
            os.waitstatus_to_exitcode(status))


def stages(model: str, size: str, scale: int, threads: int) -> None:
    """Model and PNG write of one photo, in turn and then in two threads at once: whether this
    machine gives the process a free core to overlap them on."""
    import threading

    from srcli.imaging.io import read_image, write_image
    from srcli.inference.engine import EngineOptions, Upscaler
    from srcli.inference.pipeline import upscale_image
    from srcli.models.pretrained import load_model

    up = Upscaler(load_model(model, scale, None),
                  EngineOptions(device="cpu", precision="fp32", threads=threads))
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "photo.jpg", Path(tmp) / "out.png"
        make_photo(src, *(int(v) for v in size.lower().split("x")))
        image = read_image(src)
        result = upscale_image(image, up, bits=8)
        took: dict[str, float] = {}

        def timed(name: str, fn: object) -> None:
            t = time.perf_counter()
            fn()  # type: ignore[operator]
            took[name] = time.perf_counter() - t

        jobs = {"model": lambda: upscale_image(image, up, bits=8),
                "write": lambda: write_image(dst, result, overwrite=True)}
        for name, fn in jobs.items():
            timed(name, fn)
        alone = dict(took)
        threads_ = [threading.Thread(target=timed, args=(n, f)) for n, f in jobs.items()]
        for t in threads_:
            t.start()
        for t in threads_:
            t.join()
        print(f"{model} {size} x{scale}: model {alone['model']:.2f} s, write {alone['write']:.2f}"
              f" s one after the other; {took['model']:.2f} s and {took['write']:.2f} s at once"
              f" (ideal overlap: {max(alone.values()):.2f} s for both)")


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--models", default="bicubic,dan")
    ap.add_argument("--size", help="input WxH for every model (default: bicubic 640x480, "
                    "dan 128x96)")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--jobs", default="0:1:0,1:1:1")
    ap.add_argument("--devices", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stages", action="store_true", help="time one photo's stages instead")
    args = ap.parse_args()
    if args.stages:
        for model in args.models.split(","):
            stages(model, args.size or SIZES.get(model, "256x192"), args.scale, args.threads)
        return
    print(f"{args.files} JPEG files, x{args.scale}, PNG out, device {args.devices}, "
          f"{args.threads} model thread(s)")
    print(f"{'model':>8} {'input':>8} {'jobs':>6} {'wall s':>7} {'files/s':>8} {'speedup':>8} "
          f"{'CPU/wall':>8} {'peak RSS':>9} {'same':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            size = args.size or SIZES.get(model, "256x192")
            width, height = (int(v) for v in size.lower().split("x"))
            folder = Path(tmp) / f"in_{model}"
            folder.mkdir()
            for i in range(args.files):
                make_photo(folder / f"photo_{i:02d}.jpg", width + 8 * i, height)
            first: tuple[float, str] | None = None
            for jobs in args.jobs.split(","):
                out = Path(tmp) / f"out_{model}_{jobs.replace(':', '_')}"
                cmd = [sys.executable, "-m", "srcli", "upscale", str(folder), "-o", str(out),
                       "-m", model, "-s", str(args.scale), "--threads", str(args.threads),
                       "-g", args.devices, "--precision", "fp32", "-j", jobs, "-q"]
                wall, cpu, rss, rc = run_child(cmd)
                if rc != 0:
                    print(f"{model:>8} {size:>8} {jobs:>6} failed with exit status {rc}")
                    continue
                d = digest(out)
                first = first or (wall, d)
                print(f"{model:>8} {size:>8} {jobs:>6} {wall:7.1f} {args.files / wall:8.2f} "
                      f"{first[0] / wall:7.2f}x {cpu / wall:8.2f} {rss / 2**30:7.2f} G "
                      f"{'yes' if d == first[1] else 'NO':>5}", flush=True)


if __name__ == "__main__":
    main()
