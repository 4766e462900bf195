"""Weights: the manifest, the hub (the only network code in srcli) and safe checkpoint reading.

Callers above this package use:

- `resolve_weights(model, scale, weights=None)` -> ResolvedWeights (path, source, entry, ...)
- `read_state_dict(path)` -> dict of tensors (safetensors, or tensor-only pickles)
- `load_manifest()` -> Manifest (`find(model, scale)`, `for_model(model)`, `entries`)
- `download_dataset(name, dest)` -> folder of a benchmark set's HR images
"""

from srcli.weights.checkpoint import read_safetensors_metadata, read_sidecar, read_state_dict
from srcli.weights.hub import (
    DATASETS,
    HubFile,
    NotCachedError,
    download_dataset,
    fetch,
    hub_cache_dir,
    is_offline,
    safe_extract,
)
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

__all__ = [
    "DATASETS", "HubFile", "Manifest", "NotCachedError", "ResolvedWeights", "VerifyResult",
    "WeightsEntry", "bundled_entry_from_sidecar", "check_manifest", "download_dataset",
    "entry_status",
    "fetch", "hub_cache_dir", "is_offline", "load_manifest", "parse_hf_uri",
    "read_safetensors_metadata", "read_sidecar", "read_state_dict", "resolve_weights",
    "safe_extract", "verify_entry",
]
