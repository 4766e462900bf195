"""All network access of srcli: Hugging Face hub downloads into the standard HF cache.

Offline first: a file already in the cache is used without contacting the server, even for
a branch revision such as `main`. The environment is read at call time (huggingface_hub reads
`HF_ENDPOINT`, `HF_HOME`, `HF_HUB_OFFLINE` once, at import), and passed explicitly:

- `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub` — where files live;
- `HF_ENDPOINT` — the server (a mirror, or a test server);
- `HF_HUB_OFFLINE=1` — never touch the network; a missing file raises NotCachedError.

Every downloaded or cached file is checked before use: against the sha256 the caller knows
(the manifest's), else against the hub's own Git LFS sha256, which is the name of the blob in
the cache. A mismatch deletes the file and raises WeightsError.

Benchmark datasets are fetched through here too (`fetch`), and unpacked by srcli.data.download.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from srcli.errors import WeightsError
from srcli.weights.manifest import sha256_file

__all__ = ["HubFile", "NotCachedError", "ProgressFn", "cached_file", "fetch", "hub_cache_dir",
           "hub_endpoint", "is_offline", "repo_cache_dir", "verify_file"]

# huggingface_hub phones home for telemetry (an "agent harness" registry) when it builds request
# headers; srcli downloads weights and nothing else, so that is off unless the user set it.
# It must be set before huggingface_hub is first imported (it reads its environment once).
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

DEFAULT_ENDPOINT = "https://huggingface.co"
#: (bytes done, total bytes or None) — called as a download advances.
ProgressFn = Callable[[int, "int | None"], None]
_SHA256 = re.compile(r"[0-9a-f]{64}")


class NotCachedError(WeightsError):
    """Offline (HF_HUB_OFFLINE) and the file is not in the cache."""


@dataclass(frozen=True)
class HubFile:
    repo_id: str
    filename: str
    revision: str = "main"
    repo_type: str = "model"

    def __str__(self) -> str:
        rev = self.revision[:7] if len(self.revision) == 40 else self.revision
        return f"{self.repo_id}/{self.filename}@{rev}"

    def url(self) -> str:
        prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[self.repo_type]
        return f"{hub_endpoint()}/{prefix}{self.repo_id}/resolve/{self.revision}/{self.filename}"


# ------------------------------------------------------------------------ environment


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def is_offline() -> bool:
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(
        os.environ.get("TRANSFORMERS_OFFLINE"))


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def repo_cache_dir(repo_id: str, repo_type: str = "model") -> Path:
    """Where the HF cache keeps a repository (`models--owner--name`)."""
    return hub_cache_dir() / f"{repo_type}s--{repo_id.replace('/', '--')}"


@contextlib.contextmanager
def _quiet_hub() -> Iterator[None]:
    # huggingface_hub logs retries and hints as warnings; the CLI reports errors itself.
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# ------------------------------------------------------------------------ verification


def _remove_cached(path: Path) -> None:
    """Delete a cached file: the snapshot entry and the blob it points to."""
    blob = path.resolve()
    path.unlink(missing_ok=True)
    if blob != path:
        blob.unlink(missing_ok=True)


def expected_hash(path: Path, sha256: str | None) -> str | None:
    """The sha256 a cached file must have: the caller's, else the LFS blob name, else None."""
    if sha256:
        return sha256
    blob_name = path.resolve().name
    return blob_name if _SHA256.fullmatch(blob_name) else None


def verify_file(path: Path, sha256: str | None, what: str) -> str:
    """Hash `path`; on a mismatch with the expected hash delete it and raise. Returns the hash."""
    actual = sha256_file(path)
    expected = expected_hash(path, sha256)
    if expected is not None and actual != expected:
        _remove_cached(path)
        raise WeightsError(f"sha256 mismatch for {what}: expected {expected[:12]}…, got "
                           f"{actual[:12]}…; the file was deleted, download it again")
    return actual


# ------------------------------------------------------------------------ download


def _progress_class(progress: ProgressFn | None) -> type:
    """A tqdm stand-in for hf_hub_download that forwards byte counts (and never prints)."""

    class _Bar:
        def __init__(self, *args: Any, total: int | None = None, initial: int = 0,
                     **kwargs: Any) -> None:
            self.n, self.total = initial, total
            if progress:
                progress(self.n, total)

        def update(self, n: int = 1) -> None:
            self.n += n
            if progress:
                progress(self.n, self.total)

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *a, **k: None  # close(), refresh(), set_description(), ...

    return _Bar


def cached_file(f: HubFile) -> Path | None:
    """The cached copy of `f` at its revision, or None. Never touches the network."""
    if not repo_cache_dir(f.repo_id, f.repo_type).is_dir():
        return None  # nothing of this repository here: skip importing huggingface_hub
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(f.repo_id, f.filename, cache_dir=hub_cache_dir(),
                                   revision=f.revision, repo_type=f.repo_type)
    return Path(found) if isinstance(found, str) and os.path.isfile(found) else None


def _http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _reachable(endpoint: str, timeout: float = 5.0) -> bool:
    """Can we open a TCP connection to the endpoint? (True when a proxy decides instead.)

    huggingface_hub retries an unreachable server with backoff for about half a minute; a
    machine without network should hear so at once.
    """
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                                        "ALL_PROXY", "all_proxy")):
        return True
    url = urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _download(f: HubFile, progress: ProgressFn | None) -> Path:
    import huggingface_hub as hh
    from huggingface_hub import errors as he

    where = hub_endpoint()
    if not _reachable(where):
        raise WeightsError(f"cannot reach {where} to download {f}, and it is not cached; "
                           "check the connection (or set HF_HUB_OFFLINE=1 to work offline)")
    try:
        with _quiet_hub():
            path = hh.hf_hub_download(
                f.repo_id, f.filename, revision=f.revision, repo_type=f.repo_type,
                cache_dir=hub_cache_dir(), endpoint=where, tqdm_class=_progress_class(progress))
    except he.OfflineModeIsEnabled:
        raise NotCachedError(f"{f} is not cached and the hub is in offline mode") from None
    except he.LocalEntryNotFoundError:  # before EntryNotFoundError, its base class
        raise WeightsError(f"cannot reach {where} to download {f}, and it is not cached; "
                           "check the connection (or HF_ENDPOINT)") from None
    except (he.RepositoryNotFoundError, he.RevisionNotFoundError, he.EntryNotFoundError) as exc:
        status = _http_status(exc)
        raise WeightsError(f"{f} not found on {where}"
                           + (f" (HTTP {status})" if status else "")) from None
    except he.HfHubHTTPError as exc:
        raise WeightsError(f"downloading {f} from {where} failed: HTTP "
                           f"{_http_status(exc) or '?'}") from None
    except Exception as exc:  # connection reset, truncated body, timeouts: the network's fault
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"downloading {f} from {where} failed: {detail}") from None
    return Path(str(path))


def fetch(f: HubFile, *, sha256: str | None = None, progress: ProgressFn | None = None,
          download: bool = True) -> Path:
    """Path of `f` in the HF cache, verified; downloaded first unless cached or offline.

    `download=False` (or HF_HUB_OFFLINE) turns a cache miss into NotCachedError.
    """
    path = cached_file(f)
    if path is None:
        if is_offline() or not download:
            raise NotCachedError(f"{f} is not in the Hugging Face cache ({hub_cache_dir()})")
        path = _download(f, progress)
    verify_file(path, sha256, str(f))
    return path
