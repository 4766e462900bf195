"""Exceptions a user can trigger. The CLI maps each to one stderr line and an exit code."""

from __future__ import annotations


class SrcliError(Exception):
    """Base class: anything raised below the CLI that a user can cause or fix."""

    exit_code: int = 1


class UnknownModelError(SrcliError):
    """A model name that is not registered."""


class WeightsError(SrcliError):
    """Weights missing, unreadable, unsafe, or not matching the architecture or hash."""


class ImageError(SrcliError):
    """An input image that cannot be decoded or an output that cannot be written."""


class ConfigError(SrcliError):
    """Contradictory or invalid options (bad scale, bad tile size, ...)."""


class DataError(SrcliError):
    """A dataset that cannot be found, downloaded or read."""
