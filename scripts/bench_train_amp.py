"""Training step time, fp32 against bf16 autocast, interleaved in one process.

    python scripts/bench_train_amp.py --threads 1 --scale 4 --rounds 8

Builds the shipped recipe's model (DAN, 48 channels, 12 DABs, channels_last), feeds it random
patches of the recipe's size, and alternates one fp32 step with one bf16 step (so load from
other processes hits both alike). Each arm has its own model and Adam state, so both measure a
real optimisation step. Prints the median and best ms per step and the bf16 speed-up; with
`--compile` a third arm runs the bf16 step under torch.compile. The arm "fp32 before" runs the
upsampler through plain `nn.Sequential` (F.pixel_shuffle on channels_last), which is what every
fp32 run did before the NHWC shuffle in `srcli.models.layers.blocks.Upsampler` landed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from srcli.models import create_model
from srcli.train.losses import LOSS_FUNCTIONS

RECIPE = {"n_feats": 48, "n_blocks": 12, "distance": 3, "reduction": 8,
          "image_skip": "bicubic"}


def make_arm(scale: int, amp: bool, compile_: bool, loss: str,
             old_shuffle: bool = False) -> Callable[..., None]:
    torch.manual_seed(0)
    model = create_model("dan", scale, **RECIPE).to(memory_format=torch.channels_last)
    if old_shuffle:
        up = model.upsample
        up.forward = nn.Sequential.forward.__get__(up)  # type: ignore[method-assign]
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    fwd = torch.compile(model) if compile_ else model

    def step(lr: torch.Tensor, hr: torch.Tensor) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            sr = fwd(lr)
        out = LOSS_FUNCTIONS[loss](sr.float(), hr)
        opt.zero_grad(set_to_none=True)
        out.backward()
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--patch", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--loss", default="l1y")
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    arms = {"fp32 before": make_arm(args.scale, False, False, args.loss, old_shuffle=True),
            "fp32": make_arm(args.scale, False, False, args.loss),
            "bf16": make_arm(args.scale, True, False, args.loss)}
    if args.compile:
        arms["bf16+compile"] = make_arm(args.scale, True, True, args.loss)
    hp = args.patch * args.scale
    lr = torch.rand(args.batch, 3, args.patch, args.patch).contiguous(
        memory_format=torch.channels_last)
    hr = torch.rand(args.batch, 3, hp, hp)
    times: dict[str, list[float]] = {k: [] for k in arms}
    for r in range(args.rounds + 2):  # two warm-up rounds: allocator, kernels, compile
        for name, step in arms.items():
            t = time.perf_counter()
            step(lr, hr)
            if r >= 2:
                times[name].append(time.perf_counter() - t)
    base, best = statistics.median(times["fp32 before"]), min(times["fp32 before"])
    print(f"DAN x{args.scale} {RECIPE['n_blocks']} DABs/{RECIPE['n_feats']} ch, batch "
          f"{args.batch}, LR patch {args.patch}, loss {args.loss}, channels_last, "
          f"{args.threads} thread(s), {args.rounds} interleaved rounds")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:>13}: median {1e3 * med:7.1f} ms/step  best {1e3 * min(ts):7.1f}  "
              f"speed-up vs fp32 before {base / med:.2f}x (best-to-best "
              f"{best / min(ts):.2f}x)")


if __name__ == "__main__":
    main()
