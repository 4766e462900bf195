"""Rich consoles shared by every command: results on stdout, everything else on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

out = Console(highlight=False, soft_wrap=True)
#: Set by the root `--debug` flag: show tracebacks instead of one-line errors.
state = {"debug": False}
err = Console(stderr=True, highlight=False)


def count_progress() -> Progress:
    """The transient "done / total" bar on stderr that bench and upscale share."""
    from rich.progress import (  # imported late: rich.progress is slow to import
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True)
