"""The model package shared by upscale, bench and train. Imports nothing from the CLI."""

from srcli.models.descriptor import ModelDescriptor
from srcli.models.registry import (
    build_from_config,
    count_parameters,
    create_model,
    get_spec,
    list_models,
    make_config,
    register_model,
)
from srcli.models.super_image import load_super_image

__all__ = [
    "ModelDescriptor",
    "build_from_config",
    "count_parameters",
    "create_model",
    "get_spec",
    "list_models",
    "load_super_image",
    "make_config",
    "register_model",
]
