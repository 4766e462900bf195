"""Downloads end to end against a real HTTP server that answers like the hub (tests/hub_server).

Nothing here can reach the internet: HF_ENDPOINT points at 127.0.0.1 and `loopback_only`
fails any other lookup or connection.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import tarfile
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from safetensors import safe_open

from srcli.data.download import download_dataset, safe_extract
from srcli.errors import DataError, WeightsError
from srcli.models.pretrained import load_pretrained
from srcli.weights import hub
from srcli.weights.hub import HubFile
from srcli.weights.manifest import load_manifest
from srcli.weights.resolve import parse_hf_uri, resolve_weights

if TYPE_CHECKING:
    from hub_server import FakeHub


COMMIT_OLD = "1" * 40
COMMIT_NEW = "2" * 40
ATOL = 1e-5


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _snapshots(repo: str) -> list[Path]:
    root = hub.repo_cache_dir(repo) / "snapshots"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


# ------------------------------------------------------------------------ plain files


def test_first_download_then_cache_hit_without_requests(fake_hub: FakeHub) -> None:
    data = os.urandom(200_000)
    fake_hub.add("eugenesiow/demo", COMMIT_NEW, {"pytorch_model_2x.pt": data})
    seen: list[tuple[int, int | None]] = []
    f = HubFile("eugenesiow/demo", "pytorch_model_2x.pt")
    path = hub.fetch(f, progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == data
    assert path.parent.name == COMMIT_NEW and Path(os.environ["HF_HOME"]) in path.parents
    assert [r.method for r in fake_hub.log] == ["HEAD", "GET"]
    assert seen[-1] == (len(data), len(data))
    fake_hub.log.clear()
    assert hub.fetch(f) == path
    assert fake_hub.log == []  # offline first: a cached file costs no request at all


def test_pinned_revision_gets_that_commit(fake_hub: FakeHub) -> None:
    fake_hub.add("eugenesiow/demo", COMMIT_OLD, {"w.pt": b"old weights"}, branch=None)
    fake_hub.add("eugenesiow/demo", COMMIT_NEW, {"w.pt": b"new weights"})
    assert hub.fetch(HubFile("eugenesiow/demo", "w.pt", COMMIT_OLD)).read_bytes() == b"old weights"
    assert hub.fetch(HubFile("eugenesiow/demo", "w.pt")).read_bytes() == b"new weights"
    heads = [r.path for r in fake_hub.log if r.method == "HEAD"]
    assert heads == [f"/eugenesiow/demo/resolve/{COMMIT_OLD}/w.pt",
                     "/eugenesiow/demo/resolve/main/w.pt"]


def test_sha256_mismatch_deletes_and_refuses(fake_hub: FakeHub) -> None:
    data = b"weights that are not the ones the manifest names" * 100
    fake_hub.add("eugenesiow/demo", COMMIT_NEW, {"w.pt": data})
    f = HubFile("eugenesiow/demo", "w.pt", COMMIT_NEW)
    with pytest.raises(WeightsError, match="sha256 mismatch .* the file was deleted"):
        hub.fetch(f, sha256="0" * 64)
    assert _snapshots("eugenesiow/demo") == []
    assert not any((hub.repo_cache_dir("eugenesiow/demo") / "blobs").iterdir())
    assert hub.fetch(f, sha256=_sha(data)).read_bytes() == data  # the right hash passes


def test_server_announcing_a_wrong_lfs_hash_is_refused(fake_hub: FakeHub) -> None:
    # With no hash in the manifest, the hub's own LFS sha256 (the ETag) is the reference.
    fake_hub.add("eugenesiow/demo", COMMIT_NEW, {"w.pt": b"payload" * 1000})
    fake_hub.fake_etag["w.pt"] = "f" * 64
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        hub.fetch(HubFile("eugenesiow/demo", "w.pt"))
    assert _snapshots("eugenesiow/demo") == []


def test_http_404s(fake_hub: FakeHub) -> None:
    fake_hub.add("eugenesiow/demo", COMMIT_NEW, {"w.pt": b"x"})
    for f in (HubFile("eugenesiow/demo", "missing.pt"), HubFile("eugenesiow/nope", "w.pt"),
              HubFile("eugenesiow/demo", "w.pt", "no-such-branch")):
        with pytest.raises(WeightsError, match=r"not found on http://127\.0\.0\.1.*404"):
            hub.fetch(f)


def test_connection_dropped_mid_file_is_resumed(fake_hub: FakeHub) -> None:
    # Bigger than huggingface_hub's 10 MiB read chunk, so the first attempt keeps some bytes
    # and the retry asks for the rest with a Range request.
    data = os.urandom(24 << 20)
    fake_hub.add("eugenesiow/demo", COMMIT_NEW, {"big.pt": data})
    fake_hub.drop[_sha(data)] = 1
    path = hub.fetch(HubFile("eugenesiow/demo", "big.pt"))
    assert _sha(path.read_bytes()) == _sha(data)
    gets = fake_hub.gets("/blobs/")
    assert len(gets) == 2 and gets[0].range is None and gets[1].range.startswith("bytes=")
    assert int(gets[1].range.split("=")[1].rstrip("-")) > 0


def test_connection_dropped_and_not_resumable_fails_cleanly(fake_hub: FakeHub) -> None:
    data = os.urandom(24 << 20)
    fake_hub.add("eugenesiow/demo", COMMIT_NEW, {"big.pt": data})
    fake_hub.drop[_sha(data)] = 1
    fake_hub.no_resume.add(_sha(data))
    with pytest.raises(WeightsError) as info:
        hub.fetch(HubFile("eugenesiow/demo", "big.pt"))
    assert "downloading eugenesiow/demo/big.pt@main" in str(info.value)
    assert "\n" not in str(info.value)
    assert _snapshots("eugenesiow/demo") == []  # nothing half-written is ever used


def test_unreachable_endpoint_fails_at_once(offline_home: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    import huggingface_hub

    def retries_for_half_a_minute(*args: object, **kwargs: object) -> None:
        raise AssertionError("the probe should have answered before huggingface_hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", retries_for_half_a_minute)
    with pytest.raises(WeightsError, match=f"cannot reach http://127.0.0.1:{port} to download"):
        hub.fetch(HubFile("eugenesiow/demo", "w.pt"))


def test_hf_uri(fake_hub: FakeHub) -> None:
    assert parse_hf_uri("hf://owner/repo@abc/sub/w.safetensors") == HubFile(
        "owner/repo", "sub/w.safetensors", "abc")
    with pytest.raises(WeightsError, match="bad hub address"):
        parse_hf_uri("hf://owner/w.pt")
    fake_hub.add("owner/repo", COMMIT_NEW, {"sub/w.pt": b"abc" * 10})
    got = resolve_weights("msrn", 2, "hf://owner/repo/sub/w.pt")
    assert got.source == "hf" and got.path.read_bytes() == b"abc" * 10


# ------------------------------------------------------------------------ manifest models


def _golden(compat_dir: Path, name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor],
                                                  torch.Tensor, torch.Tensor]:
    with safe_open(str(compat_dir / "golden" / f"{name}.safetensors"), "pt") as fh:
        config = json.loads(fh.metadata()["config"])
        sd = OrderedDict((k[len("state_dict."):], fh.get_tensor(k)) for k in fh.keys()  # noqa: SIM118
                         if k.startswith("state_dict."))
        return config, sd, fh.get_tensor("input"), fh.get_tensor("output")


def _publish_golden(fake_hub: FakeHub, tmp_path: Path, compat_dir: Path, model: str, scale: int,
                    *, data_parallel: bool) -> Path:
    """Put a golden model on the fake hub like super-image does; return a manifest for it."""
    config, sd, _, _ = _golden(compat_dir, f"{model}_x{scale}_reduced")
    config = {**config, "data_parallel": data_parallel}
    if data_parallel:  # super-image saves these through nn.DataParallel
        sd = OrderedDict((f"module.{k}", v) for k, v in sd.items())
    buf = io.BytesIO()
    torch.save(sd, buf)
    fake_hub.add(f"eugenesiow/{model}", COMMIT_NEW, {
        "config.json": json.dumps(config).encode(), f"pytorch_model_{scale}x.pt": buf.getvalue()})
    entry = {"model": model, "scale": scale, "architecture": model, "family": model.split("-")[0],
             "format": "super-image", "config": config, "sha256": _sha(buf.getvalue()),
             "size": len(buf.getvalue()),
             "hub": {"repo_id": f"eugenesiow/{model}", "filename": f"pytorch_model_{scale}x.pt",
                     "revision": COMMIT_NEW, "config_file": "config.json"}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema": 1, "weights": [entry]}))
    return path


def test_pretrained_super_image_model_downloads_and_matches_golden(
        fake_hub: FakeHub, tmp_path: Path, compat_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = load_manifest(_publish_golden(fake_hub, tmp_path, compat_dir, "msrn-bam", 2,
                                             data_parallel=True))
    _, _, x, ref = _golden(compat_dir, "msrn-bam_x2_reduced")
    model = load_pretrained("msrn-bam", 2, manifest=manifest)
    assert model.weights_source.source == "download"
    with torch.no_grad():
        y = model(x)
    assert (y - ref).abs().max() <= ATOL * max(1.0, ref.abs().max().item())
    # Offline afterwards: everything comes from the cache, the server sees nothing.
    fake_hub.log.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = load_pretrained("msrn-bam", 2, manifest=manifest)
    assert again.weights_source.source == "cache" and fake_hub.log == []


def test_offline_and_not_cached_names_the_file_and_the_command(
        offline_home: Path, tmp_path: Path) -> None:
    with pytest.raises(WeightsError) as info:
        resolve_weights("pan-bam", 3, manifest=load_manifest())
    message = str(info.value)
    assert "\n" not in message
    assert "eugenesiow/pan-bam/pytorch_model_3x.pt@main" in message
    assert "`srcli models download pan-bam --scale 3`" in message
    assert not (offline_home / "hub").exists() or _snapshots("eugenesiow/pan-bam") == []


# ------------------------------------------------------------------------ datasets


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, None


MALICIOUS = {
    "parent path": [_file("Set5_HR/ok.png"), _file("../evil.txt")],
    "nested parent path": [_file("Set5_HR/../../evil.txt")],
    "absolute path": [_file("/tmp/evil.txt")],
    "symlink": [_file("Set5_HR/ok.png"), _special("Set5_HR/link.png", tarfile.SYMTYPE,
                                                   "/etc/passwd")],
    "hard link": [_special("Set5_HR/hard.png", tarfile.LNKTYPE, "/etc/passwd")],
    "character device": [_special("Set5_HR/tty", tarfile.CHRTYPE)],
    "block device": [_special("Set5_HR/sda", tarfile.BLKTYPE)],
    "fifo": [_special("Set5_HR/pipe", tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_safe_extract_refuses_malicious_archives(tmp_path: Path, case: str) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_tar(MALICIOUS[case]))
    dest = tmp_path / "out" / "Set5" / "HR"
    with pytest.raises(DataError, match="refusing to extract a.tar.gz"):
        safe_extract(archive, dest)
    assert not dest.exists()
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()
    parent = tmp_path / "out" / "Set5"
    assert not parent.exists() or list(parent.iterdir()) == []  # no partial folder left


def test_safe_extract_rejects_non_archives(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b" + b"not gzip")
    with pytest.raises(DataError, match="not a readable tar archive"):
        safe_extract(junk, tmp_path / "out")


def test_dataset_download_extracts_real_images(fake_hub: FakeHub, tmp_path: Path,
                                               benchmark_dir: Path) -> None:
    images = sorted((benchmark_dir / "Set5" / "HR").glob("*.png"))
    members = [(tarfile.TarInfo("Set5_HR"), None)]
    members[0][0].type = tarfile.DIRTYPE
    members += [_file(f"Set5_HR/{p.name}", p.read_bytes()) for p in images]
    fake_hub.add("datasets/eugenesiow/Set5", COMMIT_NEW, {"data/Set5_HR.tar.gz": _tar(members)})
    hr = download_dataset("SET5", tmp_path / "data")
    assert hr == tmp_path / "data" / "Set5" / "HR"
    assert sorted(p.name for p in hr.iterdir()) == [p.name for p in images]
    assert all((hr / p.name).read_bytes() == p.read_bytes() for p in images)
    assert fake_hub.log[0].path == "/datasets/eugenesiow/Set5/resolve/main/data/Set5_HR.tar.gz"
    fake_hub.log.clear()
    assert download_dataset("set5", tmp_path / "data") == hr and fake_hub.log == []


def test_dataset_download_refuses_a_malicious_archive(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add("datasets/eugenesiow/Set14", COMMIT_NEW,
                 {"data/Set14_HR.tar.gz": _tar(MALICIOUS["symlink"])})
    with pytest.raises(DataError, match="is a symlink"):
        download_dataset("set14", tmp_path / "data")
    assert not (tmp_path / "data" / "Set14" / "HR").exists()


def test_dataset_offline_and_missing(offline_home: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Set5 is not downloaded and HF_HUB_OFFLINE is set"):
        download_dataset("set5", tmp_path / "data")
    with pytest.raises(DataError, match="no hub download for dataset 'manga109'"):
        download_dataset("manga109", tmp_path / "data")
