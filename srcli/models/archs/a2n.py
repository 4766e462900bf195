"""A2N (Chen et al., 2021, "Attention in Attention Network"), laid out like super-image's
`A2nModel`: PAN's skeleton (pan.py) with the attention-in-attention block (AAB) as trunk.

AAB(x) = x + conv_last(LeakyReLU(π_a · attention(y) + π_n · non_attention(y))), with
y = LeakyReLU(conv_first(x)) and (π_a, π_n) = softmax(ADM(GAP(y)) / t), t = 30: the "attention
dropout module" learns how much of the attention branch to use per image. The attention
branch is PAN's PAConv preceded by a 3x3 conv + LeakyReLU for the gate. No hub golden vector
exists for A2N; the structure is checked against the hub key/shape schema.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srcli.models.archs.pan import PAN, PANConfig
from srcli.models.registry import register_model


@dataclass(frozen=True)
class A2NConfig(PANConfig):
    adm_reduction: int = 4
    temperature: float = 30.0


class AttentionBranch(nn.Module):
    """k4(k3(x) ⊙ sigmoid(k2(LeakyReLU(k1(x)))))."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.k1 = nn.Conv2d(nf, nf, 3, padding=1, bias=False)
        self.k2 = nn.Conv2d(nf, nf, 1)
        self.k3 = nn.Conv2d(nf, nf, 3, padding=1, bias=False)
        self.k4 = nn.Conv2d(nf, nf, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate = torch.sigmoid(self.k2(F.leaky_relu(self.k1(x), 0.2)))
        return self.k4(self.k3(x) * gate)


class AAB(nn.Module):
    def __init__(self, nf: int, reduction: int, temperature: float) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(nf, nf, 1, bias=False)
        self.conv_last = nn.Conv2d(nf, nf, 1, bias=False)
        self.ADM = nn.Sequential(nn.Linear(nf, nf // reduction, bias=False), nn.ReLU(inplace=True),
                                 nn.Linear(nf // reduction, 2, bias=False))
        self.attention = AttentionBranch(nf)
        self.non_attention = nn.Conv2d(nf, nf, 3, padding=1, bias=False)
        self.temperature = temperature

    def forward(self, x: Tensor) -> Tensor:
        y = F.leaky_relu(self.conv_first(x), 0.2)
        weights = F.softmax(self.ADM(y.mean(dim=(2, 3))) / self.temperature, dim=1)
        w_att = weights[:, 0].view(-1, 1, 1, 1)
        w_non = weights[:, 1].view(-1, 1, 1, 1)
        y = self.attention(y) * w_att + self.non_attention(y) * w_non
        return self.conv_last(F.leaky_relu(y, 0.2)) + x


class A2N(PAN):
    TRUNK_NAME = "AAB_trunk"

    @staticmethod
    def make_block(cfg: PANConfig) -> nn.Module:
        assert isinstance(cfg, A2NConfig)
        return AAB(cfg.nf, cfg.adm_reduction, cfg.temperature)

    def descriptor_hints(self) -> dict[str, object]:
        hints = super().descriptor_hints()
        hints["global_pooling"] = True  # the ADM pools the whole image
        hints["receptive_radius"] = 1 + 3 * self.cfg.nb + 4
        return hints


register_model("a2n", A2N, A2NConfig, family="a2n",
               paper="Attention in Attention Network for Image Super-Resolution (A2N), 2021",
               description="A2N as on the hub (nf 40, unf 24, 16 AABs; eugenesiow/a2n)")
