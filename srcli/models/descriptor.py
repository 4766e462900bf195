"""What callers (inference, bench, train) need to know about a model, in one place.

Inference reads this instead of special-casing architectures: the value range a model
expects, whether half precision is safe, the input-size multiple it needs and whether
global pooling makes tiled results differ from whole-image ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelDescriptor:
    name: str
    family: str
    scale: int
    #: Models take RGB float input in [0, input_range] and return the same range.
    input_range: float = 1.0
    supports_fp16: bool = True
    supports_bf16: bool = True
    #: Input height and width must be multiples of this (inference pads, then crops).
    size_multiple: int = 1
    #: True when some layer pools over the whole image (GCA, channel attention): a tile then
    #: sees different statistics than the whole image, so tiles need generous overlap.
    global_pooling: bool = False
    #: Receptive-field radius in LR pixels, a lower bound for a seam-free tile overlap.
    receptive_radius: int = 8
    #: Smallest input height/width the model accepts (inference pads up to it); 0: any.
    min_size: int = 0
    #: The model needs square inputs (inference pads the shorter side).
    square: bool = False
    #: How inference pads the bottom/right edges: "replicate" (edge pixels) or "reflect"
    #: (mirror, then replicate past one image size: spandrel's padding, which models loaded
    #: through it expect).
    pad_mode: str = "replicate"

    def padding(self, height: int, width: int) -> tuple[int, int]:
        """(rows, columns) to add so that a height x width input meets the size needs."""
        m = max(self.size_multiple, 1)
        # the minimum rounded up to the multiple, so padding to it keeps the multiple
        low = -(-self.min_size // m) * m
        h, w = max(height, low), max(width, low)
        h, w = h + (-h) % m, w + (-w) % m
        if self.square:
            h = w = max(h, w)
        return h - height, w - width
