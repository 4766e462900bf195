"""`--model spandrel --weights FILE`: any architecture spandrel can load, run by srcli's engine.

spandrel (chaiNNer's model loader, the optional extra `pip install "srcli[spandrel]"`) reads a
state dict, recognises its architecture (SwinIR, SPAN, SAFMN, OmniSR, DAT, ESRGAN, ...) and
rebuilds the network with the hyperparameters the tensors imply. srcli still reads the file
itself (`read_state_dict`: tensors only, a pickle never runs code), hands the tensors to
spandrel, and wraps the network in `SpandrelNet`, whose `.descriptor` is translated from
spandrel's: scale, size requirements (multiple_of, minimum, square; padded by reflection, as
spandrel pads), fp16/bf16 support and tiling advice. Tiling, the x8 ensemble, 16-bit and
alpha handling and `srcli bench` then work as for srcli's own models.

Grayscale (1 -> 1 channel) models run on R, G and B as three images; other channel layouts
are refused. torch and spandrel load only when a spandrel model is requested.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from srcli.errors import WeightsError
from srcli.models.descriptor import ModelDescriptor

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = ["INSTALL_HINT", "SPANDREL", "describe", "import_spandrel", "load_spandrel"]

#: The model name that selects this loader (`-m spandrel`, `-m spandrel+` for the ensemble).
SPANDREL = "spandrel"
INSTALL_HINT = 'pip install "srcli[spandrel]"'


@contextlib.contextmanager
def _torchvision_placeholder() -> Iterator[None]:
    """spandrel imports torchvision at import time for two architectures that are not
    super-resolution (LaMa inpainting, RestoreFormer faces), and only calls it when those run.
    Where torchvision is absent (a `--no-deps` install beside a pinned torch), a placeholder
    stands in while spandrel imports, then leaves sys.modules again so that nothing else
    mistakes it for torchvision; calling it says what is missing."""
    if importlib.util.find_spec("torchvision") is not None:
        yield
        return

    def missing(name: str) -> Callable[..., Any]:
        def call(*_args: Any, **_kwargs: Any) -> Any:
            raise WeightsError(f"this spandrel architecture needs torchvision ({name}); "
                               "pip install torchvision")
        return call

    names = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
    for name in names:
        module = ModuleType(name)
        module.__getattr__ = missing  # type: ignore[method-assign]  # PEP 562 lookup
        sys.modules[name] = module
    try:
        yield
    finally:
        for name in names:
            sys.modules.pop(name, None)


def import_spandrel() -> ModuleType:
    """The spandrel package, or a WeightsError naming the extra to install."""
    loaded = sys.modules.get("spandrel")
    if loaded is not None:
        return loaded
    if importlib.util.find_spec("spandrel") is None:
        raise WeightsError(f"--model {SPANDREL} needs the optional spandrel package: "
                           f"{INSTALL_HINT}")
    with _torchvision_placeholder():
        try:
            import spandrel
        except ImportError as exc:  # a dependency missing from a --no-deps install
            raise WeightsError(f"spandrel is installed but cannot be imported ({exc}); "
                               f"{INSTALL_HINT}") from None
    return spandrel


def describe(spandrel_model: Any) -> ModelDescriptor:
    """srcli's descriptor for a spandrel ImageModelDescriptor."""
    spandrel = import_spandrel()
    req = spandrel_model.size_requirements
    arch = spandrel_model.architecture.id
    return ModelDescriptor(
        name=f"{SPANDREL}:{arch}", family=SPANDREL, scale=int(spandrel_model.scale),
        supports_fp16=bool(spandrel_model.supports_half),
        supports_bf16=bool(spandrel_model.supports_bfloat16),
        size_multiple=int(req.multiple_of), min_size=int(req.minimum), square=bool(req.square),
        pad_mode="reflect",
        # DISCOURAGED / INTERNAL: the model relies on global context, tiles need wide overlap
        global_pooling=spandrel_model.tiling != spandrel.ModelTiling.SUPPORTED,
    )


