"""`srcli models export`: ONNX files that onnxruntime runs like PyTorch at any input size.

Needs the optional extra `srcli[onnx]` (onnx, onnxruntime); the tests that export skip
without it. The missing-extra error is checked with or without it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from srcli.cli.app import app
from srcli.errors import ConfigError
from srcli.models import create_model
from srcli.models.pretrained import load_model


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _onnxruntime_output(path: Path, x: torch.Tensor) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    return session.run(None, {"input": x.numpy()})[0]


def test_exported_bundled_dan_x2_matches_torch(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    path = tmp_path / "dan_x2.onnx"
    code, out, err = _run("models", "export", "dan", "--scale", "2", "-o", str(path), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["opset"] == 18 and summary["model"] == "dan" and path.is_file()
    assert len(summary["checks"]) == 2
    assert all(c["max_abs_diff"] <= 1e-4 for c in summary["checks"])
    assert "onnxruntime vs PyTorch max |diff|" in err
    # Independently of the command's own check: two other sizes, batch of one and of two.
    model = load_model("dan", 2)
    gen = torch.Generator().manual_seed(5)
    for shape in [(1, 3, 21, 34), (2, 3, 40, 17)]:
        x = torch.rand(*shape, generator=gen)
        with torch.no_grad():
            ref = model(x).numpy()
        got = _onnxruntime_output(path, x)
        assert got.shape == (shape[0], 3, shape[2] * 2, shape[3] * 2)
        assert float(np.abs(got - ref).max()) <= 1e-4


def test_export_with_weights_file_of_a_new_host(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = create_model("oisr-lf-s-bam", 3).eval()  # paper size: the file load is strict
    weights = tmp_path / "oisr.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    path = tmp_path / "oisr.onnx"
    code, _, err = _run("models", "export", "oisr-lf-s-bam", "-s", "3", "--weights",
                        str(weights), "-o", str(path))
    assert code == 0, err
    x = torch.rand(1, 3, 13, 9)
    with torch.no_grad():
        ref = model(x).numpy()
    assert float(np.abs(_onnxruntime_output(path, x) - ref).max()) <= 1e-4


def test_existing_output_is_refused_and_ensemble_names_too(tmp_path: Path) -> None:
    path = tmp_path / "exists.onnx"
    path.write_bytes(b"keep")
    code, _, err = _run("models", "export", "dan", "-s", "2", "-o", str(path))
    assert code == 2 and "--overwrite" in err and path.read_bytes() == b"keep"
    code, _, err = _run("models", "export", "dan+", "-s", "2", "-o", str(tmp_path / "e.onnx"))
    assert code == 2 and "ensemble" in err


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from srcli.export import export_onnx

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if not installed
    with pytest.raises(ConfigError, match=r'pip install "srcli\[onnx\]"'):
        export_onnx(create_model("carn-m", 2, n_feats=8), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())  # nothing half-written
