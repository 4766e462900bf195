"""Evaluate models on benchmark sets the way the SR literature does; returns rows, prints nothing.

Per (dataset, scale, model) the pipeline is:

1. HR image as stored (uint8/uint16; grayscale stays single-channel), modcropped to the scale.
2. LR made from it by `degrade` (BI: MATLAB-exact bicubic; BD; DN with a fixed seed per set;
   REAL with a generator seeded by (seed, scale, image name), so an image's LR does not depend
   on which other images run), once per image and scale, shared by every model so they all
   see identical inputs.
3. The model runs through the inference engine (tiling, device, x8 ensemble). A grayscale LR
   is given to the model as three equal channels and the output's channel mean is scored.
4. The output is clamped and rounded to the image's bit depth, then scored with
   `metrics.psnr`/`metrics.ssim` (Y channel, `scale` pixels cropped from every border).

Timings cover only the model (engine) call: they are what `ms/image` and output MP/s report.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from srcli.data.benchmark import BenchImage, dataset_label, list_images, load_image, resolve_dataset
from srcli.errors import ConfigError, SrcliError, WeightsError
from srcli.imaging.color import rgb_to_y, to_float255
from srcli.imaging.degrade import degrade
from srcli.imaging.io import ImageData, write_image
from srcli.imaging.resize import imresize, modcrop
from srcli.inference.engine import EngineOptions, Upscaler
from srcli.inference.shard import Shard, gather
from srcli.metrics import psnr, ssim
from srcli.models import count_parameters, get_spec
from srcli.vocabulary import DEGRADATIONS, split_ensemble

#: Called after every model evaluation: (done, total, description).
Progress = Callable[[int, int, str], None]
BASELINE = "bicubic"


@dataclass
class ImageResult:
    image: str
    psnr: float
    ssim: float
    seconds: float


@dataclass
class BenchRow:
    """One (dataset, scale, degradation, model) cell; `as_dict()` is the JSON object."""

    dataset: str
    scale: int
    degradation: str
    model: str
    params: int
    psnr: float = math.nan
    ssim: float = math.nan
    images: int = 0
    seconds: float = 0.0  # model time summed over the images
    ms_per_image: float = math.nan
    mp_per_s: float = math.nan  # output megapixels per second of model time
    metric: str = "y"  # "y" (Y channel) or "rgb"
    crop: int = 0
    ensemble: bool = False
    device: str = "cpu"
    precision: str = "fp32"
    per_image: list[ImageResult] = field(default_factory=list)
    output_pixels: int = 0

    def finish(self) -> None:
        n = len(self.per_image)
        self.images = n
        if n:
            self.psnr = float(np.mean([r.psnr for r in self.per_image]))
            self.ssim = float(np.mean([r.ssim for r in self.per_image]))
            self.seconds = float(sum(r.seconds for r in self.per_image))
            self.ms_per_image = 1000.0 * self.seconds / n
            self.mp_per_s = self.output_pixels / 1e6 / self.seconds if self.seconds else math.inf

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        del d["output_pixels"]
        return d


@dataclass(frozen=True)
class BenchOptions:
    degradation: str = "bi"
    y_channel: bool = True  # False: RGB-PSNR/SSIM over the three channels
    limit: int | None = None  # first N images of each set
    seed: int = 0  # DN noise seed (per dataset and scale); REAL: per image, see image_rng
    device: str = "auto"
    ensemble: bool = False
    tile: int | str = 0  # whole image, as papers evaluate (the engine still halves on OOM)
    #: fp32 by default: published scores are fp32, and a benchmark must not change with the
    #: CPU it runs on; bf16/fp16/auto measure what reduced precision costs.
    precision: str = "fp32"
    threads: int | None = None
    save_images: Path | None = None  # SR outputs: <dir>/<set>/x<s>_<deg>/<model>/<img>.png
    visuals: Path | None = None  # comparison crops: <dir>/<set>/x<s>_<deg>/<img>.png


# --------------------------------------------------------------------------- models


ModelTable = Mapping[str, Mapping[int, nn.Module]]


def load_models(names: Sequence[str], scales: Sequence[int],
                weights: Mapping[str, str | Path] | None = None, *, degradation: str = "bi",
                on_fallback: Callable[[str], None] | None = None
                ) -> dict[str, dict[int, nn.Module]]:
    """{name: {scale: model}} with the pretrained weights for `degradation`, `weights`
    overriding some models' weights; raises the first WeightsError/UnknownModelError.

    With `on_fallback`, a model that has no weights for a BD/DN `degradation` is measured with
    its BI weights instead (how robust is a BI model to blur or noise?), and `on_fallback`
    gets a one-line note saying so."""
    from srcli.models.pretrained import load_model
    from srcli.weights import load_manifest

    weights = weights or {}
    table: dict[str, dict[int, nn.Module]] = {}
    for name in names:
        table[name] = {}
        for s in scales:
            try:
                table[name][s] = load_model(name, s, weights.get(name), degradation=degradation)
            except WeightsError:
                # fall back only when such weights do not exist, never over a damaged file
                if on_fallback is None or degradation == "bi" or name in weights:
                    raise  # (spandrel, not a registered name, always has explicit weights)
                if load_manifest().find(get_spec(split_ensemble(name)[0]).name, s, degradation):
                    raise
                table[name][s] = load_model(name, s)
                on_fallback(f"{name} x{s} has no {degradation.upper()} weights; measuring its "
                            "BI weights on these inputs")
    return table


# --------------------------------------------------------------------------- running


def _as_model_input(lr: np.ndarray) -> np.ndarray:
    """Integer LR -> H×W×3 float32 in [0, 1] (gray replicated)."""
    top = 65535.0 if lr.dtype == np.uint16 else 255.0
    x = lr.astype(np.float32) / np.float32(top)
    return np.repeat(x[..., None], 3, axis=2) if x.ndim == 2 else x


def _to_stored(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Engine output -> the HR's integer type, clamped and rounded (gray: channel mean)."""
    if like.ndim == 2:
        out = out.mean(axis=2)
    top = 65535.0 if like.dtype == np.uint16 else 255.0
    return np.floor(np.clip(out.astype(np.float64), 0.0, 1.0) * top + 0.5).astype(like.dtype)