@functools.cache  # one class, built on first use, so that torch loads only then
def _network_class() -> type[nn.Module]:
    from torch import nn

    class SpandrelNet(nn.Module):
        """A spandrel network as an srcli model: (N, 3, H, W) in [0, 1] -> (N, 3, sH, sW),
        unclamped (the engine clamps after blending tiles and averaging the ensemble)."""

        def __init__(self, spandrel_model: Any, descriptor: ModelDescriptor) -> None:
            super().__init__()
            self.net = spandrel_model.model
            # spandrel's per-architecture call (some return tuples); plain call otherwise
            self.call_fn: Callable[[nn.Module, Tensor], Tensor] = getattr(
                spandrel_model, "_call_fn", None) or (lambda model, image: model(image))
            self.gray = spandrel_model.input_channels == 1
            self.architecture = spandrel_model.architecture.id
            self.tags = list(spandrel_model.tags)
            self.descriptor = descriptor
            self.model_name = SPANDREL

        def forward(self, x: Tensor) -> Tensor:
            import torch

            # Window-attention models (spandrel's SwinIR, ...) add a float32 mask made for the
            # input size, which turns bf16/fp16 activations back into float32 that then meet
            # half-precision weights (spandrel's own call fails the same way); autocast casts
            # each matmul's operands back. fp32 runs are untouched.
            half = x.dtype in (torch.float16, torch.bfloat16) and x.device.type in ("cpu",
                                                                                  "cuda")
            with torch.autocast(x.device.type, dtype=x.dtype, enabled=half):
                if not self.gray:
                    return self.call_fn(self.net, x)
                n, c, h, w = x.shape  # a grayscale model sees each colour plane as one image
                y = self.call_fn(self.net, x.reshape(n * c, 1, h, w))
                return y.reshape(n, c, y.shape[-2], y.shape[-1])

    return SpandrelNet


def _load_described(path: Path, state: dict[str, Any]) -> Any:
    spandrel = import_spandrel()
    try:
        with warnings.catch_warnings():  # e.g. torch.meshgrid's indexing notice: not ours
            warnings.simplefilter("ignore", UserWarning)
            return spandrel.ModelLoader().load_from_state_dict(
                spandrel.canonicalize_state_dict(state))
    except spandrel.UnsupportedModelError:
        raise WeightsError(f"{path.name}: spandrel {spandrel.__version__} does not recognise "
                           "this architecture") from None
    except Exception as exc:  # noqa: BLE001 - a recognised but inconsistent state dict
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{path.name}: spandrel could not build the model ({first})") from None


def _check(path: Path, model: Any, scale: int) -> None:
    spandrel = import_spandrel()
    arch = model.architecture.id
    if not isinstance(model, spandrel.ImageModelDescriptor):
        raise WeightsError(f"{path.name} holds a {arch} {model.purpose} model, which needs "
                           "more than an image; srcli runs image-to-image models only")
    if model.scale != scale:
        hint = ("srcli runs upscaling models (scale 2 or more)" if model.scale == 1
                else f"pass --scale {model.scale}")
        raise WeightsError(f"{path.name} holds a x{model.scale} {arch} model, not x{scale}; "
                           f"{hint}")
    channels = (model.input_channels, model.output_channels)
    if channels not in ((3, 3), (1, 1)):
        raise WeightsError(f"{path.name}: {arch} model maps {channels[0]} channels to "
                           f"{channels[1]}; srcli runs RGB (3 -> 3) or gray (1 -> 1) models")


def load_spandrel(weights: str | Path, scale: int) -> nn.Module:
    """The model in `weights` (a local file or hf://owner/repo/file), recognised by spandrel,
    as an srcli model with `.descriptor`, `.weights_source` and `.architecture`, in eval mode.
    Raises WeightsError when spandrel is missing, does not know the file, or the scale or
    channels do not fit."""
    from srcli.weights import read_state_dict, resolve_weights

    import_spandrel()  # the missing-extra message comes before any file work
    rw = resolve_weights(SPANDREL, scale, weights)
    described = _load_described(rw.path, dict(read_state_dict(rw.path)))
    _check(rw.path, described, scale)
    model = _network_class()(described, describe(described))
    model.weights_source = rw
    return model.eval()
