"""`srcli models list/info/download/verify`, offline and against the local hub server."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch
from conftest import REPO
from safetensors import safe_open
from typer.testing import CliRunner

from srcli.cli.app import app

if TYPE_CHECKING:
    from hub_server import FakeHub


COMMIT = "3" * 40


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_table_and_json(offline_home: Path) -> None:
    code, out, _ = _run("models", "list")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()
            and line.split()[0] in ("msrn-bam", "rcan-bam", "edsr-base")}
    # x2 / x3 / x4 differ in size (the upsampler grows with the scale): one line each
    assert rows["msrn-bam"][1:4] == ["msrn", "x2", "x3"] and "5.93M" in rows["msrn-bam"]
    assert "6.08M" in out.split(" msrn-bam ")[1].split(" mdsr-bam ")[0]
    assert rows["rcan-bam"][2] == "x4" and "15.59M" in rows["rcan-bam"]
    dan = [line.split() for line in out.splitlines() if line.split()[:1] == ["dan"]]
    # one row per degradation: dan dan SCALES... PARAMS DEG bundled ...
    assert [r[r.index("bundled") - 1] for r in dan] == ["BI", "BD", "DN"]
    assert [r[2] for r in dan] == ["x2", "x3", "x3"]
    code, out, _ = _run("models", "list", "--json")
    entries = json.loads(out)
    hub = [e for e in entries if e["hub"] is not None]
    bundled = [e for e in entries if e["hub"] is None]
    assert code == 0 and len(hub) == 40
    assert {e["model"] for e in hub} >= {"msrn-bam", "pan", "a2n", "edsr-base"}
    assert all(e["available"] is False and e["hub"]["repo_id"].startswith("eugenesiow/")
               for e in hub)
    assert bundled and all(e["model"] == "dan" and e["available"] for e in bundled)


def test_info_shows_revision_and_cache_location(offline_home: Path) -> None:
    code, out, _ = _run("models", "info", "msrn-bam", "--scale", "2", "--json")
    assert code == 0
    (entry,) = json.loads(out)
    assert entry["hub"]["revision"] == "24585acd5c3ec99403815b70b415834c033c00dc"
    assert entry["cache_dir"] == str(offline_home / "hub" / "models--eugenesiow--msrn-bam")
    code, out, _ = _run("models", "info", "pan", "--json")
    assert code == 0
    assert [e["hub"]["revision"][:7] for e in json.loads(out)] == ["bffd03a", "d42ed37", "bffd03a"]
    code, out, _ = _run("models", "info", "pan", "--scale", "3")
    assert code == 0 and "revision" in out and "d42ed37983a3f7307737948c0dec05b60c3ea137" in out


@pytest.mark.parametrize("args, message", [
    (("models", "info", "nope"), "no weights named 'nope'"),
    (("models", "info", "rcan-bam", "--scale", "2"), "rcan-bam has no weights for x2"),
    (("models", "download", "carn", "--scale", "3"),
     "run `srcli models download carn --scale 3` on a connected machine"),
])
def test_user_errors_are_one_line(offline_home: Path, args: tuple[str, ...], message: str
                                  ) -> None:
    code, _, err = _run(*args)
    assert code == 1
    assert message in err.replace("\n", "") and err.count("error:") == 1
    assert "Traceback" not in err


def _publish_pan_bam(hub: FakeHub, tmp_path: Path, compat_dir: Path) -> tuple[Path, bytes]:
    with safe_open(str(compat_dir / "golden" / "pan-bam_x2_reduced.safetensors"), "pt") as fh:
        config = json.loads(fh.metadata()["config"])
        sd = OrderedDict((k[len("state_dict."):], fh.get_tensor(k)) for k in fh.keys()  # noqa: SIM118
                         if k.startswith("state_dict."))
    buf = io.BytesIO()
    torch.save(sd, buf)
    weights = buf.getvalue()
    hub.add("eugenesiow/pan-bam", COMMIT, {"config.json": json.dumps(config).encode(),
                                           "pytorch_model_2x.pt": weights})
    entry = {"model": "pan-bam", "scale": 2, "architecture": "pan-bam", "family": "pan",
             "format": "super-image", "config": config, "sha256": None, "size": None,
             "hub": {"repo_id": "eugenesiow/pan-bam", "filename": "pytorch_model_2x.pt",
                     "revision": COMMIT, "config_file": "config.json"}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema": 1, "default_model": "dan", "weights": [entry]}))
    return path, weights


def test_download_then_verify(fake_hub: FakeHub, tmp_path: Path, compat_dir: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    manifest, weights = _publish_pan_bam(fake_hub, tmp_path, compat_dir)
    monkeypatch.setenv("SRCLI_WEIGHTS_MANIFEST", str(manifest))
    # The download runs in a fresh process: huggingface_hub reads HF_* once, at import, and
    # this is how a user runs it.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "srcli", "models", "download", "pan-bam"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ok pan-bam x2" in done.stderr
    cached = (Path(env["HF_HOME"]) / "hub" / "models--eugenesiow--pan-bam" / "snapshots" / COMMIT
              / "pytorch_model_2x.pt")
    assert cached.read_bytes() == weights
    assert {r.path.rsplit("/", 1)[-1] for r in fake_hub.gets("/resolve/")} == {"config.json"}

    code, out, _ = _run("models", "verify")
    assert code == 0 and "pan-bam" in out and "ok" in out
    assert hashlib.sha256(weights).hexdigest()[:16] in out
    code, out, _ = _run("models", "list")
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("pan-bam"))
    assert code == 0 and row[-2] == "x2"  # the "cached" column (Set5 PSNR "—" last)

    cached.resolve().write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]))  # bit rot
    code, out, err = _run("models", "verify")
    assert code == 1 and "deleted" in out
    assert "1 weights file(s) failed verification" in err
    assert not cached.exists()
