"""srcli: command-line super-resolution with DAN and BAM models."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models"]


def __getattr__(name: str) -> Any:
    # Lazy: `import srcli` (and shell completion through the CLI) must not pay for torch.
    if name in ("create_model", "list_models"):
        from srcli import models

        return getattr(models, name)
    raise AttributeError(f"module 'srcli' has no attribute {name!r}")
