"""`load_pretrained(name, scale)`: a registered model with its weights, ready for inference.

The weights file comes from `srcli.weights.resolve_weights` (explicit file, bundled, HF cache,
download). How the model is built depends on the file's kind:

- **srcli weights** (bundled DAN, `srcli train export` output): `create_model(architecture,
  scale, **config)` with the config from the JSON sidecar next to an explicit file, else from
  the manifest entry, else the registry defaults; then a strict load.
- **super-image hub weights** (`eugenesiow/*`): `load_super_image(config.json, tensors,
  scale)`, with the config.json fetched beside the weights (or found beside an explicit file),
  else the hub config recorded in the manifest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from srcli.errors import WeightsError
from srcli.models.registry import build_from_config, get_spec, make_config
from srcli.vocabulary import split_ensemble
from srcli.weights import (
    ResolvedWeights,
    load_manifest,
    read_safetensors_metadata,
    read_sidecar,
    read_state_dict,
    resolve_weights,
)
from srcli.weights.hub import ProgressFn
from srcli.weights.manifest import Manifest

__all__ = ["load_model", "load_pretrained"]


def _super_image_config(rw: ResolvedWeights, manifest: Manifest) -> dict[str, Any] | None:
    """The super-image config.json for these weights, or None for srcli-format weights."""
    if rw.config_path is not None:
        try:
            data = json.loads(rw.config_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise WeightsError(f"unreadable super-image config {rw.config_path}: {exc}") from None
        if not isinstance(data, dict):
            raise WeightsError(f"{rw.config_path} is not a JSON object")
        return data
    if rw.source in ("explicit", "hf") and read_sidecar(rw.path) is not None:
        return None  # `srcli train export` output describes itself
    entries = [rw.entry] if rw.entry is not None else manifest.for_model(rw.model)
    for entry in entries:
        if entry is not None and entry.format == "super-image":
            return dict(entry.config)
    return None


def _srcli_config(rw: ResolvedWeights) -> tuple[str, dict[str, Any]]:
    """(architecture, config overrides) for srcli-format weights."""
    if rw.source in ("explicit", "hf"):
        sidecar = read_sidecar(rw.path)
        if sidecar is not None and "architecture" in sidecar:
            return str(sidecar["architecture"]), dict(sidecar.get("config") or {})
    if rw.entry is not None and rw.entry.format == "srcli":
        return rw.entry.architecture, dict(rw.entry.config)
    return rw.model, {}


def _check_file_scale(rw: ResolvedWeights) -> None:
    if rw.path.suffix.lower() != ".safetensors":
        return
    stored = read_safetensors_metadata(rw.path).get("scale")
    if stored is not None and stored.strip() != str(rw.scale):
        raise WeightsError(f"{rw.path.name} holds x{stored} weights, not x{rw.scale}")


def _build_srcli(rw: ResolvedWeights, state: dict[str, Any]) -> nn.Module:
    from srcli.models.super_image import load_weights_strict, strip_module_prefix

    arch, config = _srcli_config(rw)
    requested, stored = get_spec(rw.model).name, get_spec(arch).name
    if requested != stored:
        raise WeightsError(f"{rw.path.name} holds {stored} weights, not {requested}")
    _check_file_scale(rw)
    try:
        model_config = make_config(stored, rw.scale, **config)
    except TypeError as exc:
        raise WeightsError(f"bad config for {stored} in {rw.path.name}: {exc}") from None
    model = build_from_config(stored, model_config)
    try:
        load_weights_strict(model, strip_module_prefix(state), f"{stored} x{rw.scale}")
    except WeightsError as exc:
        if rw.source not in ("explicit", "hf"):
            raise
        from srcli.models.spandrel_adapter import INSTALL_HINT

        # a user's file of another architecture (ESRGAN, SwinIR, ...) is the likely cause
        raise WeightsError(f"{exc}; for an architecture srcli does not have, use --model "
                           f"spandrel ({INSTALL_HINT})") from None
    return model.eval()


def load_pretrained(name: str, scale: int, *, weights: str | Path | None = None,
                    degradation: str = "bi", manifest: Manifest | None = None,
                    download: bool = True, progress: ProgressFn | None = None) -> nn.Module:
    """Model `name` at `scale` with pretrained weights loaded, in eval mode.

    `weights` overrides the manifest (a file, a super-image folder or `hf://owner/repo/file`);
    otherwise the manifest's entry for `degradation` (bi, bd, dn) is used.
    `download=False` never touches the network (a cache miss raises WeightsError).
    `progress(done_bytes, total_bytes)` is called while a file downloads.
    The returned module carries `.weights_source` (a ResolvedWeights).
    """
    spec = get_spec(name)  # unknown names fail here, before any file work
    manifest = manifest or load_manifest()
    rw = resolve_weights(spec.name, scale, weights, degradation=degradation, manifest=manifest,
                         download=download, progress=progress)
    state = read_state_dict(rw.path)
    config = _super_image_config(rw, manifest)
    if config is not None:
        from srcli.models.super_image import hub_config_to_srcli, load_super_image

        described = hub_config_to_srcli(config)[0]
        if get_spec(described).name != spec.name:
            raise WeightsError(f"the super-image config for {rw.path.name} describes "
                               f"{described}, not {spec.name}")
        model = load_super_image(config, state, scale)
    else:
        model = _build_srcli(rw, state)
    model.weights_source = rw
    return model


def load_model(name: str, scale: int, weights: str | Path | None = None, *,
               degradation: str = "bi") -> nn.Module:
    """A ready model for inference: parameter-free ones (bicubic) are built, others get their
    pretrained weights (or `weights`). `NAME+` (the papers' self-ensemble notation, e.g.
    dan+) loads NAME; running the ensemble is the caller's choice. `spandrel` loads whatever
    architecture spandrel (optional extra) finds in `weights`."""
    import torch

    from srcli.errors import ConfigError
    from srcli.models.registry import count_parameters, create_model
    from srcli.models.spandrel_adapter import SPANDREL, load_spandrel

    base, _ = split_ensemble(name)  # running the ensemble is the caller's business
    if base.lower() == SPANDREL:  # the architecture comes from the file
        if weights is None:
            raise ConfigError(f"model {SPANDREL!r} runs the network in a --weights FILE "
                              "(any architecture spandrel knows); pass one")
        return load_spandrel(weights, scale)
    base = get_spec(base).name
    with torch.device("meta"):  # shape-only build: is there anything to load?
        parameter_free = count_parameters(create_model(base, scale)) == 0
    if parameter_free:
        if weights is not None:
            raise ConfigError(f"model {base!r} has no weights to load")
        return create_model(base, scale)
    return load_pretrained(base, scale, weights=weights, degradation=degradation)
