"""Options shared by several commands, declared once: the same flags, validation and help text
in `upscale`, `bench` and `train` (tests/test_cli_options.py keeps it so).

Short flags follow realesrgan-ncnn-vulkan's where they mean the same thing (`-o`, `-s`, `-t`,
`-f`, `-g` for the device); its `-n` (model name) is not adopted because srcli's model flag is
`-m`, and `--degradation` has no short flag, since `-d` is `bench --dataset`. docs/upscale.md
has the table. Choices come from srcli.vocabulary, so a name is defined in one place.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from srcli.vocabulary import (
    AMP_MODES,
    DEGRADATIONS,
    DEVICE_LIST_PATTERN,
    DEVICES_TEXT,
    ENSEMBLE_SUFFIX,
    LOSSES,
    LR_SCHEDULES,
    OUTPUT_FORMATS,
    PRECISIONS,
    UPSCALE_DEGRADATIONS,
    split_devices,
)


def _choices(name: str, values: tuple[str, ...] | list[str]) -> Any:
    """A str Enum whose members are `values` (Typer shows and checks them as choices)."""
    return Enum(name, {v: v for v in values}, type=str)


Degradation = _choices("Degradation", DEGRADATIONS)
#: `upscale`'s choices: a family of weights, or auto (measure each input and pick).
UpscaleDegradation = _choices("UpscaleDegradation", UPSCALE_DEGRADATIONS)
Precision = _choices("Precision", PRECISIONS)
OutputFormat = _choices("OutputFormat", [*OUTPUT_FORMATS, "same"])
AmpMode = _choices("AmpMode", AMP_MODES)
Loss = _choices("Loss", LOSSES)
LrSchedule = _choices("LrSchedule", LR_SCHEDULES)


# ------------------------------------------------------------------ checks


def check_device(value: str) -> str:
    """One device, or a comma list of them (`upscale` runs a worker per device; bench and
    train take one, see one_device)."""
    value = ",".join(split_devices(value))
    if not DEVICE_LIST_PATTERN.match(value):
        raise typer.BadParameter(f"expected {DEVICES_TEXT}, or a comma list of them")
    return value


def one_device(value: str, command: str) -> str:
    """`--device` of a command that runs on one device: a list is a usage error (exit 2)."""
    if "," in value:
        raise typer.BadParameter(f"srcli {command} runs on one device, not {value}; several "
                                 "devices: srcli upscale, or torchrun (docs/scale.md)",
                                 param_hint="'-g' / '--device'")
    return value


def check_tile(value: str) -> str:
    value = value.strip().lower()
    if value != "auto" and not value.isdigit():
        raise typer.BadParameter("expected a number of LR pixels, 0 (whole image) or auto")
    return value


def complete_model(incomplete: str) -> list[str]:
    # The registry is the set of architecture modules, so this one completion imports torch.
    from srcli.models import list_models

    names = list_models()
    names += [f"{n}{ENSEMBLE_SUFFIX}" for n in names if n.startswith("dan")]
    return [n for n in names if n.startswith(incomplete)]


# ------------------------------------------------------------------ shared help text

#: The part of each shared option's help that every command repeats word for word; a command
#: may add a sentence about its own default (tests/test_cli_options.py checks both).
DEVICE_HELP = f"{DEVICES_TEXT}; auto = CUDA, then MPS, then CPU."
THREADS_HELP = "CPU threads (default: the physical cores this process may use)."
SCALE_HELP = "Upscaling factor."
MODEL_HELP = "Model name (see `srcli models list`)."
DEGRADATION_HELP = ("bi = bicubic downscale; bd = 7x7 Gaussian blur (sigma 1.6), then "
                    "downscale; dn = bicubic, then Gaussian noise (sigma 30); real = random "
                    "blur, bicubic, noise and JPEG.")
WEIGHTS_HELP = "Weights file or hub repo (default: the model's bundled or published weights)."
TILE_HELP = "Tile size in input pixels; 0 = whole image; auto = largest that fits memory."


def device_option(more: str = "") -> Any:
    return typer.Option("--device", "-g", callback=check_device, metavar="DEVICE",
                        help=f"{DEVICE_HELP} {more}".strip())


def threads_option() -> Any:
    return typer.Option("--threads", min=1, show_default=False, help=THREADS_HELP)


def scale_option(more: str = "") -> Any:
    return typer.Option("--scale", "-s", min=2, max=8, metavar="N",
                        help=f"{SCALE_HELP} {more}".strip())


def model_option(more: str = "", *, completion: bool = True) -> Any:
    return typer.Option("--model", "-m", metavar="NAME", help=f"{MODEL_HELP} {more}".strip(),
                        autocompletion=complete_model if completion else None)


def degradation_option(what: str) -> Any:
    """`what`: the command's sentence saying what the degradation selects."""
    return typer.Option("--degradation", case_sensitive=False,
                        help=f"{what} {DEGRADATION_HELP}")


def weights_option() -> Any:
    return typer.Option("--weights", metavar="FILE|REPO", show_default=False, help=WEIGHTS_HELP)


def tile_option() -> Any:
    return typer.Option("--tile", "-t", callback=check_tile, metavar="N|auto", help=TILE_HELP)


#: Identical in every command that has them.
Device = Annotated[str, device_option()]
Threads = Annotated[int | None, threads_option()]
Tile = Annotated[str, tile_option()]
Weights = Annotated[str | None, weights_option()]
