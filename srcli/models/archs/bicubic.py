"""`bicubic`: MATLAB-compatible bicubic upscaling as a parameter-free model.

Making the baseline a model lets `upscale` and `bench` treat it like any network (tiling,
devices, batches) with no special case.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from srcli.imaging.resize import imresize_tensor
from srcli.models.registry import register_model


@dataclass(frozen=True)
class BicubicConfig:
    scale: int = 4


class Bicubic(nn.Module):
    def __init__(self, cfg: BicubicConfig) -> None:
        super().__init__()
        self.scale = cfg.scale

    def descriptor_hints(self) -> dict[str, object]:
        return {"receptive_radius": 2}

    def forward(self, x: Tensor) -> Tensor:
        return imresize_tensor(x, float(self.scale))


register_model("bicubic", Bicubic, BicubicConfig, family="bicubic", scales=(2, 3, 4, 8),
               description="MATLAB-compatible bicubic interpolation (no weights)")
