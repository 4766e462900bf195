"""srcli train: schedule, exact resume after SIGKILL, export, and 2-process DDP on CPU."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import BENCHMARK, TRAIN_DATA
from safetensors.torch import load_file

from srcli.data.patches import build_patch_set, find_images, load_rgb
from srcli.imaging.color import rgb_to_y
from srcli.imaging.degrade import degrade
from srcli.imaging.resize import imresize
from srcli.models import create_model
from srcli.train.config import TrainConfig
from srcli.train.losses import luma_l1_loss
from srcli.train.schedule import lr_at

TINY = ["--set", "n_feats=8", "--set", "n_blocks=2", "--set", "distance=1",
        "--set", "reduction=4", "--set", "image_skip=bicubic"]


def test_step_schedule_halves_every_decay_period() -> None:
    cfg = TrainConfig(lr=1e-4, epoch_iters=10, decay_epochs=2, gamma=0.5)
    assert [lr_at(i, cfg) for i in (0, 19, 20, 39, 40)] == [1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5]


def test_cosine_schedule_warms_up_then_decays_to_floor() -> None:
    cfg = TrainConfig(lr=1e-3, lr_schedule="cosine", warmup_iters=10, iters=110, min_lr=1e-6)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx((1e-3 + 1e-6) / 2)
    assert lr_at(110, cfg) == pytest.approx(1e-6)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four real T91 images: enough for patches, quick to degrade."""
    src = TRAIN_DATA / "T91"  # tests/data holds t1, t10, t11 and t12
    dst = tmp_path_factory.mktemp("train_data")
    for p in sorted(src.glob("*.png"))[:4]:
        shutil.copy(p, dst / p.name)
    return dst


@pytest.mark.full_set
def test_the_whole_training_pool_reads_as_documented(shared_datasets: Path) -> None:
    """../shared/datasets/README.md: 470 images in three folders, 302003 (the source photo of
    Set5 img_005) removed, none of the 20 val/ images, every one decodable as RGB."""
    paths = find_images([shared_datasets / "train"])
    counts = {f: sum(p.parent.name == f for p in paths) for f in ("T91", "BSDS200", "BSDS200test")}
    assert counts == {"T91": 91, "BSDS200": 199, "BSDS200test": 180} and len(paths) == 470
    assert all(p.stem != "302003" for p in paths)
    val = {p.stem for p in find_images([shared_datasets / "val"])}
    assert len(val) == 20 and val.isdisjoint(p.stem for p in paths)
    for path in paths:
        rgb = load_rgb(path)
        assert rgb.dtype == np.uint8 and rgb.shape[2] == 3 and min(rgb.shape[:2]) >= 78, path


def _cmd(data: Path, out: Path, iters: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "srcli", "train", "--model", "dan", "--scale", "2", *TINY,
            "--data", str(data), "--patch", "16", "--batch", "4", "--iters", str(iters),
            "--lr", "1e-3", "--lr-schedule", "cosine", "--warmup", "5", "--ema", "0.9",
            "--val", "", "--log-every", "1", "--threads", "1", "--out", str(out), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "SRCLI_DATA": str(BENCHMARK)}


