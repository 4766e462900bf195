"""Which file holds the weights for `--model NAME --scale N`, in this order:

1. an explicit `--weights` value: a local `.safetensors` / `.pt` / `.pth` file, a super-image
   style folder (`config.json` + `pytorch_model_{N}x.pt`), or `hf://owner/repo[@rev]/file`;
2. the file bundled in the package, if the manifest lists one;
3. the Hugging Face cache (no network, even for a `main` revision);
4. a download with `hf_hub_download` at the manifest's revision (unless HF_HUB_OFFLINE).

Every file that has a known hash is verified on the way (see `hub.verify_file`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srcli.errors import WeightsError
from srcli.weights import hub
from srcli.weights.hub import HubFile, NotCachedError, ProgressFn
from srcli.weights.manifest import Manifest, WeightsEntry, load_manifest

__all__ = ["ResolvedWeights", "VerifyResult", "entry_files", "entry_status", "missing_entry",
           "parse_hf_uri", "resolve_weights", "verify_entry"]


@dataclass(frozen=True)
class ResolvedWeights:
    model: str
    scale: int
    path: Path
    #: explicit | hf | bundled | cache | download
    source: str
    entry: WeightsEntry | None = None
    #: super-image config.json that goes with the file, when there is one
    config_path: Path | None = None
    sha256: str | None = None


def parse_hf_uri(uri: str) -> HubFile:
    """`hf://owner/repo/path/in/repo` or `hf://owner/repo@revision/path` -> HubFile."""
    rest = uri[len("hf://"):]
    parts = rest.split("/")
    if len(parts) < 3 or not all(parts):
        raise WeightsError(f"bad hub address {uri!r}; expected hf://owner/repo/file "
                           "(optionally hf://owner/repo@revision/file)")
    repo_name, _, revision = parts[1].partition("@")
    return HubFile(f"{parts[0]}/{repo_name}", "/".join(parts[2:]), revision or "main")


def entry_files(entry: WeightsEntry) -> tuple[HubFile, HubFile | None]:
    """(weights file, config file or None) of a hub entry."""
    assert entry.hub is not None
    h = entry.hub
    weights = HubFile(h.repo_id, h.filename, h.revision, h.repo_type)
    config = HubFile(h.repo_id, h.config_file, h.revision, h.repo_type) if h.config_file else None
    return weights, config


def _download_hint(entry: WeightsEntry) -> str:
    return f"srcli models download {entry.model} --scale {entry.scale}"


def _explicit(model: str, scale: int, weights: str | Path,
              progress: ProgressFn | None) -> ResolvedWeights:
    text = str(weights)
    if text.startswith("hf://"):
        f = parse_hf_uri(text)
        try:
            path = hub.fetch(f, progress=progress)
        except NotCachedError:
            raise WeightsError(f"{f} is not cached and HF_HUB_OFFLINE is set; download it on a "
                               "connected machine or pass a local --weights FILE") from None
        return ResolvedWeights(model, scale, path, "hf")
    path = Path(text).expanduser()
    if path.is_dir():
        candidate = path / f"pytorch_model_{scale}x.pt"
        if not candidate.is_file():
            raise WeightsError(f"{path} holds no pytorch_model_{scale}x.pt")
        config = path / "config.json"
        return ResolvedWeights(model, scale, candidate, "explicit",
                               config_path=config if config.is_file() else None)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    return ResolvedWeights(model, scale, path, "explicit")


def missing_entry(model: str, scale: int, degradation: str = "bi",
                  manifest: Manifest | None = None) -> WeightsError | None:
    """Why a model the manifest has weights for lacks them at this scale and degradation
    (dan DN x2), else None; models with no entries at all (bicubic, spandrel) are None.
    Torch-free, so the CLI can say so before it looks at outputs or loads anything."""
    manifest = manifest or load_manifest()
    key = model.lower()
    if manifest.find(key, scale, degradation) is not None or not manifest.for_model(key):
        return None
    return _no_entry(manifest, key, scale, degradation.lower())


def _no_entry(manifest: Manifest, model: str, scale: int, degradation: str) -> WeightsError:
    kind = "" if degradation == "bi" else f"{degradation.upper()} "
    same = manifest.for_model(model, degradation)
    if same:
        have = ", ".join(f"x{e.scale}" for e in same)
        return WeightsError(f"{model} has pretrained {kind}weights for {have} only, not "
                            f"x{scale}; pass --weights FILE for other scales")
    others = manifest.for_model(model)
    if others:
        have = ", ".join(sorted({e.label for e in others}))
        return WeightsError(f"{model} has no {kind or 'BI '}weights (it has {have}); choose "
                            "another --degradation or pass --weights FILE")
    if model == manifest.default_model:
        return WeightsError(f"the default model's weights ({model} x{scale}) are not bundled in "
                            "this version yet; `--model bicubic` works without weights "
                            "(or pass --weights FILE)")
    return WeightsError(f"no pretrained weights for {model!r} in the manifest; pass --weights "
                        "FILE, or see `srcli models list` for models with weights")


def _from_hub(entry: WeightsEntry, *, download: bool,
              progress: ProgressFn | None) -> ResolvedWeights:
    weights_file, config_file = entry_files(entry)
    cached = hub.cached_file(weights_file)
    config_cached = hub.cached_file(config_file) if config_file else None
    complete = cached is not None and (config_file is None or config_cached is not None)
    try:
        config_path = (hub.fetch(config_file, progress=None, download=download)
                       if config_file else None)
        path = hub.fetch(weights_file, sha256=entry.sha256, progress=progress,
                         download=download)
    except NotCachedError:
        missing = weights_file if cached is None else config_file
        why = "HF_HUB_OFFLINE is set" if hub.is_offline() else "downloads are off"
        raise WeightsError(f"{entry.model} x{entry.scale}: {missing} is not in the Hugging Face "
                           f"cache ({hub.hub_cache_dir()}) and {why}; run "
                           f"`{_download_hint(entry)}` on a connected machine and copy its HF "
                           "cache here") from None
    return ResolvedWeights(entry.model, entry.scale, path, "cache" if complete else "download",
                           entry, config_path, entry.sha256)


def resolve_weights(model: str, scale: int, weights: str | Path | None = None, *,
                    degradation: str = "bi", manifest: Manifest | None = None,
                    download: bool = True, progress: ProgressFn | None = None) -> ResolvedWeights:
    """Find (and if needed download) the weights file for `model` at `scale`, trained for
    inputs made by `degradation` (bi: bicubic; bd: blur + downscale; dn: bicubic + noise)."""
    manifest = manifest or load_manifest()
    key = model.lower()
    entry = manifest.find(key, scale, degradation)
    if weights is not None:
        resolved = _explicit(key, scale, weights, progress)
        return ResolvedWeights(resolved.model, scale, resolved.path, resolved.source, entry,
                               resolved.config_path)
    if entry is None:
        raise _no_entry(manifest, key, scale, degradation.lower())
    bundled = entry.bundled_path
    if bundled is not None and bundled.is_file():
        digest = hub.sha256_file(bundled)
        if entry.sha256 and digest != entry.sha256:
            raise WeightsError(f"bundled {entry.bundled} does not match its manifest sha256; "
                               "the installation is damaged, reinstall srcli")
        return ResolvedWeights(key, scale, bundled, "bundled", entry, None, digest)
    if entry.hub is None:
        raise WeightsError(f"bundled weights {entry.bundled} are missing from this installation; "
                           "reinstall srcli")
    return _from_hub(entry, download=download, progress=progress)


def entry_status(entry: WeightsEntry) -> Path | None:
    """Where the entry's file is on this machine right now (bundled or cached), else None."""
    bundled = entry.bundled_path
    if bundled is not None and bundled.is_file():
        return bundled
    if entry.hub is None:
        return None
    weights_file, _ = entry_files(entry)
    return hub.cached_file(weights_file)


@dataclass(frozen=True)
class VerifyResult:
    entry: WeightsEntry
    path: Path | None
    #: ok | mismatch | deleted | unverified (no reference hash) | not cached | missing
    status: str
    sha256: str | None = None


def verify_entry(entry: WeightsEntry) -> VerifyResult:
    """Re-hash the entry's bundled or cached file. A cached file that fails is deleted."""
    path = entry_status(entry)
    if path is None:
        return VerifyResult(entry, None, "missing" if entry.hub is None else "not cached")
    if entry.bundled_path == path:
        digest = hub.sha256_file(path)
        return VerifyResult(entry, path, "ok" if digest == entry.sha256 else "mismatch", digest)
    expected = hub.expected_hash(path, entry.sha256)
    try:
        digest = hub.verify_file(path, entry.sha256, str(entry_files(entry)[0]))
    except WeightsError:
        return VerifyResult(entry, path, "deleted")
    return VerifyResult(entry, path, "ok" if expected else "unverified", digest)
