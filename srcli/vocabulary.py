"""srcli's vocabulary: every name a user can type or a file can hold, defined once.

Torch-, numpy- and OpenCV-free, so the CLI declares its options (and shell completion runs)
without loading anything heavy, and any layer may import it (tests/test_layers.py). The code
that gives these names a meaning lives elsewhere (srcli.imaging.degrade, srcli.inference.engine,
srcli.imaging.io, srcli.data.benchmark, srcli.train); each imports its names from here.
"""

from __future__ import annotations

import re

# ------------------------------------------------------------------ degradations

#: How a low-resolution image was made. bi, bd, dn: the SR literature's test-data recipes
#: (bicubic; blur then downscale; downscale then noise); real: srcli's photo-like mix of blur,
#: bicubic, noise and JPEG (srcli.imaging.degrade).
DEGRADATIONS = ("bi", "bd", "dn", "real")
#: `upscale --degradation auto`: measure each input and pick among the model's weights.
AUTO = "auto"
UPSCALE_DEGRADATIONS = (*DEGRADATIONS, AUTO)
#: Degradations the literature defines at x3 only (the BD/DN benchmark tables).
X3_ONLY_DEGRADATIONS = ("bd", "dn")


def default_scale(degradation: str) -> int:
    """The scale a command uses when none is given: 3 for BD and DN (their benchmarks are x3),
    4 otherwise."""
    return 3 if degradation in X3_ONLY_DEGRADATIONS else 4


# ------------------------------------------------------------------ inference

#: Model arithmetic (`--precision`): auto picks per device and weights (srcli.inference.engine).
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_DEVICE = r"(auto|cpu|mps|cuda(:\d+)?)"
#: Accepted `--device` values: one device.
DEVICE_PATTERN = re.compile(f"^{_DEVICE}$")
DEVICES_TEXT = "auto, cpu, cuda, cuda:N or mps"  # for help and error messages
#: `upscale --device`: one device or a comma list (cuda:0,cuda:1; cpu,cpu), one worker each.
DEVICE_LIST_PATTERN = re.compile(f"^{_DEVICE}(,{_DEVICE})*$")


def split_devices(value: str) -> list[str]:
    """`cuda:0, cuda:1` -> ["cuda:0", "cuda:1"] (lower case, spaces dropped)."""
    return [d for d in "".join(value.lower().split()).split(",") if d]


#: `NAME+` is the papers' notation for a model run with x8 self-ensemble (DAN+, RCAN+).
ENSEMBLE_SUFFIX = "+"


def split_ensemble(name: str) -> tuple[str, bool]:
    """`dan+` -> ("dan", True); `dan` -> ("dan", False)."""
    if name.endswith(ENSEMBLE_SUFFIX):
        return name[: -len(ENSEMBLE_SUFFIX)], True
    return name, False


# ------------------------------------------------------------------ images

#: Output format name -> the suffix srcli writes it with (`--format`).
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tiff": ".tiff", "bmp": ".bmp"}
#: File suffix -> output format, for every suffix srcli can also write (`--format same`).
SUFFIX_FORMATS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".tif": "tiff",
                  ".tiff": "tiff", ".bmp": "bmp"}
#: Suffixes of files read as images in a folder of HR images (benchmark sets, training data):
#: the writable ones plus the Netpbm files some older benchmark copies use.
IMAGE_SUFFIXES = (*SUFFIX_FORMATS, ".ppm", ".pgm")

# ------------------------------------------------------------------ datasets

#: Lower-case name -> folder name of each standard benchmark set (`bench --dataset`).
DATASETS = {"set5": "Set5", "set14": "Set14", "bsd100": "BSD100", "urban100": "Urban100",
            "manga109": "Manga109"}

# ------------------------------------------------------------------ training

#: `train --amp`: none (fp32), bf16 (CUDA, and CPUs with bf16 units), fp16 (CUDA only).
AMP_MODES = ("none", "bf16", "fp16")
#: `train --loss`: l1 (the papers'), l2 (what PSNR measures), l1y (luma L1 + 0.25 x RGB L1).
LOSSES = ("l1", "l2", "l1y")
#: `train --lr-schedule`: step (halve every --decay-epochs), cosine.
LR_SCHEDULES = ("step", "cosine")


def one_of(values: tuple[str, ...] | list[str]) -> str:
    """`a, b or c`, for error messages."""
    *rest, last = values
    return f"{', '.join(rest)} or {last}" if rest else last
