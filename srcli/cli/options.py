"""Option types and checks shared by several commands."""

from __future__ import annotations

from enum import Enum

import typer

from srcli.inference.defaults import DEVICE_PATTERN


class Degradation(str, Enum):
    """How a low-resolution image was made (the three settings of the SR literature)."""

    bi = "bi"
    bd = "bd"
    dn = "dn"


def check_device(value: str) -> str:
    value = value.strip().lower()
    if not DEVICE_PATTERN.match(value):
        raise typer.BadParameter("expected auto, cpu, cuda, cuda:N or mps")
    return value
