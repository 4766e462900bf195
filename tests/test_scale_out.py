"""Several processes on one batch: output claims, and torchrun sharding (issue 29)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from srcli.cli.app import app
from srcli.inference.claim import lock_path, try_claim

REPO = Path(__file__).resolve().parents[1]


def _folder(tmp_path: Path, n: int, size: int = 96) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 256, (size, size + i, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"img_{i:02d}.png")
    return folder


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def test_claims_are_exclusive_and_stale_ones_are_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "a.png"
    claim = try_claim(out)
    assert claim is not None and lock_path(out).exists()
    assert try_claim(out) is None  # held by a live process (this one)
    claim.release()
    assert not lock_path(out).exists()
    # A crashed owner on this host: a pid that cannot exist.
    lock_path(out).write_text(f"999999999 {socket.gethostname()} 0\n")
    taken = try_claim(out)
    assert taken is not None
    assert lock_path(out).read_text().split()[0] == str(os.getpid())
    taken.release()
    # Another host, recent: cannot be checked, so it is respected.
    lock_path(out).write_text("123 some-other-host 0\n")
    assert try_claim(out) is None
    # ... until it is older than STALE_AFTER.
    os.utime(lock_path(out), (0, 0))
    again = try_claim(out)
    assert again is not None
    again.release()


def test_a_claimed_file_is_skipped_by_the_cli(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 2, size=16)
    outdir = tmp_path / "out"
    outdir.mkdir()
    held = try_claim(outdir / "img_00_x2.png")
    assert held is not None
    result = CliRunner().invoke(app, ["upscale", str(folder), "-o", str(outdir), "-m",
                                      "bicubic", "-s", "2", "--json"], prog_name="srcli")
    held.release()
    assert result.exit_code == 0, result.stderr
    files = {Path(f["input"]).name: f for f in json.loads(result.stdout)["files"]}
    assert files["img_00.png"]["status"] == "skipped"
    assert "another srcli process" in files["img_00.png"]["notes"][0]
    assert files["img_01.png"]["status"] == "ok"
    assert not list(outdir.glob(".*.lock"))


def test_two_processes_on_one_folder_split_the_work(tmp_path: Path) -> None:
    n = 16
    folder = _folder(tmp_path, n, size=160)
    outdir = tmp_path / "out"
    cmd = [sys.executable, "-m", "srcli", "upscale", str(folder), "-o", str(outdir),
           "-m", "bicubic", "-s", "4", "--threads", "1", "--json", "-q"]
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    reports = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        reports.append(json.loads(stdout))
    done = [Path(f["input"]).name for r in reports for f in r["files"] if f["status"] == "ok"]
    assert sorted(done) == sorted(f"img_{i:02d}.png" for i in range(n))  # each exactly once
    assert len(list(outdir.glob("*_x4.png"))) == n
    assert not list(outdir.glob(".*"))  # no claim or temp file left behind


# ------------------------------------------------------------------ torchrun (2 ranks, gloo)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node",
           "2", "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "srcli", *args]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)


def _single(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srcli", *args], env=_env(),
                          capture_output=True, text=True, timeout=300)


def test_shard_takes_round_robin_and_merges_back() -> None:
    from srcli.inference.shard import Shard, from_env

    items = list(range(7))
    shards = [Shard(r, 3) for r in range(3)]
    parts = [s.take(items) for s in shards]
    assert parts == [[0, 3, 6], [1, 4], [2, 5]]
    assert shards[0].merge(parts) == items
    assert from_env({}) == Shard()
    assert from_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1",
                     "LOCAL_WORLD_SIZE": "2"}) == Shard(1, 4, 1, 2)


@pytest.mark.slow
def test_torchrun_upscale_does_each_file_once_like_one_process(tmp_path: Path) -> None:
    n = 7
    folder = _folder(tmp_path, n, size=40)
    common = ["-m", "bicubic", "-s", "2", "--threads", "1", "--json"]
    one = _single("upscale", str(folder), "-o", str(tmp_path / "one"), *common)
    assert one.returncode == 0, one.stderr
    two = _torchrun("upscale", str(folder), "-o", str(tmp_path / "two"), *common)
    assert two.returncode == 0, two.stderr
    summary = json.loads(two.stdout)  # rank 0 only prints it, for all files
    assert summary["ok"] == n and [f["status"] for f in summary["files"]] == ["ok"] * n
    assert two.stderr.count("ok      ") == n  # each file done by exactly one rank
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    # A relaunch after a crash (outputs of some files missing) does only those.
    for name in names[::3]:
        (tmp_path / "two" / name).unlink()
    again = _torchrun("upscale", str(folder), "-o", str(tmp_path / "two"), *common)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["ok"], summary["skipped"]) == (len(names[::3]), n - len(names[::3]))
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


@pytest.mark.slow
def test_torchrun_bench_table_equals_one_process(tmp_path: Path) -> None:
    hr = tmp_path / "hr"
    hr.mkdir()
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:48, 0:60]
    for i in range(5):
        base = (128 + 100 * np.sin(xx / (3 + i)) * np.cos(yy / 4))[..., None]
        img = np.clip(base + rng.normal(0, 10, (48, 60, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(hr / f"h_{i}.png")
    # DN: the noise generator runs across the images, the case sharding must keep in step.
    common = ["-d", str(hr), "-m", "bicubic", "-s", "2", "-s", "3", "--degradation", "dn",
              "--threads", "1", "--json", "-"]
    one, two = _single("bench", *common), _torchrun("bench", *common)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr

    def scores(text: str) -> list[dict[str, object]]:
        rows = json.loads(text)
        for r in rows:
            for key in ("seconds", "ms_per_image", "mp_per_s"):
                r.pop(key)
            for p in r["per_image"]:
                p.pop("seconds")
        return rows

    assert scores(one.stdout) == scores(two.stdout)
    assert len(scores(two.stdout)[0]["per_image"]) == 5