@dataclass
class _Dataset:
    label: str
    paths: list[Path]


def _resolve(datasets: Sequence[str | Path], data_dir: str | Path | None,
             limit: int | None) -> list[_Dataset]:
    out = []
    for spec in datasets:
        folder = resolve_dataset(spec, data_dir)
        out.append(_Dataset(dataset_label(spec), list_images(folder)[: limit or None]))
    return out


def _check(scales: Sequence[int], opts: BenchOptions) -> None:
    if opts.degradation not in DEGRADATIONS:
        raise ConfigError(f"unknown degradation {opts.degradation!r} "
                          f"(use {', '.join(DEGRADATIONS)})")
    if not scales or any(s < 2 for s in scales):
        raise ConfigError("scales must be integers >= 2")
    if opts.limit is not None and opts.limit < 1:
        raise ConfigError("--limit must be at least 1")


def evaluate(datasets: Sequence[str | Path], models: Sequence[str] | ModelTable,
             scales: Sequence[int], options: BenchOptions | None = None, *,
             data_dir: str | Path | None = None, progress: Progress | None = None,
             on_error: Callable[[Path, str], None] | None = None,
             shard: Shard | None = None) -> list[BenchRow]:
    """Score every model on every dataset at every scale; rows in (dataset, scale, model)
    order. `models` are names (loaded here) or an already loaded {name: {scale: model}}.
    With `on_error`, an image that cannot be read is reported there and left out of the
    scores (without it, it raises).

    With a `shard` of several processes, each scores images r, r + world, ... of every set,
    and rank 0 gathers the per-image scores in set order, so its rows equal one process's
    to the last digit (other ranks return [])."""
    opts = options or BenchOptions()
    shard = shard or Shard()
    _check(scales, opts)
    sets = _resolve(datasets, data_dir, opts.limit)
    table = (models if isinstance(models, Mapping)
             else load_models(list(models), scales, degradation=opts.degradation))
    engines = {(name, s): Upscaler(table[name][s], EngineOptions(
        device=opts.device, precision=opts.precision, tile=opts.tile,
        ensemble=opts.ensemble or split_ensemble(name)[1], threads=opts.threads))
        for name in table for s in scales}
    total = sum(len(d.paths) for d in sets) * len(scales) * len(table)
    done = 0
    rows: list[BenchRow] = []
    for ds in sets:
        cells = {(s, name): BenchRow(
            ds.label, s, opts.degradation, name, count_parameters(table[name][s]),
            metric="y" if opts.y_channel else "rgb", crop=s, ensemble=engines[(name, s)].ensemble,
            device=str(engines[(name, s)].device),
            precision=engines[(name, s)].precision) for s in scales for name in table}
        rngs = {s: np.random.default_rng(opts.seed) for s in scales}
        scored: dict[tuple[int, str], list[tuple[int, ImageResult, int]]] = {
            key: [] for key in cells}
        for index, path in enumerate(ds.paths):
            if index % shard.world != shard.rank:  # another rank scores it
                _skip(path, scales, opts, rngs)
                done += len(scales) * len(table)
                continue
            try:
                img = load_image(path)
            except (SrcliError, OSError) as exc:
                if on_error is None:
                    raise
                on_error(path, str(exc))
                done += len(scales) * len(table)
                continue
            for s in scales:
                rng = image_rng(opts.seed, s, img.name) if opts.degradation == "real" else rngs[s]
                lr = degrade(img.pixels, s, opts.degradation, rng)
                hr = modcrop(img.pixels, s)[: lr.shape[0] * s, : lr.shape[1] * s]
                outputs: dict[str, tuple[np.ndarray, float]] = {}
                for name in table:
                    sr, result = _run_one(engines[(name, s)], lr, hr, img.name, s, opts)
                    scored[(s, name)].append((index, result, hr.shape[0] * hr.shape[1]))
                    outputs[name] = (sr, result.psnr)
                    done += 1
                    if progress is not None:
                        progress(done, total, f"{ds.label} x{s} {name} {img.name}")
                _write_extras(ds.label, img, s, lr, hr, outputs, opts)
        parts = gather(shard, scored)
        if parts is None:
            continue  # rank 0 keeps the rows
        for key, cell in cells.items():
            for _, result, pixels in sorted((x for part in parts for x in part[key]),
                                            key=lambda x: x[0]):
                cell.per_image.append(result)
                cell.output_pixels += pixels
        for s in scales:
            for name in table:
                cells[(s, name)].finish()
                rows.append(cells[(s, name)])
    return rows


