"""scripts/average_checkpoints.py: the weight mean ("model soup") behind a bundled ×3 file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from conftest import REPO
from safetensors.torch import load_file

from srcli.models import create_model
from srcli.train.config import TrainConfig

TINY = dict(n_feats=8, n_blocks=2, distance=1, reduction=4, image_skip="bicubic")


def _checkpoint(path: Path, seed: int, scale: int = 3) -> dict[str, torch.Tensor]:
    """A training checkpoint of a tiny DAN with random live and EMA weights; returns live."""
    torch.manual_seed(seed)
    cfg = TrainConfig(model="dan", scale=scale, model_config=TINY)
    live = create_model("dan", scale, **TINY).state_dict()
    ema = {k: v + 1.0 if v.is_floating_point() else v for k, v in live.items()}
    torch.save({"model": live, "ema": ema, "optimizer": None, "iteration": 100 * seed,
                "best_psnr": None, "config": cfg.to_dict(), "history": []}, path)
    return live


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "average_checkpoints.py"),
                           *map(str, args)], capture_output=True, text=True)


def test_mean_of_live_and_ema_weights_exports_as_a_loadable_model(tmp_path: Path) -> None:
    a = _checkpoint(tmp_path / "a.pt", seed=1)
    b_live = _checkpoint(tmp_path / "b.pt", seed=2)
    out = tmp_path / "soup" / "ckpt.pt"
    done = _run(tmp_path / "a.pt", f"{tmp_path / 'b.pt'}:ema", "-o", out)
    assert done.returncode == 0, done.stderr
    soup = torch.load(out, weights_only=True)
    assert soup["iteration"] == 200 and soup["ema"] is None
    key = "head.weight"
    expected = (a[key] + b_live[key] + 1.0) / 2  # b's EMA is its live weights + 1
    assert torch.allclose(soup["model"][key], expected, atol=1e-6)
    # The soup is an ordinary checkpoint to `srcli train export`.
    exported = tmp_path / "soup.safetensors"
    subprocess.run([sys.executable, "-m", "srcli", "train", "export", str(out), "-o",
                    str(exported)], check=True, capture_output=True)
    model = create_model("dan", 3, **TINY)
    model.load_state_dict(load_file(exported))
    assert torch.allclose(model.state_dict()[key], expected, atol=1e-6)
    sidecar = json.loads(exported.with_suffix(".json").read_text())
    assert sidecar["training"]["averaged_from"] == [f"{tmp_path / 'a.pt'}:live",
                                                    f"{tmp_path / 'b.pt'}:ema"]


def test_refuses_mismatched_scales_and_an_existing_output(tmp_path: Path) -> None:
    _checkpoint(tmp_path / "a.pt", seed=1, scale=3)
    _checkpoint(tmp_path / "b.pt", seed=2, scale=4)
    bad = _run(tmp_path / "a.pt", tmp_path / "b.pt", "-o", tmp_path / "out.pt")
    assert bad.returncode != 0 and "scale differs" in bad.stderr
    assert not (tmp_path / "out.pt").exists()
    (tmp_path / "keep.pt").write_bytes(b"precious")
    again = _run(tmp_path / "a.pt", tmp_path / "a.pt", "-o", tmp_path / "keep.pt")
    assert again.returncode != 0 and "not overwriting" in again.stderr
    assert (tmp_path / "keep.pt").read_bytes() == b"precious"
