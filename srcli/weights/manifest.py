"""The weights manifest: every downloadable or bundled weight file srcli knows, one entry each.

The source of truth is `srcli/weights/manifest.json` inside the package (so an installed srcli
reads it); `weights_manifest.json` at the repository root is a byte-identical copy for people
browsing the repository, kept equal by `write_manifest` and checked by a test.

An entry is one file for one (model, scale): the srcli architecture that loads it and the
config to build it with, where it comes from (a file bundled in the package and/or a hub repo
+ filename + revision), its sha256 and size where known (never guessed: hub files whose hash
is not recorded are checked against the hub's own LFS sha256 when downloaded), license, paper,
and quality figures with their provenance.

Set `SRCLI_WEIGHTS_MANIFEST` to read another manifest file (tests, private model zoos).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from srcli.errors import WeightsError
from srcli.vocabulary import DEGRADATIONS

__all__ = ["BUNDLED_DIR", "PACKAGE_MANIFEST", "HubSource", "Manifest", "Quality",
           "WeightsEntry", "add_entries", "bundled_entry_from_sidecar", "check_manifest",
           "load_manifest", "manifest_path", "parse_manifest", "sha256_file", "write_manifest"]

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE_MANIFEST = PACKAGE_DIR / "manifest.json"
BUNDLED_DIR = PACKAGE_DIR / "bundled"
#: The browsable copy at the repository root (absent in an installed package).
REPO_MANIFEST = PACKAGE_DIR.parents[1] / "weights_manifest.json"
SCHEMA_VERSION = 1
FORMATS = ("srcli", "super-image")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Largest Y-PSNR loss (dB, any benchmark set) at which `--precision auto` may run a weight
#: file in bf16 on a CPU with bf16 units; above it auto keeps fp32 for that file.
BF16_MAX_LOSS_DB = 0.02


@dataclass(frozen=True)
class HubSource:
    repo_id: str
    filename: str
    revision: str = "main"
    #: super-image repos keep the architecture settings in a config.json beside the weights.
    config_file: str | None = None
    repo_type: str = "model"


@dataclass(frozen=True)
class Quality:
    dataset: str
    scale: int
    psnr: float
    ssim: float | None = None
    degradation: str = "bi"
    #: Where the figure comes from: "measured by srcli bench on <date>", "published by ...".
    source: str = ""


@dataclass(frozen=True)
class WeightsEntry:
    model: str
    scale: int
    architecture: str
    family: str
    format: str
    degradation: str = "bi"
    config: dict[str, Any] = field(default_factory=dict)
    hub: HubSource | None = None
    bundled: str | None = None
    sha256: str | None = None
    size: int | None = None
    params: int | None = None
    license: str | None = None
    paper: str = ""
    quality: tuple[Quality, ...] = ()
    notes: str = ""
    training: dict[str, Any] | None = None
    #: The same measurements as `quality` (single model, no ensemble) run in bf16.
    quality_bf16: tuple[Quality, ...] = ()
    #: Folder that `bundled` is relative to: the manifest's own folder (not stored in JSON).
    base_dir: Path = PACKAGE_DIR

    @property
    def bundled_path(self) -> Path | None:
        return self.base_dir / self.bundled if self.bundled else None

    @property
    def label(self) -> str:
        """`x3` for BI weights, `x3-BD` / `x3-DN` for the others (for lists)."""
        deg = "" if self.degradation == "bi" else f"-{self.degradation.upper()}"
        return f"x{self.scale}{deg}"

    @property
    def tag(self) -> str:
        """`dan x3` for BI weights, `dan x3 BD` for the others (for messages)."""
        deg = "" if self.degradation == "bi" else f" {self.degradation.upper()}"
        return f"{self.model} x{self.scale}{deg}"

    @property
    def filename(self) -> str:
        if self.bundled:
            return Path(self.bundled).name
        return self.hub.filename if self.hub else ""

    def to_json(self) -> dict[str, Any]:
        return _entry_to_json(self)

    def bf16_loss_db(self) -> float | None:
        """Largest fp32 - bf16 PSNR difference over the sets measured both ways, or None."""
        fp32 = {(q.dataset, q.scale, q.degradation): q.psnr for q in self.quality
                if "self-ensemble" not in q.source}
        losses = [fp32[k] - q.psnr for q in self.quality_bf16
                  if (k := (q.dataset, q.scale, q.degradation)) in fp32]
        return max(losses) if losses else None

    def bf16_verdict(self) -> tuple[bool, str] | None:
        """(auto may use bf16, why) from the measured loss; None when never measured."""
        loss = self.bf16_loss_db()
        if loss is None:
            return None
        if loss > BF16_MAX_LOSS_DB:
            return False, (f"bf16 loses {loss:.3f} dB on {self.tag} (> {BF16_MAX_LOSS_DB} dB, "
                           "manifest), fp32 kept")
        return True, f"bf16 loses at most {max(loss, 0.0):.3f} dB on {self.tag}"


@dataclass(frozen=True)
class Manifest:
    default_model: str
    entries: tuple[WeightsEntry, ...]
    path: Path | None = None
    schema: int = SCHEMA_VERSION

    def find(self, model: str, scale: int, degradation: str = "bi") -> WeightsEntry | None:
        """The entry for `model` at `scale` trained on `degradation` (bi, bd or dn)."""
        key, deg = model.lower(), degradation.lower()
        return next((e for e in self.entries
                     if e.model == key and e.scale == scale and e.degradation == deg), None)

    def for_model(self, model: str, degradation: str | None = None) -> list[WeightsEntry]:
        """Entries of `model` (of one degradation when given), BI first, then by scale."""
        key = model.lower()
        found = (e for e in self.entries if e.model == key
                 and (degradation is None or e.degradation == degradation.lower()))
        return sorted(found, key=lambda e: (e.degradation != "bi", e.degradation, e.scale))

    def models(self) -> list[str]:
        """Model names in manifest order, each once."""
        return list(dict.fromkeys(e.model for e in self.entries))


# ------------------------------------------------------------------------ parsing


def _require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise WeightsError(f"manifest {where}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise WeightsError(f"manifest {where}: field {key!r} has the wrong type")
    return value


def _parse_quality(raw: dict[str, Any], where: str) -> Quality:
    return Quality(dataset=_require(raw, "dataset", str, where),
                   scale=_require(raw, "scale", int, where),
                   psnr=float(_require(raw, "psnr", (int, float), where)),
                   ssim=None if raw.get("ssim") is None else float(raw["ssim"]),
                   degradation=raw.get("degradation", "bi"), source=raw.get("source", ""))


def _parse_entry(raw: Any, index: int, base_dir: Path) -> WeightsEntry:
    if not isinstance(raw, dict):
        raise WeightsError(f"manifest entry {index} is not an object")
    where = f"entry {index} ({raw.get('model', '?')} x{raw.get('scale', '?')})"
    hub_raw = raw.get("hub")
    hub = None
    if hub_raw is not None:
        if not isinstance(hub_raw, dict):
            raise WeightsError(f"manifest {where}: 'hub' must be an object")
        hub = HubSource(repo_id=_require(hub_raw, "repo_id", str, where),
                        filename=_require(hub_raw, "filename", str, where),
                        revision=hub_raw.get("revision") or "main",
                        config_file=hub_raw.get("config_file"),
                        repo_type=hub_raw.get("repo_type", "model"))
    return WeightsEntry(
        model=_require(raw, "model", str, where).lower(),
        scale=_require(raw, "scale", int, where),
        architecture=_require(raw, "architecture", str, where).lower(),
        family=_require(raw, "family", str, where),
        format=_require(raw, "format", str, where),
        degradation=raw.get("degradation", "bi"),
        config=dict(raw.get("config") or {}),
        hub=hub, bundled=raw.get("bundled"),
        sha256=raw.get("sha256"), size=raw.get("size"), params=raw.get("params"),
        license=raw.get("license"), paper=raw.get("paper", ""),
        quality=tuple(_parse_quality(q, where) for q in raw.get("quality") or ()),
        notes=raw.get("notes", ""), training=raw.get("training"),
        quality_bf16=tuple(_parse_quality(q, where) for q in raw.get("quality_bf16") or ()),
        base_dir=base_dir,
    )


def parse_manifest(data: Any, path: Path | None = None) -> Manifest:
    """A Manifest from decoded JSON; structural problems raise WeightsError."""
    if not isinstance(data, dict) or not isinstance(data.get("weights"), list):
        raise WeightsError("manifest: expected an object with a 'weights' list")
    if data.get("schema") != SCHEMA_VERSION:
        raise WeightsError(f"manifest: schema {data.get('schema')!r} is not supported "
                           f"(this srcli reads schema {SCHEMA_VERSION})")
    base_dir = path.resolve().parent if path is not None else PACKAGE_DIR
    entries = tuple(_parse_entry(raw, i, base_dir) for i, raw in enumerate(data["weights"]))
    return Manifest(default_model=str(data.get("default_model", "dan")), entries=entries,
                    path=path)


def manifest_path() -> Path:
    override = os.environ.get("SRCLI_WEIGHTS_MANIFEST")
    return Path(override).expanduser() if override else PACKAGE_MANIFEST


@lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int) -> Manifest:
    del mtime_ns  # part of the cache key only: an edited file is re-read
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WeightsError(f"cannot read the weights manifest {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise WeightsError(f"weights manifest {path} is not valid JSON: {exc}") from None
    return parse_manifest(data, path)


def load_manifest(path: str | Path | None = None) -> Manifest:
    """The manifest at `path`, `$SRCLI_WEIGHTS_MANIFEST` or the packaged one."""
    p = Path(path) if path is not None else manifest_path()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise WeightsError(f"cannot read the weights manifest {p}: {exc}") from None
    return _load_cached(p, mtime)


# ------------------------------------------------------------------------ checking


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _entry_problems(e: WeightsEntry, known: Collection[str] | None) -> list[str]:
    tag = e.tag
    problems = []
    if known is not None and e.architecture not in known:
        problems.append(f"{tag}: unknown architecture {e.architecture!r}")
    if e.format not in FORMATS:
        problems.append(f"{tag}: format {e.format!r} not in {FORMATS}")
    if e.degradation not in DEGRADATIONS:
        problems.append(f"{tag}: degradation {e.degradation!r} not in {DEGRADATIONS}")
    if e.hub is None and e.bundled is None:
        problems.append(f"{tag}: neither a bundled file nor a hub source")
    if e.sha256 is not None and not _SHA256.fullmatch(e.sha256):
        problems.append(f"{tag}: sha256 is not 64 lowercase hex digits")
    if e.bundled is not None:
        problems.extend(_bundled_problems(e, tag))
    return problems


def _bundled_problems(e: WeightsEntry, tag: str) -> list[str]:
    path = e.bundled_path
    assert path is not None
    if e.sha256 is None or e.size is None:
        return [f"{tag}: a bundled file needs its sha256 and size in the manifest"]
    if not path.is_file():
        return [f"{tag}: bundled file {e.bundled} is missing"]
    problems = []
    if path.stat().st_size != e.size:
        problems.append(f"{tag}: {e.bundled} has {path.stat().st_size} bytes, manifest {e.size}")
    if sha256_file(path) != e.sha256:
        problems.append(f"{tag}: {e.bundled} does not match its sha256")
    return problems


def check_manifest(manifest: Manifest, known_architectures: Collection[str] | None = None
                   ) -> list[str]:
    """Every problem found (empty list = valid): unique (model, scale, degradation), known
    formats and degradations, every bundled file present with its size and sha256, and, when
    the caller passes `known_architectures` (srcli.models.list_models(): models sit above
    weights, so weights cannot ask), every entry's architecture among them."""
    problems = []
    seen: set[tuple[str, int, str]] = set()
    for e in manifest.entries:
        if (e.model, e.scale, e.degradation) in seen:
            problems.append(f"{e.tag}: listed twice")
        seen.add((e.model, e.scale, e.degradation))
        problems.extend(_entry_problems(e, known_architectures))
    return problems