def _losses(run: Path) -> dict[int, float]:
    losses: dict[int, float] = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "last_loss" in rec:
            losses[rec["iter"]] = rec["last_loss"]  # a resumed run overwrites replayed iters
    return losses


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(small_data: Path, tmp_path: Path) -> None:
    total = 45
    ref = tmp_path / "ref"
    subprocess.run(_cmd(small_data, ref, total, "--ckpt-every", "1000"), env=_env(), check=True,
                   capture_output=True)
    run = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(small_data, run, total, "--ckpt-every", "10"), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(run.glob("ckpt_*.pt")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed_at = max(int(p.stem.split("_")[1]) for p in run.glob("ckpt_*.pt"))
    assert resumed_at <= total - 20
    subprocess.run(_cmd(small_data, run, total, "--ckpt-every", "10", "--resume", str(run)),
                   env=_env(), check=True, capture_output=True)
    want, got = _losses(ref), _losses(run)
    for it in range(resumed_at + 1, resumed_at + 21):
        assert got[it] == pytest.approx(want[it], abs=1e-5), it


def test_train_export_writes_loadable_weights_and_sidecar(small_data: Path,
                                                           tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from srcli.cli.app import app

    run = tmp_path / "run"
    args = _cmd(small_data, run, 6, "--ckpt-every", "3")[3:]
    runner = CliRunner()
    res = runner.invoke(app, args, env={"SRCLI_DATA": str(BENCHMARK)})
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in run.glob("ckpt_*.pt")) == ["ckpt_00000003.pt",
                                                             "ckpt_00000006.pt"]
    out = tmp_path / "dan_x2.safetensors"
    res = runner.invoke(app, ["train", "export", str(run), "-o", str(out), "--fp16"])
    assert res.exit_code == 0, res.output
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["architecture"] == "dan" and side["scale"] == 2
    assert side["training"]["iterations"] == 6 and side["weights"] == "ema"
    # the recipe levers that differ between bundled files' last cycles are on record
    assert side["training"]["loss"] == "l1" and side["training"]["scale_aug"] == []
    tensors = load_file(str(out))
    assert all(t.dtype == torch.float16 for t in tensors.values())
    model = create_model("dan", 2, **side["config"])
    model.load_state_dict({k: v.float() for k, v in tensors.items()})


def test_resume_takes_horizon_and_layout_from_command_line_recipe_from_checkpoint(
        small_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    subprocess.run(_cmd(small_data, run, 4, "--ckpt-every", "4"), env=_env(), check=True,
                   capture_output=True)
    # A different --lr on resume must not change the recipe; the horizon and layout may change.
    cmd = _cmd(small_data, run, 6, "--ckpt-every", "2", "--channels-last", "--resume", "auto")
    cmd[cmd.index("--lr") + 1] = "5e-2"
    subprocess.run(cmd, env=_env(), check=True, capture_output=True)
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["iters"], cfg["channels_last"], cfg["lr"]) == (6, True, 1e-3)
    assert sorted(_losses(run)) == [1, 2, 3, 4, 5, 6]


def test_ema_of_an_init_from_run_starts_from_the_loaded_weights(tmp_path: Path) -> None:
    from srcli.train.loop import NullReporter, build_state

    cfg = TrainConfig(model="dan", scale=2, model_config=dict(
        n_feats=8, n_blocks=2, distance=1, reduction=4, image_skip="bicubic"), ema=0.999)
    donor = create_model("dan", 2, **cfg.model_config)
    for t in donor.parameters():
        torch.nn.init.normal_(t)
    torch.save(donor.state_dict(), tmp_path / "donor.pt")
    cfg.init_from = str(tmp_path / "donor.pt")
    state = build_state(cfg, torch.device("cpu"), None, NullReporter())
    assert state.ema is not None
    for k, v in donor.state_dict().items():
        assert torch.equal(state.ema[k], v), k  # not the random init the model started with


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_init_grow_widens_dan_without_changing_its_output(scale: int, tmp_path: Path) -> None:
    from srcli.train.surgery import init_from

    narrow_cfg = dict(n_feats=8, n_blocks=3, distance=1, reduction=4, image_skip="bicubic")
    torch.manual_seed(0)
    narrow = create_model("dan", scale, **narrow_cfg).eval()
    for t in narrow.parameters():  # trained-looking weights: the zero-init tail is not zero
        torch.nn.init.normal_(t, std=0.2)
    torch.save(narrow.state_dict(), tmp_path / "narrow.pt")
    wide = create_model("dan", scale, **{**narrow_cfg, "n_feats": 12}).eval()
    report = init_from(wide, str(tmp_path / "narrow.pt"), grow=True)
    assert report["skipped"] == [] and report["unused"] == []
    x = torch.rand(2, 3, 20, 20)
    with torch.no_grad():
        assert torch.allclose(wide(x), narrow(x), atol=1e-5)
    # ...and the new channels are live: training can use them.
    assert wide.head.weight[8:].abs().sum() > 0


def test_init_grow_deepens_dan_with_identity_blocks(tmp_path: Path) -> None:
    from srcli.train.surgery import init_from

    shallow_cfg = dict(n_feats=8, n_blocks=3, distance=2, reduction=4, image_skip="bicubic")
    torch.manual_seed(0)
    shallow = create_model("dan", 3, **shallow_cfg).eval()
    for t in shallow.parameters():
        torch.nn.init.normal_(t, std=0.2)
    torch.save(shallow.state_dict(), tmp_path / "shallow.pt")
    deep = create_model("dan", 3, **{**shallow_cfg, "n_blocks": 5, "n_feats": 12}).eval()
    report = init_from(deep, str(tmp_path / "shallow.pt"), grow=True)
    assert report["identity"] == ["blocks.3", "blocks.4"]
    assert report["unused"] == [] and all(k.startswith(("blocks.3.", "blocks.4."))
                                          for k in report["skipped"])
    x = torch.rand(2, 3, 20, 20)
    with torch.no_grad():
        assert torch.allclose(deep(x), shallow(x), atol=1e-5)
    # The new blocks are trainable from there: their last conv gets a gradient.
    deep.train()
    (deep(x) - 0.5).pow(2).mean().backward()
    assert deep.blocks[4].body[-1].weight.grad.abs().sum() > 0


def test_train_rejects_bad_degradation_in_one_line(small_data: Path, tmp_path: Path) -> None:
    res = subprocess.run(_cmd(small_data, tmp_path / "r", 2, "--degradation", "bd"),
                         env=_env(), capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "error: BD and DN degradations are defined for scale 3 only"]


def test_scale_aug_adds_each_image_downscaled_with_its_own_lr(small_data: Path) -> None:
    plain = build_patch_set([small_data], 2, "bi", 16)
    aug = build_patch_set([small_data], 2, "bi", 16, scale_aug=[0.5])
    assert len(aug.hr) == 2 * len(plain.hr) and plain.skipped == aug.skipped == 0
    for i, path in enumerate(sorted(small_data.glob("*.png"))):
        assert np.array_equal(aug.hr[2 * i], plain.hr[i])
        small = imresize(load_rgb(path), 0.5)  # MATLAB bicubic, as the bench's LR
        lr = degrade(small, 2, "bi")
        assert np.array_equal(aug.lr[2 * i + 1], lr)
        assert np.array_equal(aug.hr[2 * i + 1], small[: lr.shape[0] * 2, : lr.shape[1] * 2])


def test_scale_aug_is_recorded_and_bad_factors_are_one_line_errors(small_data: Path,
                                                                  tmp_path: Path) -> None:
    run = tmp_path / "ok"
    res = subprocess.run(_cmd(small_data, run, 1, "--scale-aug", "0.9,0.5"), env=_env(),
                         check=True, capture_output=True, text=True)
    assert json.loads((run / "config.json").read_text())["scale_aug"] == [0.9, 0.5]
    assert "12 images" in " ".join(res.stderr.split())  # 4 images, at 1.0, 0.9 and 0.5
    for arg, msg in [("1.5", "--scale-aug factors must be in (0, 1), not 1.5"),
                     ("0.9;0.8", "--scale-aug expects comma-separated factors such as "
                                 "0.9,0.8, got '0.9;0.8'")]:
        res = subprocess.run(_cmd(small_data, tmp_path / "bad", 1, "--scale-aug", arg),
                             env=_env(), capture_output=True, text=True)
        assert res.returncode == 1
        assert res.stderr.strip().splitlines() == [f"error: {msg}"]


def test_l2_loss_scores_the_same_first_batch_by_its_mean_squared_error(
        small_data: Path, tmp_path: Path) -> None:
    # Same seed -> same first batch and weights, so the two first-step losses are the mean
    # absolute and the mean squared error of one residual r in [0, 1]: mean(r)² <= mean(r²)
    # (Jensen) and r² <= |r|.
    first = {}
    for loss in ("l1", "l2"):
        run = tmp_path / loss
        subprocess.run(_cmd(small_data, run, 1, "--loss", loss), env=_env(), check=True,
                       capture_output=True)
        first[loss] = _losses(run)[1]
        assert json.loads((run / "config.json").read_text())["loss"] == loss
    assert first["l1"] ** 2 <= first["l2"] < first["l1"]


def test_l1y_loss_is_the_metrics_luma_error_plus_a_quarter_of_the_rgb_error() -> None:
    # A real bicubic ×3 estimate of a Set5 image against its HR: the luma term must be the
    # one srcli's metric scores (MATLAB rgb2ycbcr Y), not some other BT.601 variant.
    hr = load_rgb(BENCHMARK / "Set5" / "HR" / "img_003.png")
    lr = load_rgb(BENCHMARK / "Set5" / "LR_bicubic" / "X3" / "img_003.png")
    h, w = lr.shape[0] * 3, lr.shape[1] * 3
    hr, sr = hr[:h, :w], np.clip(imresize(lr, 3.0), 0, 255)
    y_err = np.abs(rgb_to_y(sr) - rgb_to_y(hr)).mean() / 255.0
    rgb_err = np.abs(sr.astype(np.float64) - hr).mean() / 255.0

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float64) / 255.0).permute(2, 0, 1)[None]

    got = float(luma_l1_loss(tensor(sr), tensor(hr)))
    assert got == pytest.approx(y_err + 0.25 * rgb_err, rel=1e-9)
    assert 0.0 < y_err < rgb_err  # the luma weights sum to 0.86, so its error is smaller


