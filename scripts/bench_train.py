"""Training throughput: the full pipeline (patches + step) against a bare loop on random tensors.

    python scripts/bench_train.py --threads 1 --iters 40

Prints iterations/s and patches/s of both and the data pipeline's overhead (target <= 20 %).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from srcli.data.patches import Prefetcher, build_patch_set
from srcli.models import count_parameters, create_model

SMALL_DAN = {"n_feats": 32, "n_blocks": 8, "distance": 3, "reduction": 8,
             "image_skip": "bicubic"}


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, lr: torch.Tensor,
          hr: torch.Tensor) -> None:
    loss = F.l1_loss(model(lr), hr)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="../shared/datasets/train")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model("dan", args.scale, **SMALL_DAN)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    hp = args.patch * args.scale
    lr = torch.rand(args.batch, 3, args.patch, args.patch)
    hr = torch.rand(args.batch, 3, hp, hp)
    t = time.perf_counter()
    ps = build_patch_set([args.data], args.scale, "bi", args.patch)
    load_s = time.perf_counter() - t
    feeder = Prefetcher(ps, args.batch, args.patch, seed=0, rank=0, start=0,
                        stop=args.iters + 3)
    batches = iter(feeder)
    for _ in range(3):  # warm-up: allocator and kernels
        _, lb, hb = next(batches)
        _step(model, opt, lb, hb)
    # Alternate bare and full steps so that load from other processes hits both equally.
    bare_s = full_s = 0.0
    for _ in range(args.iters):
        t = time.perf_counter()
        _step(model, opt, lr, hr)
        t1 = time.perf_counter()
        _, lb, hb = next(batches)
        _step(model, opt, lb, hb)
        bare_s, full_s = bare_s + t1 - t, full_s + time.perf_counter() - t1
    feeder.close()
    bare, full = args.iters / bare_s, args.iters / full_s

    print(f"small DAN: {count_parameters(model):,} params, x{args.scale}, batch {args.batch}, "
          f"LR patch {args.patch}, {args.threads} thread(s), {args.iters} iterations")
    print(f"decode + degrade {len(ps.hr)} training images once: {load_s:.1f} s")
    print(f"bare loop (random tensors): {bare:.3f} it/s  {bare * args.batch:.1f} patches/s")
    print(f"full pipeline:              {full:.3f} it/s  {full * args.batch:.1f} patches/s")
    print(f"data pipeline overhead: {100 * (bare / full - 1):.1f} % (target <= 20 %)")


if __name__ == "__main__":
    main()
