"""Usage errors are one line on stderr with exit code 2, like every error a user can cause."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("args", "start"), [
    (["upscale", "--tile", "abc", "in.png"], "error: Invalid value for '--tile' / '-t'"),
    (["bench", "--bogus"], "error: No such option: --bogus"),
    (["train", "--amp", "int8"], "error: Invalid value for '--amp'"),
    (["upscale", "in.png", "-s", "1"], "error: Invalid value for '--scale' / '-s'"),
])
def test_usage_error_is_one_line_with_exit_2(args: list[str], start: str) -> None:
    res = subprocess.run([sys.executable, "-m", "srcli", *args], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), res.stderr
    assert lines[0].endswith(f"(see `srcli {args[0]} --help`)")


def test_a_command_without_arguments_still_shows_its_help() -> None:
    res = subprocess.run([sys.executable, "-m", "srcli", "upscale"], capture_output=True,
                         text=True, timeout=120)
    assert "Usage: srcli upscale" in res.stdout + res.stderr
