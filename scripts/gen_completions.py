"""Write bash, zsh and fish completion scripts for `srcli` into completions/.

    python scripts/gen_completions.py           # regenerate
    python scripts/gen_completions.py --check   # exit 1 if completions/ is out of date

The scripts are exactly what the app itself emits for `srcli --show-completion SHELL` (the
app is asked in-process through its completion variable `_SRCLI_COMPLETE=source_SHELL`), so
they speak the protocol of the installed Typer: at TAB time they call `srcli` back, which
completes commands, options, choices and model names from the live app. Leading blank lines
are stripped because zsh only autoloads a file whose first line is `#compdef`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "completions"
FILES = {"bash": "srcli.bash", "zsh": "_srcli", "fish": "srcli.fish"}
PROG_NAME = "srcli"
COMPLETE_VAR = "_SRCLI_COMPLETE"


def completion_script(shell: str) -> str:
    """The completion script for `shell`, generated from the srcli Typer app."""
    sys.path.insert(0, str(REPO))
    from typer.testing import CliRunner

    from srcli.cli.app import app

    result = CliRunner().invoke(app, [], env={COMPLETE_VAR: f"source_{shell}"},
                                prog_name=PROG_NAME)
    if result.exit_code != 0 or not result.output.strip():
        raise RuntimeError(f"app produced no {shell} completion script: {result.output!r}")
    return result.output.lstrip("\n").rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for shell, name in FILES.items():
        path = OUT_DIR / name
        text = completion_script(shell)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            OUT_DIR.mkdir(exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(REPO)}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    raise SystemExit(main())
