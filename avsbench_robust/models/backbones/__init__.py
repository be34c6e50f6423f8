"""Visual backbones: each returns four feature maps (strides 4, 8, 16, 32) and has `.out_channels`."""
from __future__ import annotations

from torch import nn

from .pvt_v2 import PyramidVisionTransformerV2, pvt_v2_b5, pvt_v2_narrow
from .resnet import B2_ResNet, B2ResNet, resnet50_b2, resnet_narrow

BACKBONES = ("resnet50", "pvt_v2_b5")


def build_backbone(name: str, narrow: bool = False) -> nn.Module:
    """`name` in BACKBONES; `narrow=True` gives the small CPU variant of the same family."""
    if name == "resnet50":
        return resnet_narrow() if narrow else resnet50_b2()
    if name == "pvt_v2_b5":
        return pvt_v2_narrow() if narrow else pvt_v2_b5()
    raise ValueError(f"unknown backbone {name!r} (expected one of: {', '.join(BACKBONES)})")


__all__ = ["BACKBONES", "B2ResNet", "B2_ResNet", "PyramidVisionTransformerV2", "build_backbone",
           "pvt_v2_b5", "pvt_v2_narrow", "resnet50_b2", "resnet_narrow"]
