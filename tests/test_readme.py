"""The README stays true: CI runs its test command verbatim, and its quality figures (and
those of docs/models.md) are the manifest's figures of the bundled weights."""

from __future__ import annotations

import re

import pytest
from conftest import REPO


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick = readme.split("<!-- section:quickstart -->")[1].split("<!-- section:")[0]
    install_and_run, test_cmd = (b.strip() for b in _bash_blocks(quick)[:2])
    assert "srcli upscale examples/example.png" in install_and_run
    assert (REPO / "examples" / "example.png").is_file()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_cmd in ci


def _table(text: str, marker: str) -> list[list[str]]:
    body = text.split(f"<!-- {marker} -->")[1].split(f"<!-- /{marker} -->")[0]
    return [[c.strip().strip("*") for c in line.strip("|").split("|")]
            for line in body.strip().splitlines()[2:]]


def _header(text: str, marker: str) -> list[str]:
    body = text.split(f"<!-- {marker} -->")[1]
    return [c.strip() for c in body.strip().splitlines()[0].strip("|").split("|")]


def _manifest_quality(scale: int, degradation: str, ensemble: bool) -> dict[str, tuple]:
    """{dataset: (psnr, ssim)} the manifest stores for the bundled dan file."""
    from srcli.weights.manifest import load_manifest

    entry = load_manifest().find("dan", scale, degradation)
    assert entry is not None and entry.bundled
    return {q.dataset: (q.psnr, q.ssim) for q in entry.quality
            if ("self-ensemble" in q.source) == ensemble}


def _close(shown: str, stored: float, places: int) -> bool:
    # The README rounds the raw bench figure; the manifest keeps 3-4 places of the same one.
    return abs(float(shown) - stored) <= 0.6 * 10.0 ** -places


SET5_CLEAN = "Set5 without img_005"  # the manifest's name for the 4-image Set5 mean


def test_readme_bi_quality_table_shows_the_bundled_weights_figures() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    header = _header(readme, "quality-table")
    column = {name: header.index(name) for name in ("Set5", "Set14", "BSD100")}
    column[SET5_CLEAN] = header.index("Set5 w/o img_005")
    rows = [r for r in _table(readme, "quality-table") if r[1].startswith("srcli DAN")]
    assert len(rows) == 6
    for row in rows:
        scale, ensemble = int(row[0].lstrip("×")), row[1].startswith("srcli DAN+")
        want = _manifest_quality(scale, "bi", ensemble)
        for dataset in ("Set5", "Set14", "BSD100"):
            assert _close(row[column[dataset]], want[dataset][0], 2), (scale, row[1], dataset)
        # The Set5 caveat's clean figure: measured single-pass only, so DAN+ rows show none.
        shown = row[column[SET5_CLEAN]]
        if ensemble:
            assert shown == "—", (scale, row[1])
        else:
            assert _close(shown, _manifest_quality(scale, "bi", False)[SET5_CLEAN][0], 2), scale


def test_models_doc_bd_dn_table_shows_the_bundled_weights_figures() -> None:
    models_doc = (REPO / "docs" / "models.md").read_text(encoding="utf-8")
    rows = [r for r in _table(models_doc, "quality-table-bd-dn")
            if r[1].startswith("srcli DAN") and "wrong degradation" not in r[1]]
    assert len(rows) == 4
    for deg, label, *cells in rows:
        want = _manifest_quality(3, deg.lower(), label.startswith("srcli DAN+"))
        for dataset, cell in zip(("Set5", "Set14", "BSD100"), cells, strict=True):
            psnr_shown, ssim_shown = (s.strip() for s in cell.split("/"))
            assert _close(psnr_shown, want[dataset][0], 2), (deg, label, dataset)
            assert _close(ssim_shown, want[dataset][1], 4), (deg, label, dataset)


@pytest.mark.parametrize("page", ["README.md", "docs/models.md"])
def test_models_list_snapshot_shows_the_bundled_set5_figures(page: str) -> None:
    text = (REPO / page).read_text(encoding="utf-8")
    snapshot = text.split("$ srcli models list\n")[1].split("```")[0]
    shown = re.findall(r"x(\d) (\d+\.\d\d)\s*$", snapshot, flags=re.M)
    want = [(str(scale), deg) for deg, scales in (("bi", (2, 3, 4)), ("bd", (3,)), ("dn", (3,)))
            for scale in scales]
    assert [s for s, _ in shown] == [s for s, _ in want]
    for (scale, psnr), (_, deg) in zip(shown, want, strict=True):
        assert _close(psnr, _manifest_quality(int(scale), deg, False)["Set5"][0], 2), scale
