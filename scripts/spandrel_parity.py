"""Does srcli run a spandrel model exactly as spandrel does? Prints the largest |difference|.

    python scripts/spandrel_parity.py MODEL.pth [MORE.safetensors ...] [--image LR.png]
    python scripts/spandrel_parity.py --demo   # the tests' small random SwinIR and SPAN (x2)

For each file, srcli's engine (`--model spandrel`, fp32, whole image) and spandrel's own call
upscale the same LR image (default: Set5 img_005 x2 LR from tests/data, 172 x 114), then a
13 x 10 crop of it (below SwinIR's 16-pixel minimum, so both pad); both outputs are clamped
floats, compared before any rounding. Needs `pip install "srcli[spandrel]"`.

`--demo` writes the checkpoints that tests/test_spandrel.py uses (it imports the builders from
here): spandrel's SwinIR (embed_dim 24, depths [2], heads [2], window 8, pixelshuffledirect)
and SPAN (16 channels), seeded random weights, the last layer rescaled so outputs spread
~0.08 inside (0, 1) (clamping then hides nothing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from srcli.inference.engine import EngineOptions, Upscaler  # noqa: E402
from srcli.models.pretrained import load_model  # noqa: E402
from srcli.models.spandrel_adapter import import_spandrel  # noqa: E402

DEFAULT_IMAGE = REPO / "tests" / "data" / "benchmark" / "Set5" / "LR_bicubic" / "X2" / "img_005.png"


def _calibrate(model: nn.Module, last: nn.Conv2d, bias: float) -> None:
    """Scale the last conv so that outputs spread ~0.08 around a mid-grey level."""
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        last.bias.zero_()
        std = float(model.eval()(x).std())
        last.weight.mul_(0.08 / std)
        last.bias.fill_(bias)


def swinir_state() -> dict[str, torch.Tensor]:
    """SwinIR-light-style: one stage of two Swin blocks, window 8, pixelshuffledirect x2."""
    import_spandrel()
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(0)
    with warnings.catch_warnings():  # torch.meshgrid's indexing notice, inside spandrel
        warnings.simplefilter("ignore", UserWarning)
        model = SwinIR(img_size=16, embed_dim=24, depths=[2], num_heads=[2], window_size=8,
                       mlp_ratio=2.0, upscale=2, upsampler="pixelshuffledirect",
                       img_range=1.0)
    _calibrate(model, model.upsample[0], 0.0)  # SwinIR adds the RGB mean back itself
    return model.state_dict()


def span_state() -> dict[str, torch.Tensor]:
    """SPAN with 16 feature channels, x2."""
    import_spandrel()
    from spandrel.architectures.SPAN import SPAN

    torch.manual_seed(0)
    model = SPAN(num_in_ch=3, num_out_ch=3, feature_channels=16, upscale=2)
    _calibrate(model, model.upsampler[0], 0.5)
    return model.state_dict()


BUILDERS: dict[str, Callable[[], dict[str, torch.Tensor]]] = {
    "SwinIR": swinir_state, "SPAN": span_state}


def write_demo(folder: Path) -> dict[str, Path]:
    """{"SwinIR.pth": path, "SwinIR.safetensors": path, "SPAN.pth": ..., ...} in `folder`."""
    from safetensors.torch import save_file

    files = {}
    for arch, build in BUILDERS.items():
        state = {k: v.contiguous() for k, v in build().items()}
        for suffix in (".pth", ".safetensors"):
            path = folder / f"{arch}{suffix}"
            if suffix == ".pth":
                torch.save(state, path)
            else:
                save_file(state, str(path))
            files[path.name] = path
    return files


def reference(path: Path, rgb: np.ndarray) -> np.ndarray:
    """spandrel's own call on an H×W×3 float image -> (H·s)×(W·s)×3 float32, clamped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = import_spandrel().ModelLoader().load_from_file(path).eval()
    x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    return model(x)[0].permute(1, 2, 0).numpy()


def srcli_engine(path: Path, scale: int, **options: object) -> Upscaler:
    """srcli's engine on the file (`--model spandrel`), fp32, whole image unless told."""
    net = load_model("spandrel", scale, path)
    opts = {"device": "cpu", "precision": "fp32", "tile": 0, "threads": 1, **options}
    return Upscaler(net, EngineOptions(**opts))  # type: ignore[arg-type]


def read_lr(path: Path) -> np.ndarray:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    return pixels.astype(np.float32) / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights", nargs="*", type=Path)
    parser.add_argument("--demo", action="store_true", help="also check the tests' checkpoints")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rgb = read_lr(args.image)
    with tempfile.TemporaryDirectory() as tmp:
        files = list(args.weights) + (list(write_demo(Path(tmp)).values()) if args.demo else [])
        if not files:
            parser.error("give weights files or --demo")
        for path in files:
            scale = int(import_spandrel().ModelLoader().load_from_file(path).scale)
            engine = srcli_engine(path, scale)
            arch = engine.descriptor.name
            whole = np.abs(engine.upscale(rgb) - reference(path, rgb)).max()
            crop = rgb[40:50, 60:73]
            small = np.abs(engine.upscale(crop) - reference(path, crop)).max()
            print(f"{path.name}: {arch} x{scale}  max|diff| {rgb.shape[1]}x{rgb.shape[0]} "
                  f"{whole:.1e}, 13x10 {small:.1e}")


if __name__ == "__main__":
    main()
