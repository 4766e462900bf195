"""The bundled DAN weights: their manifest figures are what `srcli bench` prints for them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from srcli.cli.app import app
from srcli.weights.manifest import load_manifest


def _bundled_dan() -> list:
    return [e for e in load_manifest().entries if e.model == "dan" and e.bundled]


def test_default_model_has_bundled_weights() -> None:
    manifest = load_manifest()
    assert manifest.default_model == "dan"
    assert {e.scale for e in _bundled_dan()} >= {2}


@pytest.mark.parametrize("entry", _bundled_dan(), ids=lambda e: e.tag.replace(" ", "-"))
def test_manifest_set5_figure_is_what_bench_measures(entry, benchmark_dir: Path) -> None:
    # bench picks the weights for its --degradation, so each file is measured as a user would
    want = next(q for q in entry.quality if q.dataset == "Set5"
                and q.degradation == entry.degradation and "ensemble" not in q.source)
    res = CliRunner().invoke(app, ["bench", "-d", "set5", "-m", "dan", "-s", str(entry.scale),
                                   "--degradation", entry.degradation,
                                   "--data-dir", str(benchmark_dir), "--json", "-"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 1 and rows[0]["model"] == "dan"
    assert rows[0]["degradation"] == entry.degradation
    assert rows[0]["psnr"] == pytest.approx(want.psnr, abs=5e-4)
    assert rows[0]["ssim"] == pytest.approx(want.ssim, abs=5e-5)
