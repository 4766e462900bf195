"""Weights: the manifest, the hub (the only network code in srcli) and safe checkpoint reading.

Callers above this package use:

- `resolve_weights(model, scale, weights=None)` -> ResolvedWeights (path, source, entry, ...)
- `read_state_dict(path)` -> dict of tensors (safetensors, or tensor-only pickles)
- `load_manifest()` -> Manifest (`find(model, scale)`, `for_model(model)`, `entries`)
- `fetch(HubFile(...))` -> a verified file in the Hugging Face cache (srcli.data.download
  uses it for the benchmark sets)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from srcli.weights.checkpoint import read_safetensors_metadata, read_sidecar, read_state_dict
    from srcli.weights.hub import HubFile, NotCachedError, fetch, hub_cache_dir, is_offline
    from srcli.weights.manifest import (
        Manifest,
        WeightsEntry,
        bundled_entry_from_sidecar,
        check_manifest,
        load_manifest,
    )
    from srcli.weights.resolve import (
        ResolvedWeights,
        VerifyResult,
        entry_status,
        parse_hf_uri,
        resolve_weights,
        verify_entry,
    )

# Names are loaded on first use (PEP 562): the manifest and the hub cache are torch-free, so
# `srcli models list/info` reads them without paying ~1 s for torch (checkpoint.py needs it).
_WHERE = {
    "checkpoint": ("read_safetensors_metadata", "read_sidecar", "read_state_dict"),
    "hub": ("HubFile", "NotCachedError", "fetch", "hub_cache_dir", "is_offline"),
    "manifest": ("Manifest", "WeightsEntry", "bundled_entry_from_sidecar", "check_manifest",
                 "load_manifest"),
    "resolve": ("ResolvedWeights", "VerifyResult", "entry_status", "parse_hf_uri",
                "resolve_weights", "verify_entry"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'srcli.weights' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"srcli.weights.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "HubFile", "Manifest", "NotCachedError", "ResolvedWeights", "VerifyResult",
    "WeightsEntry", "bundled_entry_from_sidecar", "check_manifest", "entry_status",
    "fetch", "hub_cache_dir", "is_offline", "load_manifest", "parse_hf_uri",
    "read_safetensors_metadata", "read_sidecar", "read_state_dict", "resolve_weights",
    "verify_entry",
]
