"""Option types and checks shared by several commands."""

from __future__ import annotations

from enum import Enum

import typer

from srcli.inference.defaults import DEVICE_PATTERN


class Degradation(str, Enum):
    """How a low-resolution image was made (the three settings of the SR literature, and
    srcli's `real`: random blur, bicubic, noise and JPEG, see srcli.imaging.degrade)."""

    bi = "bi"
    bd = "bd"
    dn = "dn"
    real = "real"


class UpscaleDegradation(str, Enum):
    """`upscale`'s choices: a family of weights, or auto (measure each input and pick)."""

    bi = "bi"
    bd = "bd"
    dn = "dn"
    real = "real"
    auto = "auto"


def check_device(value: str) -> str:
    value = value.strip().lower()
    if not DEVICE_PATTERN.match(value):
        raise typer.BadParameter("expected auto, cpu, cuda, cuda:N or mps")
    return value
