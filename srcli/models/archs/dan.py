"""DAN: efficient dual attention network (DAN paper §III, `papers/dan-efficient-...txt`).

DAN = head conv -> b dual attention blocks (DABs) -> conv + long skip -> pixel-shuffle upsampler
-> output conv (eq. 11-13).

Reading of the DAB (the paper's Figure 1 is missing from the text). Block n:

1. y_n = conv3x3(ReLU(conv3x3(x_n)))                        residual branch
2. ŷ_n = LEA(y_n)                                             local enhanced attention (eq. 8-9)
3. ỹ_n = GCA(ŷ_n, ŷ_m), m = n - d                             global cross-layer attention (eq. 6-7)
4. x_{n+1} = x_n + res_scale · ỹ_n                            residual learning

LEA runs first because §III-B says the LEA-highlighted features of layer m guide layer n in
GCA's feature fusion; so every block keeps ŷ_n for the block d later. A block with n - d < 1
takes the shallow features F_S (the head output, "layer 0") as x_m. d = 0 (GCA-0) fuses a
layer with itself (eq. 5). All of this is configurable: `gca` = channel | position (GCA-S,
eq. 10) | none, `lea` = spatial | channel (LEA-C) | none, `distance`, `lea_dilations`.

`image_skip` adds an interpolated copy of the input to the output (a global residual the
paper does not use; default off). The output conv then starts at zero, so the untrained
network is plain interpolation and learns only the residual: small CPU-trained models
converge much faster that way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srcli.models.layers.attention import GCA, LEA, LEAChannel
from srcli.models.layers.blocks import DIV2K_MEAN, Upsampler, conv3x3
from srcli.models.registry import register_model


@dataclass(frozen=True)
class DANConfig:
    scale: int = 4
    n_colors: int = 3
    n_feats: int = 128  # gives 10.7 M parameters at x4 with b = 30 (paper: ~¼ fewer than RCAN)
    n_blocks: int = 30  # b
    distance: int = 9  # d = n - m
    reduction: int = 16  # r
    gca: str = "channel"  # channel | position | none
    lea: str = "spatial"  # spatial | channel | none
    lea_dilations: tuple[int, ...] = (2, 2, 2)
    res_scale: float = 1.0
    image_skip: str = "none"  # none | bilinear | bicubic
    sub_mean: bool = True


class DAB(nn.Module):
    """Dual attention block: residual block + LEA + GCA (see the module docstring)."""

    def __init__(self, cfg: DANConfig) -> None:
        super().__init__()
        c, r = cfg.n_feats, cfg.reduction
        self.body = nn.Sequential(conv3x3(c, c), nn.ReLU(inplace=True), conv3x3(c, c))
        self.lea: nn.Module | None = {
            "spatial": lambda: LEA(c, r, tuple(cfg.lea_dilations)),
            "channel": lambda: LEAChannel(c, r),
            "none": lambda: None,
        }[cfg.lea]()
        self.gca: GCA | None = {
            "channel": lambda: GCA(c, r),
            "position": lambda: GCA(c, r, position_wise=True),
            "none": lambda: None,
        }[cfg.gca]()
        self.res_scale = cfg.res_scale

    def zero_residual(self) -> None:
        """Make the block an identity map: with the residual branch's last conv at zero, y = 0
        and LEA/GCA only rescale it, so x + y = x. The conv's weight gradient is not zero
        (ReLU(conv1 x) ≠ 0), so training still grows the block from there."""
        last = self.body[-1]
        assert isinstance(last, nn.Conv2d)
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)

    def forward(self, x: Tensor, x_m: Tensor | None) -> tuple[Tensor, Tensor]:
        """Return (block output, ŷ_n kept for the block d later). x_m None means d = 0."""
        y = self.body(x)
        if self.lea is not None:
            y = self.lea(y)
        local = y
        if self.gca is not None:
            y = self.gca(y, y if x_m is None else x_m)
        if self.res_scale != 1.0:  # skipped at 1.0: a full-size multiply, forward and back
            y = y * self.res_scale
        return x + y, local


class DAN(nn.Module):
    def __init__(self, cfg: DANConfig) -> None:
        super().__init__()
        if cfg.gca not in ("channel", "position", "none"):
            raise ValueError(f"gca must be channel|position|none, not {cfg.gca!r}")
        if cfg.lea not in ("spatial", "channel", "none"):
            raise ValueError(f"lea must be spatial|channel|none, not {cfg.lea!r}")
        if cfg.image_skip not in ("none", "bilinear", "bicubic"):
            raise ValueError(f"image_skip must be none|bilinear|bicubic, not {cfg.image_skip!r}")
        self.cfg = cfg
        self.head = conv3x3(cfg.n_colors, cfg.n_feats)
        self.blocks = nn.ModuleList(DAB(cfg) for _ in range(cfg.n_blocks))
        self.body_tail = conv3x3(cfg.n_feats, cfg.n_feats)
        self.upsample = Upsampler(cfg.scale, cfg.n_feats)
        self.tail = conv3x3(cfg.n_feats, cfg.n_colors)
        mean = torch.tensor(DIV2K_MEAN if cfg.n_colors == 3 else (0.5,) * cfg.n_colors)
        # A constant, not a parameter: kept out of the state dict so checkpoints stay portable.
        self.register_buffer("rgb_mean", mean.view(1, -1, 1, 1), persistent=False)
        if cfg.image_skip != "none":
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def descriptor_hints(self) -> dict[str, object]:
        cfg = self.cfg
        dilated = sum(cfg.lea_dilations) if cfg.lea == "spatial" else 0
        return {
            "global_pooling": cfg.gca == "channel" or cfg.lea == "channel",
            "receptive_radius": 2 + cfg.n_blocks * (2 + dilated) + 2,
        }

    def forward(self, x: Tensor) -> Tensor:
        cfg = self.cfg
        inp = x
        if cfg.sub_mean:
            x = x - self.rgb_mean
        shallow = self.head(x)  # F_S (eq. 11)
        feats = shallow
        history: list[Tensor] = [shallow]  # history[k] = ŷ_k, with ŷ_0 = F_S
        for n, block in enumerate(self.blocks, start=1):
            x_m = None if cfg.distance == 0 else history[max(n - cfg.distance, 0)]
            feats, local = block(feats, x_m)
            history.append(local)
            if cfg.distance > 0 and len(history) > cfg.distance + 1:
                history[len(history) - cfg.distance - 2] = shallow  # free memory no longer read
        deep = self.body_tail(feats) + shallow  # F_D with the long skip (eq. 12)
        out = self.tail(self.upsample(deep))  # eq. 13
        if cfg.image_skip != "none":  # the interpolated input already carries the mean
            return out + F.interpolate(inp, scale_factor=cfg.scale, mode=cfg.image_skip,
                                       align_corners=False)
        return out + self.rgb_mean if cfg.sub_mean else out


_PAPER = "Efficient dual attention network for SISR (DAN), IEEE Access"
register_model("dan", DAN, DANConfig, family="dan", paper=_PAPER,
               description="DAN, paper config: b=30, d=9, r=16 (GCA + LEA)")
register_model("dan-gca0", DAN, DANConfig, family="dan", paper=_PAPER, distance=0,
               description="DAN with GCA-0 (d = 0: GCA within one layer)")
register_model("dan-gcas", DAN, DANConfig, family="dan", paper=_PAPER, gca="position",
               description="DAN with GCA-S (position-wise GCA, eq. 10)")
register_model("dan-leac", DAN, DANConfig, family="dan", paper=_PAPER, lea="channel",
               description="DAN with LEA-C (channel-wise LEA, RCAN-style)")
