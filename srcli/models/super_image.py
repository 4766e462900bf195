"""Load super-image hub checkpoints (`eugenesiow/*`) into srcli models, offline.

`load_super_image(config, state_dict, scale)` takes the hub `config.json` as a dict and the
tensors of `pytorch_model_{scale}x.pt`, builds the matching registered srcli model and loads
the tensors strictly: one leading DataParallel `module.` is stripped per key (msrn-bam and
edsr-base are saved through DataParallel), then the key set and every shape must equal the
model's, which mirrors `compat/schema.json` including the tensors forward never reads.

Config handling follows super-image's `from_pretrained`: the `scale` argument wins over the
file, unknown keys (`model_type`, `_name_or_path`, `supported_scales`, `rgb_std`, ...) are
ignored, and missing keys take super-image's defaults. Which settings actually matter per
family is described in `compat/semantics.md`.

The ImageLoader convention is here too: an H×W×RGB uint8 image becomes float32(k)/255 in a
1×3×H×W tensor (`image_to_tensor`), bit-exactly what super-image feeds its models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from srcli.errors import ConfigError, WeightsError
from srcli.models.layers.blocks import DIV2K_MEAN
from srcli.models.registry import build_from_config, make_config

__all__ = ["hub_config_to_srcli", "image_to_tensor", "load_super_image", "load_weights_strict",
           "strip_module_prefix", "tensor_to_uint8"]

def _bam(cfg: Mapping[str, Any]) -> bool:
    return bool(cfg.get("bam", False))


def _pick(cfg: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    """super-image defaults `fields`, overridden by whatever the config file sets."""
    return {k: cfg.get(k, default) for k, default in fields.items()}


def _msrn(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    fields = _pick(cfg, n_feats=64, n_blocks=8, rgb_range=255)
    fields["rgb_range"] = float(fields["rgb_range"])
    return ("msrn-bam" if _bam(cfg) else "msrn"), fields


def _mdsr(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("mdsr-bam" if _bam(cfg) else "mdsr"), {}


def _awsrn(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    fields = _pick(cfg, n_resblocks=4, n_feats=32, block_feats=128, n_awru=4, res_scale=1,
                   n_colors=3)
    fields["res_scale"] = float(fields["res_scale"])
    if _bam(cfg):
        return "awsrn-bam", fields
    # super-image's non-BAM AWSRN normalises with the 255-based mean even on [0, 1] input.
    mean = tuple(float(v) for v in cfg.get("rgb_mean", DIV2K_MEAN))
    return "awsrn", {**fields, "normalize": True, "rgb_range": 255.0, "rgb_mean": mean}


def _carn(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("carn-bam" if _bam(cfg) else "carn"), {}  # rgb_mean/rgb_std are ignored upstream


def _pan(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("pan-bam" if _bam(cfg) else "pan"), _pick(cfg, in_nc=3, out_nc=3, nf=40, unf=24,
                                                       nb=16)


def _a2n(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return "a2n", _pick(cfg, in_nc=3, out_nc=3, nf=40, unf=24, nb=16)


def _drln(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("drln-bam" if _bam(cfg) else "drln"), {}


def _rcan(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    fields = _pick(cfg, n_colors=3, n_feats=64, n_resblocks=20, n_resgroups=10, reduction=16,
                   rgb_range=255, rgb_mean=DIV2K_MEAN, rgb_std=(1.0, 1.0, 1.0))
    fields["rgb_range"] = float(fields["rgb_range"])
    fields["rgb_mean"] = tuple(float(v) for v in fields["rgb_mean"])
    fields["rgb_std"] = tuple(float(v) for v in fields["rgb_std"])
    return ("rcan-bam" if _bam(cfg) else "rcan"), fields  # res_scale: unused upstream


def _edsr(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    fields = _pick(cfg, n_colors=3, n_feats=64, n_resblocks=16, res_scale=1, rgb_range=255)
    fields["res_scale"] = float(fields["res_scale"])
    fields["rgb_range"] = float(fields["rgb_range"])
    return "edsr-base", fields


_FAMILIES: dict[str, Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]] = {
    "msrn": _msrn, "mdsr": _mdsr, "awsrn": _awsrn, "carn": _carn, "pan": _pan, "a2n": _a2n,
    "drln": _drln, "rcan": _rcan, "edsr": _edsr,
}


def hub_config_to_srcli(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(registered model name, config overrides) for a super-image `config.json` dict."""
    model_type = config.get("model_type")
    if not isinstance(model_type, str):
        raise WeightsError("super-image config has no 'model_type' field")
    family = _FAMILIES.get(model_type.lower())
    if family is None:
        raise WeightsError(f"unsupported super-image model_type {model_type!r}; supported: "
                           f"{', '.join(sorted(k.upper() for k in _FAMILIES))}")
    return family(config)


def strip_module_prefix(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Remove one leading `module.` (nn.DataParallel) from every key that has it."""
    return {(k[len("module."):] if k.startswith("module.") else k): v
            for k, v in state_dict.items()}


def _names(keys: set[str]) -> str:
    shown = sorted(keys)[:3]
    more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
    return ", ".join(shown) + more


def load_weights_strict(model: nn.Module, state_dict: Mapping[str, Any], what: str) -> None:
    """Copy `state_dict` into `model`; any missing/unexpected key or bad shape -> WeightsError."""
    own = model.state_dict()
    missing, unexpected = set(own) - set(state_dict), set(state_dict) - set(own)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_names(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_names(unexpected)}")
    for key in sorted(set(own) & set(state_dict)):
        value = state_dict[key]
        if not isinstance(value, Tensor) or not value.is_floating_point():
            problems.append(f"{key} is not a floating-point tensor")
        elif value.shape != own[key].shape:
            problems.append(f"{key} has shape {list(value.shape)}, expected "
                            f"{list(own[key].shape)}")
        if len(problems) >= 4:
            break
    if problems:
        raise WeightsError(f"weights do not match {what}: " + "; ".join(problems))
    with torch.no_grad():
        for key, target in own.items():
            target.copy_(state_dict[key])


def load_super_image(config: Mapping[str, Any], state_dict: Mapping[str, Any],
                     scale: int) -> nn.Module:
    """Build the srcli model matching a super-image hub config and load its tensors (eval)."""
    name, overrides = hub_config_to_srcli(config)
    try:
        model_config = make_config(name, scale, **overrides)
    except TypeError as exc:  # e.g. a config value of the wrong type
        raise ConfigError(f"bad super-image config for {name}: {exc}") from None
    model = build_from_config(name, model_config)
    load_weights_strict(model, strip_module_prefix(state_dict), f"{name} x{scale}")
    return model.eval()


def image_to_tensor(image: Any) -> Tensor:
    """An H×W×3 uint8 RGB array (or a PIL image) -> 1×3×H×W float32 in [0, 1], as float32(k)/255.

    PIL images go through `convert("RGB")` like super-image's ImageLoader (alpha dropped).
    """
    if hasattr(image, "convert"):
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 array, got {arr.dtype} {arr.shape}")
    t = torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1).to(torch.float32)
    return (t / 255.0).unsqueeze(0)


def tensor_to_uint8(t: Tensor) -> np.ndarray:
    """1×3×H×W (or 3×H×W) [0, 1] output -> H×W×3 uint8: ×255, round half to even, clamp.

    This is what super-image's `save_image` ends up writing for 8-bit formats (OpenCV's
    saturate cast), see `compat/semantics.md` §5.
    """
    if t.dim() == 4:
        t = t[0]
    y = (t.detach().to("cpu", torch.float32) * 255.0).round().clamp(0, 255)
    return y.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
