"""Every architecture module, imported once so it registers its models. One family per file."""

from srcli.models.archs import bicubic, dan  # noqa: F401
