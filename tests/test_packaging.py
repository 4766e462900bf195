"""What the sdist and wheel ship, checked from the sources without building (fast).

scripts/check_dist.sh builds both and checks the artefacts; these catch the usual slips
earlier: a new bundled weight outside the package-data globs, a top-level folder the sdist
forgets, licence metadata drifting back to the deprecated form.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

import srcli

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

PACKAGE = Path(srcli.__file__).resolve().parent


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _manifest_lines() -> list[str]:
    text = (REPO / "MANIFEST.in").read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_licence_is_a_pep639_expression_with_its_file(pyproject: dict[str, Any]) -> None:
    project = pyproject["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    # license-files needs setuptools >= 77; an older backend would reject the metadata.
    found = re.search(r"setuptools>=(\d+)", " ".join(pyproject["build-system"]["requires"]))
    assert found and int(found.group(1)) >= 77
    assert not any(c.startswith("License ::") for c in project["classifiers"]), \
        "PEP 639: a licence classifier next to a licence expression is an error"


def test_index_metadata_says_what_the_package_is(pyproject: dict[str, Any]) -> None:
    project = pyproject["project"]
    classifiers = set(project["classifiers"])
    for needed in ("Topic :: Scientific/Engineering :: Image Processing",
                   "Operating System :: OS Independent", "Environment :: Console"):
        assert needed in classifiers
    minor = int(project["requires-python"].removeprefix(">=3."))
    assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert project["keywords"] and project["authors"]
    assert (REPO / project["readme"]).is_file()


def test_version_is_declared_once(pyproject: dict[str, Any]) -> None:
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    attr = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "srcli.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", srcli.__version__)


def test_changelog_has_unreleased_and_the_current_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text
    assert f"## [{srcli.__version__}]" in text


def test_every_bundled_weight_matches_the_package_data_globs(pyproject: dict[str, Any]) -> None:
    globs = pyproject["tool"]["setuptools"]["package-data"]["srcli"]
    assert any(fnmatch.fnmatch("weights/manifest.json", g) for g in globs)
    manifest = json.loads((PACKAGE / "weights" / "manifest.json").read_text(encoding="utf-8"))
    bundled = [e["bundled"] for e in manifest["weights"] if e.get("bundled")]
    assert bundled, "the manifest names no bundled weights"
    for rel in bundled:
        shipped = f"weights/{rel}"
        sidecar = shipped.rsplit(".", 1)[0] + ".json"
        for path in (shipped, sidecar):
            assert any(fnmatch.fnmatch(path, g) for g in globs), \
                f"{path} is not matched by [tool.setuptools.package-data] {globs}"


def test_sdist_carries_what_the_tests_read_and_no_training_runs() -> None:
    lines = _manifest_lines()
    grafted = {line.split()[1] for line in lines if line.startswith("graft ")}
    assert {"tests", "completions", "docs", "scripts", "examples"} <= grafted
    included = {name for line in lines if line.startswith("include ") for name in line.split()[1:]}
    # test_readme reads .ci/run; test_weights_manifest compares the root manifest copy.
    for name in ("LICENSE", "CHANGELOG.md", "weights_manifest.json", ".ci/run"):
        assert name in included and (REPO / name).is_file(), name
    assert "prune runs" in lines


def test_build_outputs_stay_out_of_git() -> None:
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    for pattern in ("/build/", "/dist/", "*.egg-info/"):
        assert pattern in ignored, pattern