# ------------------------------------------------------------------------ writing


def _entry_to_json(e: WeightsEntry) -> dict[str, Any]:
    hub = None
    if e.hub is not None:
        hub = {"repo_id": e.hub.repo_id, "filename": e.hub.filename,
               "revision": e.hub.revision}
        if e.hub.config_file:
            hub["config_file"] = e.hub.config_file
        if e.hub.repo_type != "model":
            hub["repo_type"] = e.hub.repo_type
    out: dict[str, Any] = {
        "model": e.model, "scale": e.scale, "architecture": e.architecture,
        "family": e.family, "format": e.format, "degradation": e.degradation,
        "config": e.config, "hub": hub, "bundled": e.bundled, "sha256": e.sha256,
        "size": e.size, "params": e.params, "license": e.license, "paper": e.paper,
        "quality": [q.__dict__.copy() for q in e.quality], "notes": e.notes,
    }
    if e.training is not None:
        out["training"] = e.training
    if e.quality_bf16:
        out["quality_bf16"] = [q.__dict__.copy() for q in e.quality_bf16]
    return out


def dumps_manifest(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_manifest(data: dict[str, Any], paths: list[Path] | None = None) -> list[Path]:
    """Validate and write the same bytes to every path (default: package + repository copy)."""
    parse_manifest(data)
    if paths is None:
        paths = [PACKAGE_MANIFEST] + ([REPO_MANIFEST] if REPO_MANIFEST.parent.joinpath(
            "pyproject.toml").is_file() else [])
    text = dumps_manifest(data)
    for p in paths:
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(p)
    _load_cached.cache_clear()
    return paths


def add_entries(new: list[dict[str, Any]], paths: list[Path] | None = None) -> list[Path]:
    """Insert or replace entries (matched by model + scale + degradation) in the packaged
    manifest. A replaced entry keeps its place; a new one goes after its model's last entry
    (or first in the list), so the file's order stays BI by scale, then BD, then DN."""
    data = json.loads(PACKAGE_MANIFEST.read_text(encoding="utf-8"))
    weights: list[dict[str, Any]] = data["weights"]

    def key(w: dict[str, Any]) -> tuple[str, int, str]:
        return w["model"], w["scale"], w.get("degradation", "bi")

    for entry in sorted(new, key=lambda n: (n.get("degradation", "bi") != "bi",
                                            n.get("degradation", "bi"), n["scale"])):
        same = [i for i, w in enumerate(weights) if key(w) == key(entry)]
        if same:
            weights[same[0]] = entry
            continue
        model = [i for i, w in enumerate(weights) if w["model"] == entry["model"]]
        weights.insert(model[-1] + 1 if model else 0, entry)
    return write_manifest(data, paths)


def bundled_entry_from_sidecar(weights_file: str | Path, sidecar: dict[str, Any] | None = None,
                               *, model: str | None = None, license: str = "MIT",
                               paper: str = "", quality: list[dict[str, Any]] | None = None,
                               notes: str = "", bundled_dir: Path = BUNDLED_DIR
                               ) -> dict[str, Any]:
    """A manifest entry (JSON-ready dict) for a weights file already in `bundled_dir`
    (`srcli/weights/bundled/`; the entry's path is relative to that folder's parent, where
    the manifest lives).

    `sidecar` defaults to the JSON `srcli train export` writes beside the file (architecture,
    config, scale, degradation, params, training, validation). sha256 and size are computed
    from the file itself. `model` is the user-facing name (default: the architecture).
    """
    path = Path(weights_file).resolve()
    if path.parent != Path(bundled_dir).resolve():
        raise WeightsError(f"{path} is not inside {bundled_dir}; copy it there first")
    if sidecar is None:
        side = path.with_suffix(".json")
        if not side.is_file():
            raise WeightsError(f"no sidecar {side.name} next to {path.name}")
        sidecar = json.loads(side.read_text(encoding="utf-8"))
    arch = str(sidecar["architecture"]).lower()
    training = dict(sidecar.get("training") or {})
    if sidecar.get("validation") is not None:
        training["validation"] = sidecar["validation"]
    for key in ("dtype", "weights"):
        if key in sidecar:
            training[key] = sidecar[key]
    return {
        "model": (model or arch).lower(), "scale": int(sidecar["scale"]),
        "architecture": arch, "family": arch.split("-")[0], "format": "srcli",
        "degradation": str(sidecar.get("degradation", "bi")).lower(),
        "config": dict(sidecar.get("config") or {}), "hub": None,
        "bundled": f"{path.parent.name}/{path.name}", "sha256": sha256_file(path),
        "size": path.stat().st_size, "params": sidecar.get("params"), "license": license,
        "paper": paper, "quality": list(quality or []), "notes": notes,
        "training": training or None,
    }
