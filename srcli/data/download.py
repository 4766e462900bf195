"""Benchmark sets from the hub: download through srcli.weights (the only network code) and
unpack safely.

`download_dataset(name, dest)` fetches `data/<Name>_HR.tar.gz` from the hub dataset repo
`eugenesiow/<Name>` into the Hugging Face cache (srcli.weights.hub.fetch, which verifies it)
and unpacks it with `safe_extract`: regular files and folders only, no absolute paths, no
`..`, no links, no devices.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from srcli.errors import DataError, WeightsError
from srcli.vocabulary import DATASETS
from srcli.weights.hub import HubFile, NotCachedError, ProgressFn, fetch

__all__ = ["HUB_SETS", "download_dataset", "safe_extract"]

#: The sets with an archive on the hub, and where: dataset repo and file of a set called Name.
HUB_SETS = ("set5", "set14", "bsd100", "urban100")
HUB_REPO, HUB_FILE = "eugenesiow/{name}", "data/{name}_HR.tar.gz"


def _member_problem(member: tarfile.TarInfo) -> str | None:
    name = member.name
    if not (member.isfile() or member.isdir()):
        kind = ("a symlink" if member.issym() else "a hard link" if member.islnk()
                else "a device file" if member.isdev() else "not a regular file")
        return f"{name!r} is {kind}"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return f"{name!r} is an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return f"{name!r} leaves the destination folder"
    return None


def _relative_parts(members: list[tarfile.TarInfo]) -> list[tuple[str, ...]]:
    """Member paths, minus one top-level folder that all of them share."""
    parts = [tuple(p for p in PurePosixPath(m.name).parts if p not in ("", ".")) for m in members]
    files = [p for p, m in zip(parts, members, strict=True) if m.isfile()]
    tops = {p[0] for p in parts if p}
    if len(tops) == 1 and files and all(len(p) > 1 for p in files):
        parts = [p[1:] for p in parts]
    return parts


def safe_extract(archive: str | Path, dest: str | Path, *, max_bytes: int = 16 << 30) -> Path:
    """Extract a tar(.gz) into `dest` (created; must not exist), refusing anything unsafe.

    Every member is checked before anything is written: only regular files and folders,
    relative paths that stay inside `dest`. One shared top-level folder is dropped, so
    `Set5_HR/img.png` lands at `dest/img.png`. Files are written with plain permissions; tar
    ownership, modes and times are ignored. Extraction goes to a temporary sibling folder
    that is renamed into place at the end, so `dest` is either complete or absent.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            _check_members(members, archive.name, max_bytes)
            tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                _write_members(tar, members, tmp)
                if dest.exists():
                    dest.rmdir()  # only an empty leftover may be replaced
                tmp.rename(dest)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{archive.name} is not a readable tar archive ({exc})") from None
    return dest


def _check_members(members: list[tarfile.TarInfo], archive: str, max_bytes: int) -> None:
    for member in members:
        problem = _member_problem(member)
        if problem:
            raise DataError(f"refusing to extract {archive}: member {problem}")
    if sum(m.size for m in members if m.isfile()) > max_bytes:
        raise DataError(f"refusing to extract {archive}: more than {max_bytes} bytes")


def _write_members(tar: tarfile.TarFile, members: list[tarfile.TarInfo], root: Path) -> None:
    base = root.resolve()
    for member, parts in zip(members, _relative_parts(members), strict=True):
        if not parts:
            continue
        target = root.joinpath(*parts)
        if not target.resolve().is_relative_to(base):  # belt and braces after the name check
            raise DataError(f"refusing to extract member {member.name!r}: outside the folder")
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        if source is None:
            raise DataError(f"cannot read member {member.name!r}")
        with source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)


def download_dataset(name: str, dest: str | Path, *, progress: ProgressFn | None = None) -> Path:
    """`dest/<Name>/HR` holding a benchmark set's HR images, downloaded from the hub if needed.

    `name`: set5, set14, bsd100 or urban100 (any case). Fetches `data/<Name>_HR.tar.gz` from the
    dataset repo `eugenesiow/<Name>` into the HF cache and extracts it safely.
    """
    key = name.lower()
    if key not in HUB_SETS:
        raise DataError(f"no hub download for dataset {name!r}; available: "
                        f"{', '.join(sorted(HUB_SETS))}")
    proper = DATASETS[key]
    target = Path(dest) / proper / "HR"
    if target.is_dir() and any(target.iterdir()):
        return target
    f = HubFile(HUB_REPO.format(name=proper), HUB_FILE.format(name=proper), "main", "dataset")
    try:
        archive = fetch(f, progress=progress)
    except NotCachedError:
        raise DataError(f"dataset {proper} is not downloaded and HF_HUB_OFFLINE is set; fetch it "
                        f"on a connected machine or pass --data-dir with {proper}/HR") from None
    except WeightsError as exc:
        raise DataError(f"dataset {proper}: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    return safe_extract(archive, target)
