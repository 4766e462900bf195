"""Models are created by name: `create_model("dan", 3, n_feats=32)`.

Each architecture registers a config dataclass (every field overridable) and a module class
taking that config. The registry is filled by importing `srcli.models.archs`, not by scanning
folders, so what exists is visible in one import list.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from srcli.errors import ConfigError, UnknownModelError
from srcli.models.descriptor import ModelDescriptor


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    module_cls: type[nn.Module]
    config_cls: type
    defaults: dict[str, Any] = field(default_factory=dict)
    scales: tuple[int, ...] = (2, 3, 4)
    description: str = ""
    paper: str = ""


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    module_cls: type[nn.Module],
    config_cls: type,
    *,
    family: str,
    scales: tuple[int, ...] = (2, 3, 4),
    description: str = "",
    paper: str = "",
    **defaults: Any,
) -> ModelSpec:
    """Register `name`; `defaults` override the config dataclass defaults for this variant."""
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} registered twice")
    field_names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(defaults) - field_names
    if unknown:
        raise ValueError(f"{name}: unknown config fields {sorted(unknown)}")
    spec = ModelSpec(name, family, module_cls, config_cls, dict(defaults), scales, description,
                     paper)
    _REGISTRY[name] = spec
    return spec


def _ensure_loaded() -> None:
    # Importing the package registers every architecture (explicit list in archs/__init__).
    import srcli.models.archs  # noqa: F401


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    _ensure_loaded()
    return sorted(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    _ensure_loaded()
    key = name.lower().replace("_", "-")  # rcan_bam is a typo for rcan-bam, not a new name
    if key not in _REGISTRY:
        raise UnknownModelError(_unknown_model_message(name, key))
    return _REGISTRY[key]


def _unknown_model_message(name: str, key: str) -> str:
    """One line: the likely intent first, then every known name (`key`: `name` normalised)."""
    names = sorted(_REGISTRY)
    if key == "bam":
        # BAM is a layer, not a network: users who read the paper's title type it alone.
        hosts = ", ".join(n for n in names if n.endswith("-bam"))
        hint = f"; BAM is an attention layer added to a host network: {hosts}"
    else:
        close = difflib.get_close_matches(key, names, n=2, cutoff=0.75)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
    return f"unknown model {name!r}{hint}; known models: {', '.join(names)}"


def make_config(name: str, scale: int, **overrides: Any) -> Any:
    """The config dataclass for `name` at `scale` with `overrides` applied and checked."""
    spec = get_spec(name)
    if scale not in spec.scales:
        raise ConfigError(f"model {name!r} supports scales {list(spec.scales)}, not {scale}")
    field_names = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = set(overrides) - field_names
    if unknown:
        raise ConfigError(
            f"model {name!r} has no config field(s) {sorted(unknown)}; "
            f"fields: {sorted(field_names)}"
        )
    values = {**spec.defaults, **overrides, "scale": scale}
    return spec.config_cls(**values)


def create_model(name: str, scale: int, **overrides: Any) -> nn.Module:
    """Build model `name` for `scale`; any config field can be overridden by keyword.

    The returned module carries `.config` (its dataclass), `.model_name` and `.descriptor`.
    """
    spec = get_spec(name)
    config = make_config(name, scale, **overrides)
    return build_from_config(spec.name, config)


def build_from_config(name: str, config: Any) -> nn.Module:
    spec = get_spec(name)
    model = spec.module_cls(config)
    model.config = config
    model.model_name = spec.name
    hints: Callable[[], dict[str, Any]] | None = getattr(model, "descriptor_hints", None)
    model.descriptor = ModelDescriptor(
        name=spec.name, family=spec.family, scale=config.scale, **(hints() if hints else {})
    )
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
