"""VGGish (Hershey et al. 2017): log-mel examples [N,1,96,64] -> 128-d embeddings [N,128].

Layer indices match the released `vggish-10086976.pth` (`features.{0,3,6,8,11,13}`,
`embeddings.{0,2,4}`). The conv output is flattened channel-last (H, W, C) before the MLP because
the weights were ported from TensorFlow; flattening channel-first would silently scramble them.
No PCA/quantisation post-processing: no AVS config uses it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class VGGishSpec:
    widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    hidden: int = 4096
    embed_dim: int = 128


VGGISH_FULL = VGGishSpec()
VGGISH_SMALL = VGGishSpec((8, 16, 32, 32), 128, 128)


class VGGish(nn.Module):
    def __init__(self, spec: VGGishSpec = VGGISH_FULL) -> None:
        super().__init__()
        c1, c2, c3, c4 = spec.widths

        def conv(i: int, o: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, padding=1), nn.ReLU(inplace=True)]

        pool = lambda: nn.MaxPool2d(2, 2)
        self.features = nn.Sequential(
            *conv(1, c1), pool(), *conv(c1, c2), pool(), *conv(c2, c3), *conv(c3, c3), pool(),
            *conv(c3, c4), *conv(c4, c4), pool(),
        )
        self.embeddings = nn.Sequential(
            nn.Linear(c4 * 6 * 4, spec.hidden), nn.ReLU(inplace=True),
            nn.Linear(spec.hidden, spec.hidden), nn.ReLU(inplace=True),
            nn.Linear(spec.hidden, spec.embed_dim), nn.ReLU(inplace=True),
        )
        self.embed_dim = spec.embed_dim
        # He init (fan-in): PyTorch's default shrinks the signal over these nine layers, so an
        # untrained VGGish maps every clip to nearly the same embedding and audio cannot be learnt.
        # Irrelevant once the released weights are loaded.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 96, 64):
            raise ValueError(f"VGGish expects log-mel examples [N,1,96,64], got {tuple(x.shape)}")
        x = self.features(x)  # [N, C, 6, 4]
        x = x.permute(0, 2, 3, 1).flatten(1)  # channel-last flatten (TF port)
        return self.embeddings(x)


def vggish(small: bool = False) -> VGGish:
    return VGGish(VGGISH_SMALL if small else VGGISH_FULL)
