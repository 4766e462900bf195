"""Model surgery for `--init-from` and `--init-grow`: start a model from another's weights.

A same-shaped donor is copied tensor by tensor. With `grow`, a narrower or shallower donor of
the same architecture is embedded so that the bigger model starts as the same function.
"""

from __future__ import annotations

import torch
from torch import nn


def init_from(model: nn.Module, path: str, grow: bool = False) -> dict[str, list[str]]:
    """Copy every tensor of `path` whose name and shape match; report the rest.

    `grow`: a tensor smaller than the model's (a narrower model of the same architecture) is
    embedded by `grown`, and a residual block none of whose tensors came from `path` (a
    deeper model: DAN's extra DABs are appended after the parent's) starts as the identity
    through its `zero_residual`; so the grown model starts as the same function.
    """
    from srcli.weights.checkpoint import read_state_dict  # safetensors or tensor-only pickle

    src = read_state_dict(path)  # also unwraps a training checkpoint's {"model": ...}
    own = model.state_dict()
    loaded = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
    if grow:
        for k in set(src).intersection(own).difference(loaded):
            if (t := grown(own[k], src[k])) is not None:
                loaded[k] = t
    model.load_state_dict(loaded, strict=False)
    report = {"loaded": sorted(loaded), "skipped": sorted(set(own) - set(loaded)),
              "unused": sorted(set(src) - set(loaded))}
    if grow:
        report["identity"] = _identity_blocks(model, set(loaded))
    return report


def _identity_blocks(model: nn.Module, loaded: set[str]) -> list[str]:
    """Zero the residual of every block with `zero_residual` that got no tensor from the
    parent; return their names."""
    names = []
    for name, module in model.named_modules():
        zero = getattr(module, "zero_residual", None)
        if callable(zero) and not any(f"{name}.{k}" in loaded for k in module.state_dict()):
            zero()
            names.append(name)
    return names


def grown(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor | None:
    """`old` embedded in the leading corner of `new` (None if it does not fit).

    Conv weights are (out, in, k, k): the old block is copied, the old outputs get zero
    weights from the new inputs, and the new outputs keep their fresh random weights. New
    channels so never reach an old one, and every layer mixing channels is a conv here, so
    the widened net computes what the narrow one did (pixel shuffle keeps channel c's
    sub-pixels at c*r*r..c*r*r+r*r-1, inside the old block for old c) until training uses
    the new channels.
    """
    if new.dim() != old.dim() or new.shape[2:] != old.shape[2:] or \
            any(o > n for o, n in zip(old.shape, new.shape, strict=True)):
        return None
    out = new.detach().clone()
    if out.dim() >= 2:
        out[:old.shape[0], old.shape[1]:] = 0
    out[tuple(slice(0, s) for s in old.shape)] = old
    return out