def _skip(path: Path, scales: Sequence[int], opts: BenchOptions,
          rngs: dict[int, np.random.Generator]) -> None:
    """An image another rank scores: DN noise comes from one generator per set and scale, so
    draw this image's noise anyway (discarded) to keep the next image's equal to one
    process's. Other degradations draw nothing from it (REAL seeds per image)."""
    if opts.degradation != "dn":  # the only one drawing from the set's generator
        return
    try:
        img = load_image(path)
    except (SrcliError, OSError):
        return
    for s in scales:
        degrade(img.pixels, s, opts.degradation, rngs[s])


def image_rng(seed: int, scale: int, name: str) -> np.random.Generator:
    """The REAL degradation's generator for one image: fixed by (seed, scale, name)."""
    return np.random.default_rng([seed, scale, zlib.crc32(name.encode())])


def _run_one(engine: Upscaler, lr: np.ndarray, hr: np.ndarray, name: str, scale: int,
             opts: BenchOptions) -> tuple[np.ndarray, ImageResult]:
    x = _as_model_input(lr)
    t0 = time.perf_counter()
    out = engine.upscale(x)
    seconds = time.perf_counter() - t0
    sr = _to_stored(out, hr)
    p = psnr(sr, hr, crop=scale, y_channel=opts.y_channel)
    q = ssim(sr, hr, crop=scale, y_channel=opts.y_channel)
    return sr, ImageResult(name, p, q, seconds)


# --------------------------------------------------------------------------- outputs


def _image_data(pixels: np.ndarray) -> ImageData:
    top = 65535.0 if pixels.dtype == np.uint16 else 255.0
    return ImageData(pixels=(pixels.astype(np.float32) / np.float32(top)),
                     bit_depth=16 if pixels.dtype == np.uint16 else 8)


