"""Claim an output before computing it, so that several processes can share one batch.

`srcli upscale in/ -o out/` started twice (or on two machines sharing the folder) should split
the files, not both do all of them. Before a file is computed its claim `.NAME.lock` is
created beside the output with O_CREAT | O_EXCL, which the filesystem grants to one process
only; the others skip the file. The claim holds "pid host time" and is deleted when the file
is done or fails, even on Ctrl-C. A claim left by a crash is ignored: its process is gone (same
host) or it is older than STALE_AFTER (another host, whose pids we cannot check). Torch-free.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from pathlib import Path

#: A claim older than this is taken over even if its owner cannot be checked (other host).
STALE_AFTER = 6 * 3600.0


def lock_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.lock")


class Claim:
    """An exclusive claim on one output; `release()` (or the context manager) drops it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stat = os.stat(path)

    def release(self) -> None:
        # Only our own file: after a takeover as stale (we were stopped for hours) it is not.
        with contextlib.suppress(OSError):
            st = os.stat(self.path)
            if (st.st_ino, st.st_dev) == (self._stat.st_ino, self._stat.st_dev):
                os.unlink(self.path)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _owner(path: Path) -> tuple[int, str, float] | None:
    """(pid, host, mtime) written in a claim, None if unreadable."""
    try:
        text = path.read_text(encoding="utf-8").split()
        return int(text[0]), text[1], os.stat(path).st_mtime
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    return True


def is_stale(path: Path, *, now: float | None = None) -> bool:
    owner = _owner(path)
    if owner is None:  # being written right now, or garbage: judge by age alone
        with contextlib.suppress(OSError):
            return (now or time.time()) - os.stat(path).st_mtime > STALE_AFTER
        return False
    pid, host, mtime = owner
    if (now or time.time()) - mtime > STALE_AFTER:
        return True
    return host == socket.gethostname() and not _alive(pid)


def _create(path: Path) -> Claim | None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n")
    return Claim(path)


def try_claim(output: Path) -> Claim | None:
    """Claim `output`, or None when another live process holds it. A stale claim is moved
    aside under a name of our own first (rename is atomic: of two processes that both found
    it stale, one moves it and the other finds nothing to move), then claimed afresh."""
    path = lock_path(output)
    claim = _create(path)
    if claim is not None or not is_stale(path):
        return claim
    try:
        stale_ino = os.stat(path).st_ino
        aside = path.with_name(f"{path.name}.{os.getpid()}.stale")
        os.rename(path, aside)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
        return _create(path)  # someone else moved it: race them for the new one
    if os.stat(aside).st_ino != stale_ino:  # a fresh claim was made in between: put it back
        with contextlib.suppress(OSError):
            os.link(aside, path)
        os.unlink(aside)
        return None
    os.unlink(aside)
    return _create(path)
