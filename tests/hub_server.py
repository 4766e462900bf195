"""A real HTTP server on 127.0.0.1 that answers like the Hugging Face hub's resolve endpoint.

What `huggingface_hub.hf_hub_download` relies on (read from huggingface_hub 2.4's
`file_download.py`): a HEAD on `/{repo}/resolve/{revision}/{file}` (datasets under
`/datasets/`) must carry `X-Repo-Commit` and an ETag; large (LFS) files answer with a redirect
to a storage host whose `Location` is not followed for HEAD, so the metadata comes from the
redirect itself (`X-Linked-Etag` = the file's sha256, `X-Linked-Size`); the GET then goes to
`Location`, and after a dropped connection it resumes with `Range: bytes=N-` (206 answer).
Missing things are 404s with `X-Error-Code` (RepoNotFound / RevisionNotFound / EntryNotFound).

Here the "storage host" is a second server on another port, so the redirect crosses origins
exactly as on the real hub. Every request is logged for assertions.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest


@dataclass
class Repo:
    #: revision (commit sha or branch name) -> commit sha
    refs: dict[str, str] = field(default_factory=dict)
    #: commit sha -> {filename: bytes}
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)


@dataclass
class Request:
    server: str  # "hub" | "cdn"
    method: str
    path: str
    range: str | None


class FakeHub:
    """State shared by the two servers: repos, blobs, the request log and fault injection."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.log: list[Request] = []
        #: sha256 -> number of GETs still to cut off after half the body
        self.drop: dict[str, int] = {}
        #: sha256s whose resumed (Range) GETs fail with HTTP 500
        self.no_resume: set[str] = set()
        #: filename -> sha256 to announce instead of the real one (a lying server)
        self.fake_etag: dict[str, str] = {}
        self.lock = threading.Lock()
        self.hub_url = ""
        self.cdn_url = ""

    def add(self, repo_id: str, commit: str, files: dict[str, bytes], *,
            branch: str | None = "main", repo_type: str = "model") -> None:
        key = self._key(repo_id, repo_type)
        repo = self.repos.setdefault(key, Repo())
        repo.commits[commit] = dict(files)
        repo.refs[commit] = commit
        if branch:
            repo.refs[branch] = commit
        for data in files.values():
            self.blobs[hashlib.sha256(data).hexdigest()] = data

    @staticmethod
    def _key(repo_id: str, repo_type: str) -> str:
        return repo_id if repo_type == "model" else f"{repo_type}s/{repo_id}"

    def gets(self, needle: str = "") -> list[Request]:
        return [r for r in self.log if r.method == "GET" and needle in r.path]


def _is_lfs(name: str) -> bool:
    return not name.endswith(".json")


class _HubHandler(BaseHTTPRequestHandler):
    hub: FakeHub

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _record(self, server: str) -> None:
        with self.hub.lock:
            self.hub.log.append(Request(server, self.command, self.path,
                                        self.headers.get("Range")))

    def _error(self, status: int, code: str, commit: str | None = None) -> None:
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._resolve()

    def do_GET(self) -> None:
        self._resolve()

    def _split(self) -> tuple[str, str, str] | None:
        path = unquote(self.path.split("?")[0]).lstrip("/")
        prefix = ""
        if path.startswith(("datasets/", "spaces/")):
            prefix, path = path.split("/", 1)
            prefix += "/"
        parts = path.split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None
        return prefix + "/".join(parts[:2]), parts[3], "/".join(parts[4:])

    def _resolve(self) -> None:
        self._record("hub")
        split = self._split()
        if split is None:
            return self._error(404, "RepoNotFound")
        repo_key, revision, filename = split
        repo = self.hub.repos.get(repo_key)
        if repo is None:
            return self._error(404, "RepoNotFound")
        commit = repo.refs.get(revision)
        if commit is None:
            return self._error(404, "RevisionNotFound")
        data = repo.commits[commit].get(filename)
        if data is None:
            return self._error(404, "EntryNotFound", commit)
        sha = hashlib.sha256(data).hexdigest()
        if _is_lfs(filename):
            self.send_response(302)
            self.send_header("Location", f"{self.hub.cdn_url}/blobs/{sha}")
            self.send_header("X-Repo-Commit", commit)
            self.send_header("X-Linked-Etag", f'"{self.hub.fake_etag.get(filename, sha)}"')
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("ETag", f'"{sha[:40]}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')  # git blob-like id
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)
        return None


class _CdnHandler(_HubHandler):
    """The storage host: serves blobs by sha256, with Range and fault injection."""

    def _resolve(self) -> None:
        self._record("cdn")
        sha = self.path.rsplit("/", 1)[-1]
        data = self.hub.blobs.get(sha)
        if data is None:
            return self._error(404, "EntryNotFound")
        start = 0
        rng = self.headers.get("Range")
        if rng:
            if sha in self.hub.no_resume:
                return self._error(500, "Internal")
            start = int(rng.split("=")[1].split("-")[0])
        body = data[start:]
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{sha}"')
        self.end_headers()
        if self.command != "GET":
            return None
        with self.hub.lock:
            cut = self.hub.drop.get(sha, 0) > 0 and not rng
            if cut:
                self.hub.drop[sha] -= 1
        if cut:  # send half, then hang up mid-file
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        self.wfile.write(body)
        return None


class HubServers:
    """Start/stop the hub + storage servers on ephemeral ports (use as a context manager)."""

    def __init__(self) -> None:
        self.hub = FakeHub()
        hub_handler = type("H", (_HubHandler,), {"hub": self.hub})
        cdn_handler = type("C", (_CdnHandler,), {"hub": self.hub})
        self._servers = [ThreadingHTTPServer(("127.0.0.1", 0), hub_handler),
                         ThreadingHTTPServer(("127.0.0.1", 0), cdn_handler)]
        self.hub.hub_url = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.hub.cdn_url = f"http://127.0.0.1:{self._servers[1].server_address[1]}"
        self._threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
                         for s in self._servers]

    def __enter__(self) -> FakeHub:
        for t in self._threads:
            t.start()
        return self.hub

    def __exit__(self, *exc: object) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()


# ------------------------------------------------------------------------ fixtures

_LOCAL = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to resolve or connect to a host other than this machine."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in _LOCAL and host is not None:
            raise OSError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOCAL:
            raise OSError(f"test tried to connect to {host!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def offline_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loopback_only: None) -> Path:
    """An empty HF_HOME, offline, pointing nowhere real."""
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: never answers
    return home


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loopback_only: None
             ) -> Iterator[FakeHub]:
    """Running hub + storage servers, with HF_ENDPOINT/HF_HOME pointing at them and tmp."""
    import huggingface_hub.constants as hf_constants

    with HubServers() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.hub_url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        # huggingface_hub froze HF_HUB_OFFLINE at import; a CI that exports it must not
        # turn these online tests into offline ones.
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        yield hub
