"""Print parameters and GFLOPs of every registered model (default configs) as a Markdown table.

The setting is BAM paper Table 2's: one RGB LR input of 240×360 pixels. FLOPs are counted with
forward hooks on every Conv2d (weight-normed ones included) and Linear layer, one
multiply-add = one FLOP (the convention of SR papers' "Multi-Adds"); activations, additions,
pooling and interpolation are not counted. The forward runs on PyTorch's meta device, so even
DRLN (34 M parameters) costs no memory and no compute.

    python scripts/model_table.py [--height 240 --width 360] [--scales 2 3 4]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from srcli.models import count_parameters, create_model, get_spec, list_models


@contextmanager
def count_macs(model: nn.Module) -> Iterator[list[int]]:
    """Yield a one-element list that accumulates conv/linear multiply-adds during forwards."""
    total = [0]

    def conv_hook(m: nn.Conv2d, _inp: tuple[Tensor, ...], out: Tensor) -> None:
        k = m.kernel_size[0] * m.kernel_size[1]
        total[0] += out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m: nn.Linear, _inp: tuple[Tensor, ...], out: Tensor) -> None:
        total[0] += out.numel() * m.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    try:
        yield total
    finally:
        for h in handles:
            h.remove()


def measure(name: str, scale: int, height: int, width: int) -> tuple[int, float | None]:
    """(parameters, GFLOPs or None when the model cannot run on the meta device)."""
    with torch.device("meta"):
        model = create_model(name, scale).eval()
        params = count_parameters(model)
        x = torch.empty(1, 3, height, width)
        try:
            with count_macs(model) as macs, torch.no_grad():
                model(x)
        except (NotImplementedError, RuntimeError):
            return params, None
    return params, macs[0] / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=360)
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    args = parser.parse_args()

    scales = args.scales
    head = (["model", "family"] + [f"params x{s}" for s in scales]
            + [f"GFLOPs x{s}" for s in scales])
    print(f"Default configs, one {args.height}x{args.width} RGB LR input; "
          "GFLOPs = conv/linear multiply-adds / 1e9.\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] * 2 + ["---:"] * (2 * len(scales))) + "|")
    for name in list_models():
        spec = get_spec(name)
        params, flops = [], []
        for s in scales:
            if s not in spec.scales:
                params.append("—")
                flops.append("—")
                continue
            p, g = measure(name, s, args.height, args.width)
            params.append(f"{p / 1e3:,.1f}K")
            flops.append("n/a" if g is None else f"{g:,.3f}")
        print("| " + " | ".join([name, spec.family, *params, *flops]) + " |")


if __name__ == "__main__":
    main()
