"""The measuring parts of scripts/gpu_check.sh (run that, not this): one part per call.

    python scripts/gpu_check.py PART --out DIR [--device cuda] [--quick]

Parts (each writes DIR/PART.json and prints a Markdown table):

- quality:    every bundled weight file on Set5 and Set14 in fp32, fp16 and bf16 on the GPU
              (srcli.bench, whole images): PSNR, and the fp16/bf16 - fp32 difference of the
              outputs (largest absolute difference in grey levels, PSNR against fp32);
              DAN+ (x8 self-ensemble) x4 on Set5/Set14 against the manifest's figure.
- speed:      1000² -> x4 with the bundled DAN: tiled vs whole (largest difference, time),
              throughput in output megapixels/s and peak GPU memory, per precision.
- oom:        a tiny per-process memory cap (torch.cuda.set_per_process_memory_fraction) so
              the whole-image pass cannot fit: the engine must halve the tile until it does
              and give the same image as an uncapped tiled run.
- train:      training steps/s of the bundled x2 DAN configuration, fp32 vs bf16 autocast
              (batch 16, 48² LR patches, Adam), interleaved.
- ddp:        run under `torchrun --nproc_per_node 1`: NCCL process group, DDP-wrapped DAN,
              a few optimiser steps, all-reduce checked (the multi-GPU path on one GPU).

`--device cpu --quick` runs the same code on the CPU with tiny sizes (how the code itself is
checked on machines without a GPU; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from srcli.bench import BenchOptions, evaluate  # noqa: E402
from srcli.inference.engine import EngineOptions, Upscaler  # noqa: E402
from srcli.models.pretrained import load_pretrained  # noqa: E402
from srcli.weights.manifest import load_manifest  # noqa: E402

PARTS = ("quality", "speed", "oom", "train", "ddp")
SHARED = REPO.parent / "shared" / "datasets" / "benchmark"
FIXTURES = REPO / "tests" / "data" / "benchmark"


def data_dir() -> Path:
    """The benchmark sets: ../shared when present, else the repository's test fixtures."""
    return SHARED if (SHARED / "Set14").is_dir() else FIXTURES


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, repeat: int = 2) -> tuple[float, Any]:
    """(best seconds of `repeat` runs after one warm-up, last result)."""
    result = fn()
    best = math.inf
    for _ in range(repeat):
        sync(device)
        start = time.perf_counter()
        result = fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best, result


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def photo(side: int) -> np.ndarray:
    """A real photo (Set14 img_001 HR), repeated and cropped to side², float32 RGB."""
    from srcli.imaging.io import read_image

    img = read_image(data_dir() / "Set14" / "HR" / "img_001.png").pixels
    reps = (-(-side // img.shape[0]), -(-side // img.shape[1]), 1)
    return np.ascontiguousarray(np.tile(img, reps)[:side, :side], dtype=np.float32)


def bundled() -> list[tuple[int, str]]:
    return [(e.scale, e.degradation) for e in load_manifest().entries if e.bundled]


# ---------------------------------------------------------------------------- parts


def part_quality(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    sets = ["set5"] if args.quick else ["set5", "set14"]
    limit = 1 if args.quick else None
    files = bundled()[:1] if args.quick else bundled()
    side = 64 if args.quick else 200
    for scale, deg in files:
        model = {scale: load_pretrained("dan", scale, degradation=deg, download=False)}
        outputs: dict[str, np.ndarray] = {}
        for precision in ("fp32", "fp16", "bf16"):
            opts = BenchOptions(degradation=deg, device=args.device, precision=precision,
                                limit=limit)
            found = evaluate(sets, {"dan": model}, [scale], opts, data_dir=data_dir())
            for r in found:
                rows.append({"file": f"dan x{scale} {deg}", "precision": precision,
                             "dataset": r.dataset, "psnr": round(r.psnr, 4),
                             "ms_per_image": round(r.ms_per_image, 1)})
            eng = Upscaler(model[scale], EngineOptions(device=args.device, precision=precision,
                                                       tile=0))
            outputs[precision] = to_u8(eng.upscale(photo(side)))
        for precision in ("fp16", "bf16"):
            diff = np.abs(outputs[precision].astype(int) - outputs["fp32"].astype(int))
            from srcli.metrics import psnr

            rows.append({"file": f"dan x{scale} {deg}", "precision": precision,
                         "dataset": f"vs fp32 ({side}² photo)", "max_abs_diff": int(diff.max()),
                         "psnr": round(psnr(outputs[precision], outputs["fp32"]), 2)})
    rows += ensemble_rows(args, sets, limit)
    return rows


def ensemble_rows(args: argparse.Namespace, sets: list[str],
                  limit: int | None) -> list[dict[str, Any]]:
    entry = load_manifest().find("dan", 4)
    published = {q.dataset: q.psnr for q in entry.quality if "self-ensemble" in q.source}
    model = {4: load_pretrained("dan", 4, download=False)}
    opts = BenchOptions(device=args.device, precision="fp32", ensemble=True, limit=limit)
    return [{"file": "dan+ x4 bi", "precision": "fp32", "dataset": r.dataset,
             "psnr": round(r.psnr, 4), "manifest_psnr": published.get(r.dataset),
             "ms_per_image": round(r.ms_per_image, 1)}
            for r in evaluate(sets, {"dan+": model}, [4], opts, data_dir=data_dir())]


def part_speed(args: argparse.Namespace) -> list[dict[str, Any]]:
    device = torch.device(args.device)
    side = 96 if args.quick else 1000
    image = photo(side)
    rows = []
    for precision in ("fp32", "fp16", "bf16", "auto"):
        model = load_pretrained("dan", 4, download=False)
        whole = Upscaler(model, EngineOptions(device=args.device, precision=precision, tile=0))
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t_whole, out_whole = timed(lambda u=whole: u.upscale(image), device)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
        tiled = Upscaler(load_pretrained("dan", 4, download=False), EngineOptions(
            device=args.device, precision=precision, tile=max(side // 4, 48)))
        t_tiled, out_tiled = timed(lambda u=tiled: u.upscale(image), device)
        diff = np.abs(to_u8(out_whole).astype(int) - to_u8(out_tiled).astype(int))
        rows.append({"precision": precision, "ran_as": whole.precision, "side": side,
                     "whole_s": round(t_whole, 3), "tiled_s": round(t_tiled, 3),
                     "tile": tiled.tile,
                     "mp_per_s_whole": round((side * 4) ** 2 / 1e6 / t_whole, 2),
                     "tiled_vs_whole_max_abs_diff": int(diff.max()),
                     "peak_gpu_mib": round(peak / 2**20, 1)})
    return rows


def part_oom(args: argparse.Namespace) -> list[dict[str, Any]]:
    device = torch.device(args.device)
    side = 96 if args.quick else 1000
    image = photo(side)
    reference = Upscaler(load_pretrained("dan", 4, download=False),
                         EngineOptions(device=args.device, precision="fp32",
                                       tile=max(side // 8, 48)))
    ref = to_u8(reference.upscale(image))
    del reference
    cap = None
    if device.type == "cuda":
        torch.cuda.empty_cache()
        total = torch.cuda.get_device_properties(device).total_memory
        cap = 1.5 * 2**30 / total  # 1.5 GiB: far below what a whole 1000² pass needs
        torch.cuda.set_per_process_memory_fraction(cap, device)
    eng = Upscaler(load_pretrained("dan", 4, download=False),
                   EngineOptions(device=args.device, precision="fp32", tile=0))
    start = time.perf_counter()
    out = to_u8(eng.upscale(image))
    seconds = time.perf_counter() - start
    diff = np.abs(out.astype(int) - ref.astype(int))
    return [{"side": side, "memory_fraction": cap, "final_tile": eng.tile,
             "backed_off": eng.tile != 0, "seconds": round(seconds, 2),
             "max_abs_diff_vs_uncapped_tiled": int(diff.max())}]


def train_rate(device: torch.device, amp: str, steps: int, batch: int, patch: int) -> float:
    from srcli.models import create_model

    entry = load_manifest().find("dan", 2)
    torch.manual_seed(0)
    model = create_model("dan", 2, **entry.config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    lr = torch.rand(batch, 3, patch, patch, device=device)
    hr = torch.rand(batch, 3, patch * 2, patch * 2, device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16"):
            loss = torch.nn.functional.l1_loss(model(lr).float(), hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return steps / (time.perf_counter() - start)


def part_train(args: argparse.Namespace) -> list[dict[str, Any]]:
    device = torch.device(args.device)
    steps, batch, patch = (2, 2, 16) if args.quick else (40, 16, 48)
    rates: dict[str, list[float]] = {"none": [], "bf16": []}
    for _ in range(2):  # interleaved rounds, best kept
        for amp in rates:
            rates[amp].append(train_rate(device, amp, steps, batch, patch))
    best = {amp: max(r) for amp, r in rates.items()}
    return [{"amp": amp, "steps_per_s": round(v, 2), "batch": batch, "patch": patch,
             "speedup_vs_fp32": round(v / best["none"], 2)} for amp, v in best.items()]


def part_ddp(args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from srcli.models import create_model

    backend = "nccl" if args.device.startswith("cuda") else "gloo"
    dist.init_process_group(backend)
    rank, local = dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if backend == "nccl" else torch.device("cpu")
    try:
        torch.manual_seed(0)
        model = create_model("dan", 2, n_feats=16, n_blocks=2, distance=1).to(device)
        ddp = DistributedDataParallel(model, device_ids=[local] if backend == "nccl" else None)
        opt = torch.optim.Adam(ddp.parameters(), lr=1e-3)
        losses = []
        for _ in range(5):
            lr = torch.rand(4, 3, 24, 24, device=device)
            loss = torch.nn.functional.l1_loss(ddp(lr), torch.rand(4, 3, 48, 48, device=device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss))
        ones = torch.ones(1, device=device)
        dist.all_reduce(ones)
        row = {"backend": backend, "world": dist.get_world_size(), "rank": rank,
               "all_reduce": float(ones), "losses_finite": all(map(math.isfinite, losses)),
               "nccl_version": ".".join(map(str, torch.cuda.nccl.version()))
               if backend == "nccl" else None}
    finally:
        dist.destroy_process_group()
    return [row] if rank == 0 else []


# ---------------------------------------------------------------------------- output


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)\n"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join("" if r.get(k) is None else str(r[k]) for k in keys) + " |"
              for r in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=PARTS)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (code check only)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check.py: no CUDA device visible to PyTorch", file=sys.stderr)
        return 3
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 figures are fp32, not TF32
    torch.backends.cudnn.allow_tf32 = False
    rows = {"quality": part_quality, "speed": part_speed, "oom": part_oom,
            "train": part_train, "ddp": part_ddp}[args.part](args)
    if int(os.environ.get("RANK", "0")) == 0:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.part}.json").write_text(json.dumps(rows, indent=2) + "\n")
        table = markdown(rows)
        (args.out / f"{args.part}.md").write_text(table)
        print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
