"""The 33 super-image golden vectors of the compat kit, copied to `tests/data/compat/golden/`
(their format: `tests/data/compat/README.md`).

`reduced` files carry their weights; `synthetic-full` files carry a closed-form recipe whose
SHA-256 is checked before the forward pass. Every output must match to
max|y − ref| ≤ 1e-5 · max(1, max|ref|), and the stored uint8 image must map to `input`
bit-exactly through srcli's ImageLoader convention.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from safetensors import safe_open

from srcli.models import count_parameters, load_super_image
from srcli.models.super_image import image_to_tensor, tensor_to_uint8

ATOL = 1e-5
REDUCED = ("msrn-bam", "awsrn-bam", "pan-bam", "rcan-bam")
FAMILIES = ("msrn-bam", "mdsr-bam", "awsrn-bam", "carn-bam", "pan-bam", "drln-bam", "rcan-bam")
FILES = sorted(
    [f"{f}_x{s}_synthetic-full" for f in FAMILIES for s in (2, 3, 4)]
    + [f"{f}_x{s}_reduced" for f in REDUCED for s in (2, 3, 4)]
)


def synthetic_weights(table: list[list[Any]]) -> tuple[dict[str, torch.Tensor], str]:
    """The closed-form recipe: w = float32(base + amp·u), u from the fractional part of
    (j+1)·φ' + (i+1)·√2' in float64 (numpy rounds each operation separately, no FMA)."""
    digest = hashlib.sha256()
    weights = {}
    for i, (key, shape, base, amp) in enumerate(table):
        n = int(np.prod(shape, dtype=np.int64))
        t = np.arange(1, n + 1, dtype=np.float64) * 0.6180339887498949
        t = t + (i + 1) * 0.41421356237309503
        u = 2.0 * (t - np.floor(t)) - 1.0
        w = (base + amp * u).astype(np.float32)
        digest.update(w.astype("<f4").tobytes())
        weights[key] = torch.from_numpy(w.reshape(shape))
    return weights, digest.hexdigest()


def read_golden(path: Path) -> dict[str, Any]:
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        data: dict[str, Any] = {"meta": meta, "config": json.loads(meta["config"])}
        for name in ("input", "output", "input_uint8_hwc"):
            data[name] = f.get_tensor(name)
        if meta["kind"] == "reduced":
            stored = f.keys()  # a safe_open handle is not iterable itself
            data["state_dict"] = {k[len("state_dict."):]: f.get_tensor(k) for k in stored
                                  if k.startswith("state_dict.")}
    if meta["kind"] == "synthetic-full":
        data["state_dict"], data["sha256"] = synthetic_weights(json.loads(meta["state_dict_table"]))
    return data


def test_kit_has_exactly_the_33_vectors(compat_dir: Path) -> None:
    assert sorted(p.stem for p in (compat_dir / "golden").glob("*.safetensors")) == FILES


@pytest.mark.parametrize("stem", FILES)
def test_golden_vector(compat_dir: Path, stem: str) -> None:
    g = read_golden(compat_dir / "golden" / f"{stem}.safetensors")
    meta = g["meta"]
    if meta["kind"] == "synthetic-full":
        assert g["sha256"] == meta["weights_sha256_f32le_concat"], "weight generator is wrong"
    model = load_super_image(g["config"], g["state_dict"], int(meta["scale"]))
    assert count_parameters(model) == int(meta["num_parameters"])
    with torch.no_grad():
        y = model(g["input"])
    ref = g["output"]
    assert y.shape == ref.shape
    err = (y - ref).abs().max().item()
    assert err <= ATOL * max(1.0, ref.abs().max().item()), f"{stem}: max|y-ref| = {err:.3g}"


@pytest.mark.parametrize("stem", [f for f in FILES if f.endswith("_x2_reduced")])
def test_image_loader_convention_is_bit_exact(compat_dir: Path, stem: str) -> None:
    g = read_golden(compat_dir / "golden" / f"{stem}.safetensors")
    x = image_to_tensor(g["input_uint8_hwc"].numpy())
    assert x.dtype == torch.float32
    assert torch.equal(x, g["input"])


def test_image_loader_accepts_pil_rgba(compat_dir: Path) -> None:
    from PIL import Image

    g = read_golden(compat_dir / "golden" / "pan-bam_x2_reduced.safetensors")
    rgb = g["input_uint8_hwc"].numpy()
    alpha = np.full(rgb.shape[:2] + (1,), 7, np.uint8)  # alpha is dropped, not composited
    image = Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA")
    assert torch.equal(image_to_tensor(image), g["input"])


def test_data_parallel_checkpoint_reproduces_output(compat_dir: Path) -> None:
    """msrn-bam's hub config says data_parallel: its checkpoint keys start with `module.`."""
    g = read_golden(compat_dir / "golden" / "msrn-bam_x2_reduced.safetensors")
    config = {**g["config"], "data_parallel": True}
    state = {"module." + k: v for k, v in g["state_dict"].items()}
    with torch.no_grad():
        y = load_super_image(config, state, 2)(g["input"])
    assert (y - g["output"]).abs().max().item() <= ATOL


def test_saving_matches_opencv_saturate_cast() -> None:
    """tensor_to_uint8 = super-image's save path for 8-bit files: ×255 in float32, then
    OpenCV's saturate cast (round half to even, clamp)."""
    values = np.array([0.5, 1.5, 2.5, 127.5, 254.5, -3.0, 300.0, 64.49, 64.51], np.float32)
    rng = np.random.default_rng(0)
    hwc = np.concatenate([values, rng.uniform(-20, 280, 27 - values.size).astype(np.float32)])
    hwc = (hwc / np.float32(255.0)).reshape(3, 3, 3)
    ours = tensor_to_uint8(torch.from_numpy(hwc).permute(2, 0, 1)[None])
    scaled = np.ascontiguousarray(hwc * np.float32(255.0))
    ok, png = cv2.imencode(".png", scaled)
    assert ok
    assert np.array_equal(ours, cv2.imdecode(png, cv2.IMREAD_UNCHANGED))
    assert list(tensor_to_uint8(torch.tensor(values[:7] / 255.0).view(1, 7, 1)).ravel()) == [
        0, 2, 2, 128, 254, 0, 255]
