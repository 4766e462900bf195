"""ONNX export of any loaded model, checked against PyTorch with onnxruntime; prints nothing.

The file takes and returns what srcli's models do: float32 NCHW RGB in [0, 1] (`input`), the
upscaled image in the same range (`output`, not clamped), with batch, height and width
dynamic. Opset 18 by default (ONNX 1.13; onnxruntime runs it from 1.14 on). The export goes
through PyTorch's TorchScript-based exporter (`dynamo=False`), which needs only the `onnx`
package; the torch.export-based one would also need onnxscript.

Both `onnx` and `onnxruntime` are the optional extra `srcli[onnx]`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from srcli.errors import ConfigError, SrcliError

ONNX_OPSET = 18
EXTRA_HINT = 'pip install "srcli[onnx]"'
#: LR sizes (height, width) the exported file is checked at: two, odd and non-square, so a
#: shape baked in at trace time would show.
CHECK_SIZES: tuple[tuple[int, int], ...] = ((24, 32), (37, 29))
TOLERANCE = 1e-4


class ExportError(SrcliError):
    """The model could not be exported, or the exported file disagrees with PyTorch."""


@dataclass(frozen=True)
class OnnxCheck:
    height: int  # LR input size
    width: int
    max_abs_diff: float


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise ConfigError(f"ONNX export needs the {module!r} package: {EXTRA_HINT}") from None


def export_onnx(model: nn.Module, path: str | Path, *, opset: int = ONNX_OPSET) -> Path:
    """Write `model` (eval mode, CPU, fp32) to `path` as ONNX; atomic (temp file + rename)."""
    _require("onnx")
    path = Path(path)
    multiple = getattr(getattr(model, "descriptor", None), "size_multiple", 1) or 1
    example = torch.rand(1, 3, 16 * multiple, 16 * multiple)
    model = model.eval().to("cpu", torch.float32)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # the TorchScript exporter announces its deprecation on every call
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                model, (example,), tmp, dynamo=False, opset_version=opset,
                input_names=["input"], output_names=["output"],
                dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                              "output": {0: "batch", 2: "out_height", 3: "out_width"}},
            )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; an export is meant to be shared
        os.replace(tmp, path)
    except Exception as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, (SrcliError, OSError)):
            raise
        raise ExportError(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    return path


def verify_onnx(model: nn.Module, path: str | Path,
                sizes: Sequence[tuple[int, int]] = CHECK_SIZES, *,
                seed: int = 0) -> list[OnnxCheck]:
    """Run the ONNX file with onnxruntime (CPU) and the model with PyTorch on the same random
    inputs; the largest absolute output difference per LR size."""
    _require("onnxruntime")
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    multiple = getattr(getattr(model, "descriptor", None), "size_multiple", 1) or 1
    generator = torch.Generator().manual_seed(seed)
    checks = []
    for h, w in sizes:
        h, w = -(-h // multiple) * multiple, -(-w // multiple) * multiple
        x = torch.rand(1, 3, h, w, generator=generator)
        with torch.inference_mode():
            ref = model.eval()(x).float().numpy()
        got = session.run(["output"], {"input": x.numpy()})[0]
        if got.shape != ref.shape:
            raise ExportError(f"ONNX output shape {got.shape} != PyTorch's {ref.shape} at "
                              f"{h}x{w}")
        checks.append(OnnxCheck(h, w, float(np.abs(got - ref).max())))
    return checks
