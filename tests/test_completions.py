"""completions/ must match what the app generates, and the bash script must really complete."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_up_to_date(
        shell: str, load_script: Callable[[str], ModuleType]) -> None:
    gen = load_script("gen_completions")
    path = gen.OUT_DIR / gen.FILES[shell]
    assert path.is_file(), f"missing {path}; run python scripts/gen_completions.py"
    assert path.read_text() == gen.completion_script(shell), (
        f"{path.name} is out of date; run python scripts/gen_completions.py")


def test_zsh_script_starts_with_compdef() -> None:
    assert (REPO / "completions" / "_srcli").read_text().startswith("#compdef srcli\n")


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completion_completes_options_and_choices(tmp_path: Path) -> None:
    shim = tmp_path / "srcli"  # the script calls `srcli` back: point it at this checkout
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m srcli "$@"\n')
    shim.chmod(0o755)
    script = (
        f"source {REPO / 'completions' / 'srcli.bash'}\n"
        "COMP_WORDS=(srcli upscale --form); COMP_CWORD=2; _srcli_completion srcli\n"
        'echo "options: ${COMPREPLY[*]}"\n'
        "COMP_WORDS=(srcli upscale --format w); COMP_CWORD=3; _srcli_completion srcli\n"
        'echo "formats: ${COMPREPLY[*]}"\n'
    )
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)
    assert "options: --format" in done.stdout, done.stderr
    assert "formats: webp" in done.stdout, done.stderr
