"""The README's two fresh-machine commands stay true: CI runs the test command verbatim."""

from __future__ import annotations

import re

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
