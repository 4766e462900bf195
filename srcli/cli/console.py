"""Rich consoles shared by every command: results on stdout, everything else on stderr."""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
#: Set by the root `--debug` flag: show tracebacks instead of one-line errors.
state = {"debug": False}
err = Console(stderr=True, highlight=False)