def _write_extras(label: str, img: BenchImage, scale: int, lr: np.ndarray, hr: np.ndarray,
                  outputs: Mapping[str, tuple[np.ndarray, float]], opts: BenchOptions) -> None:
    sub = Path(label) / f"x{scale}_{opts.degradation}"
    if opts.save_images is not None:
        for name, (sr, _) in outputs.items():
            folder = opts.save_images / sub / name
            folder.mkdir(parents=True, exist_ok=True)
            write_image(folder / f"{img.name}.png", _image_data(sr), overwrite=True)
    if opts.visuals is not None:
        panels = [("HR", hr, None)]
        if BASELINE not in outputs:
            base = imresize(lr, float(scale))
            panels.append(("Bicubic", base, psnr(base, hr, scale, opts.y_channel)))
        panels += [(_pretty(n), sr, p) for n, (sr, p) in outputs.items()]
        folder = opts.visuals / sub
        folder.mkdir(parents=True, exist_ok=True)
        title = f"{label} {img.name}  x{scale} {opts.degradation.upper()}"
        comparison(panels, title, margin=scale).save(folder / f"{img.name}.png")


def _pretty(name: str) -> str:
    return "Bicubic" if name == BASELINE else name


# --------------------------------------------------------------------------- visuals

PANEL = 192  # side of each zoomed crop in the comparison figure, pixels
Panel = tuple[str, np.ndarray, float | None]  # (label, image as stored, PSNR or None)


def pick_crop(hr: np.ndarray, margin: int) -> tuple[int, int, int]:
    """(y, x, side) of the HR square with the most detail (largest gradient energy), the
    region where SR methods differ visibly, away from the cropped scoring border."""
    h, w = hr.shape[:2]
    side = int(np.clip(min(h, w) // 4, 16, 128))
    lum = rgb_to_y(hr) if hr.ndim == 3 else to_float255(hr)
    gy, gx = np.gradient(lum)
    energy = cv2.boxFilter(np.hypot(gx, gy), -1, (side, side), normalize=False,
                           borderType=cv2.BORDER_CONSTANT)
    half = side // 2
    lo_y, hi_y = margin + half, max(margin + half, h - margin - (side - half))
    lo_x, hi_x = margin + half, max(margin + half, w - margin - (side - half))
    inner = energy[lo_y : hi_y + 1, lo_x : hi_x + 1]
    cy, cx = np.unravel_index(int(np.argmax(inner)), inner.shape)
    y0 = int(np.clip(cy + lo_y - half, 0, max(h - side, 0)))
    x0 = int(np.clip(cx + lo_x - half, 0, max(w - side, 0)))
    return y0, x0, side


def _display(img: np.ndarray) -> Image.Image:
    """Stored pixels -> 8-bit RGB Pillow image for the figure."""
    x = img if img.dtype == np.uint8 else np.floor(img / 257.0 + 0.5).astype(np.uint8)
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(x[..., :3]))


def comparison(panels: Sequence[Panel], title: str, margin: int = 0) -> Image.Image:
    """Side-by-side figure: HR with the crop outlined, then the same zoomed crop from every
    panel labelled with its PSNR (like Figure 2 of the DAN paper)."""
    hr = panels[0][1]
    y0, x0, side = pick_crop(hr, margin)
    font = ImageFont.load_default(size=14)
    pad, label_h, title_h = 6, 22, 24
    full = _display(hr)
    thumb_w = max(1, round(full.width * PANEL / full.height))
    thumb = full.resize((thumb_w, PANEL), Image.Resampling.LANCZOS)
    k = PANEL / full.height
    ImageDraw.Draw(thumb).rectangle(
        [x0 * k, y0 * k, (x0 + side) * k - 1, (y0 + side) * k - 1], outline=(255, 0, 0), width=2)
    width = pad + thumb_w + len(panels) * (PANEL + pad) + pad
    canvas = Image.new("RGB", (width, title_h + PANEL + label_h + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 4), title, fill=(0, 0, 0), font=font)
    canvas.paste(thumb, (pad, title_h))
    x = 2 * pad + thumb_w
    for label, img, value in panels:
        crop = _display(img[y0 : y0 + side, x0 : x0 + side])
        canvas.paste(crop.resize((PANEL, PANEL), Image.Resampling.NEAREST), (x, title_h))
        text = label if value is None else f"{label} {value:.2f} dB"
        draw.text((x + 2, title_h + PANEL + 3), text, fill=(0, 0, 0), font=font)
        x += PANEL + pad
    return canvas
