"""ResNet-50 with the `B2_ResNet` parameter naming of AVSBench (and a narrow variant for CPU tests).

Why this naming: every released TPAVI/AVSegFormer ResNet checkpoint stores the backbone as
conv1/bn1/layer1/layer2 followed by two copies of the deep stages, `layer3_1`/`layer4_1` (the one
the AVS models run) and `layer3_2`/`layer4_2` (a second branch inherited from B2_ResNet that no AVS
model calls, yet it sits in every checkpoint and is filled from ImageNet's layer3/layer4). Keeping it
lets those checkpoints load with `strict=True`; the narrow variant drops it.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (carries the stride, as torchvision's v1.5) -> 1x1 with 4x expansion."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    out = planes * Bottleneck.expansion
    down = None
    if stride != 1 or inplanes != out:
        down = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
    layers = [Bottleneck(inplanes, planes, stride, down)]
    layers += [Bottleneck(out, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class B2ResNet(nn.Module):
    """Four feature maps at strides 4/8/16/32 (channels 4w, 8w, 16w, 32w; w=64 for ResNet-50).

    State-dict order is the official one: conv1, bn1, layer1, layer2, layer3_1, layer4_1, then
    (when `second_branch`) layer3_2, layer4_2.
    """

    def __init__(self, layers: Sequence[int] = (3, 4, 6, 3), width: int = 64, second_branch: bool = True) -> None:
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(3, w, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = _stage(w, w, layers[0], 1)
        self.layer2 = _stage(4 * w, 2 * w, layers[1], 2)
        self.layer3_1 = _stage(8 * w, 4 * w, layers[2], 2)
        self.layer4_1 = _stage(16 * w, 8 * w, layers[3], 2)
        if second_branch:
            self.layer3_2 = _stage(8 * w, 4 * w, layers[2], 2)
            self.layer4_2 = _stage(16 * w, 8 * w, layers[3], 2)
        self.out_channels: tuple[int, int, int, int] = (4 * w, 8 * w, 16 * w, 32 * w)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Stage features of the first branch (the one the AVS models use)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x1 = self.layer1(x)
        x2 = self.layer2(x1)
        x3 = self.layer3_1(x2)
        x4 = self.layer4_1(x3)
        return [x1, x2, x3, x4]


B2_ResNet = B2ResNet  # the official class name, for readers coming from AVSBench


def resnet50_b2() -> B2ResNet:
    """ResNet-50 in B2_ResNet naming, second branch included (checkpoint parity)."""
    return B2ResNet((3, 4, 6, 3), 64, second_branch=True)


def resnet_narrow() -> B2ResNet:
    """A tiny ResNet (one bottleneck per stage, width 16, no second branch) for CPU tests and demos."""
    return B2ResNet((1, 1, 1, 1), 16, second_branch=False)