def test_train_rejects_an_unknown_loss_as_a_usage_error(small_data: Path, tmp_path: Path) -> None:
    res = subprocess.run(_cmd(small_data, tmp_path / "r", 2, "--loss", "huber"),
                         env={**_env(), "COLUMNS": "200"}, capture_output=True, text=True)
    assert res.returncode == 2
    assert "Invalid value for '--loss'" in res.stderr and "'l1', 'l2', 'l1y'" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_torchrun_two_cpu_processes_keep_identical_replicas(small_data: Path,
                                                             tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29517", "-m", "srcli", *_cmd(small_data, run, 5, "--ckpt-every",
                                                          "5")[3:]]
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert records[-1] == {"iter": 5, "world": 2, "replicas_in_sync": True}
    assert (run / "ckpt_00000005.pt").is_file()


def test_init_from_copies_matching_tensors_and_reports_the_rest(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from srcli.train.surgery import init_from

    cfg = {"n_feats": 8, "n_blocks": 2, "distance": 1, "reduction": 4}
    src = create_model("dan", 2, **cfg)
    path = tmp_path / "x2.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    dst = create_model("dan", 4, **cfg)
    report = init_from(dst, str(path))
    # x4 = two x2 stages: the first stage's shapes match, the second stage is new.
    assert report["skipped"] == ["upsample.2.bias", "upsample.2.weight"]
    assert report["unused"] == []
    assert torch.equal(dst.state_dict()["head.weight"], src.state_dict()["head.weight"])
