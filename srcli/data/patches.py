"""Training patches: HR images decoded once, LR made once per image, random aligned crops.

Sampling is a pure function of (seed, rank, iteration): batch i is drawn from
`np.random.default_rng([seed, rank, i])`. Resuming at iteration i therefore needs no sampler
state, each distributed rank sees a distinct stream, and a worker thread can prepare batch
i + 1 while the model trains on batch i.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from srcli.errors import DataError
from srcli.imaging.degrade import add_noise, degrade, degrade_real_patch
from srcli.imaging.resize import imresize
from srcli.vocabulary import IMAGE_SUFFIXES


def find_images(folders: Sequence[str | Path]) -> list[Path]:
    """Every image file under the folders (recursively), sorted for reproducibility."""
    paths: list[Path] = []
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise DataError(f"training data folder not found: {root}")
        paths += [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        raise DataError(f"no images found in {', '.join(map(str, folders))}")
    return sorted(paths)


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


@dataclass
class PatchSet:
    """In-memory (HR, LR) image pairs for one scale and degradation."""

    hr: list[np.ndarray]
    lr: list[np.ndarray]
    scale: int
    degradation: str
    skipped: int  # images smaller than one patch


def build_patch_set(folders: Sequence[str | Path], scale: int, degradation: str,
                    lr_patch: int, scale_aug: Sequence[float] = ()) -> PatchSet:
    """Decode every image once and make its LR with the bench's degradation code.

    `scale_aug` adds, per image, MATLAB-bicubic downscaled copies of the HR image (factors in
    (0, 1), as VDSR's 0.9 ... 0.6): each is a new HR image with denser detail, paired with its
    own LR, so a small pool holds more distinct patches. DN noise is *not* baked in here: it is
    drawn fresh for every patch (see `sample_batch`), so LR for DN is the clean BI image here.
    REAL is made whole per patch from the HR image; its LR list holds the BI images, which
    only give the LR geometry.
    """
    base = "bi" if degradation in ("dn", "real") else degradation
    hrs, lrs, skipped = [], [], 0
    for path in find_images(folders):
        full = load_rgb(path)
        if min(full.shape[:2]) < lr_patch * scale:  # also keeps 1-pixel images from degrade
            skipped += 1 + len(scale_aug)
            continue
        for hr in [full] + [imresize(full, f) for f in scale_aug]:
            if min(hr.shape[:2]) < lr_patch * scale:
                skipped += 1
                continue
            lr = degrade(hr, scale, base)
            if min(lr.shape[:2]) < lr_patch:
                skipped += 1
                continue
            hrs.append(hr[: lr.shape[0] * scale, : lr.shape[1] * scale])
            lrs.append(lr)
    if not hrs:
        raise DataError(f"every training image is smaller than the {lr_patch}px LR patch")
    return PatchSet(hrs, lrs, scale, degradation, skipped)


def _dihedral(x: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 dihedral transforms (k in 0..7: k % 4 quarter turns, k >= 4 adds a flip)."""
    x = np.rot90(x, k % 4, axes=(0, 1))
    return x[:, ::-1] if k >= 4 else x


def sample_batch(ps: PatchSet, batch: int, lr_patch: int, seed: int, rank: int,
                 iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch `iteration` for `rank`: (LR [B,3,p,p], HR [B,3,sp,sp]) float32 in [0, 1]."""
    rng = np.random.default_rng([seed, rank, iteration])
    s, hp = ps.scale, lr_patch * ps.scale
    lrs = np.empty((batch, lr_patch, lr_patch, 3), np.float32)
    hrs = np.empty((batch, hp, hp, 3), np.float32)
    for b in range(batch):
        i = int(rng.integers(len(ps.hr)))
        lr_img, hr_img = ps.lr[i], ps.hr[i]
        y = int(rng.integers(lr_img.shape[0] - lr_patch + 1))
        x = int(rng.integers(lr_img.shape[1] - lr_patch + 1))
        lr = lr_img[y : y + lr_patch, x : x + lr_patch]
        hr = hr_img[y * s : y * s + hp, x * s : x * s + hp]
        if ps.degradation == "dn":
            lr = add_noise(lr, rng)
        elif ps.degradation == "real":  # fresh blur/noise/JPEG draw for every patch
            lr = degrade_real_patch(hr_img, s, y, x, lr_patch, rng)
        k = int(rng.integers(8))
        lrs[b] = _dihedral(lr, k)
        hrs[b] = _dihedral(hr, k)
    to_t = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).div_(255.0).contiguous()  # noqa: E731
    return to_t(lrs), to_t(hrs)


class Prefetcher:
    """Prepares the next batches in a thread so the model never waits for data."""

    def __init__(self, ps: PatchSet, batch: int, lr_patch: int, seed: int, rank: int,
                 start: int, stop: int, depth: int = 3) -> None:
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        args = (ps, batch, lr_patch, seed, rank)
        self._thread = threading.Thread(target=self._run, args=(args, start, stop), daemon=True)
        self._thread.start()

    def _run(self, args: tuple, start: int, stop: int) -> None:
        for it in range(start, stop):
            if self._stop.is_set():
                return
            item = (it, *sample_batch(*args, iteration=it))
            while not self._stop.is_set():
                try:
                    self._q.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        while self._thread.is_alive() or not self._q.empty():
            try:
                yield self._q.get(timeout=0.5)
            except queue.Empty:
                continue

    def close(self) -> None:
        self._stop.set()
