"""srcli: command-line super-resolution with DAN and BAM models."""

from __future__ import annotations

__version__ = "0.1.0"

from srcli.models import create_model, list_models  # noqa: E402

__all__ = ["__version__", "create_model", "list_models"]
