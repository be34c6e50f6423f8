"""TPAVI (Zhou et al., ECCV 2022): backbone -> dilated-conv neck -> TPAVI audio-visual attention on
stages 0-3 -> FPN-style fusion decoder -> mask logits. Parameter names follow the official
`Pred_endecoder` so its checkpoints load with `strict=True`.

Why the attention is computed differently (same result): TPAVI's "dot" attention over the
T*H*W positions of a clip uses audio keys that are constant over H and W, so the THW x THW affinity
has rank <= T. With y = (theta(x)^T phi(a)) g(x) / N we regroup the products and fold theta, the
pooled g and W_z's conv into one per-clip C x C matrix: O(C^2 THW) instead of O((THW)^2 C), no THW^2
matrix in memory. A test checks it against the explicit attention.

Quirks kept for parity (see the state-dict spec README): the ResNet backbone carries an unused
second branch; `path4.resConfUnit1` exists but is never run (path4 has one input); attention works
on windows of `window`=5 frames, so a 10-frame AVSS clip is two independent halves; the AVSS model's
`align_channel` has no bias and the head has 71 outputs; the decoder's residual units add relu(x)
(not x) to their conv branch, and the stage maps returned for L_AVM come back ReLU'd, both effects of
the official in-place ReLU (see `ResidualConvUnit`). The decoder upsamples to the size of the
skip feature (identical to the official x2 at 224, and also valid for sizes not divisible by 32).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import build_backbone
from .cgsl import CGSL, similarity


class DilatedSum(nn.Module):
    """Sum of parallel 3x3 convs with dilations 3/6/12/18 (the official `Classifier_Module`).

    Where the dilation reaches past the feature map (d >= H or W), the off-centre taps only ever
    read zero padding, so that conv equals its centre row/column/tap: we run the sliced kernel
    (identical output, far cheaper on the 7x7/14x14 stages) and fuse all 1x1-reduced branches
    into one conv.
    """

    def __init__(self, in_channels: int, out_channels: int, dilations: Sequence[int] = (3, 6, 12, 18)) -> None:
        super().__init__()
        self.conv2d_list = nn.ModuleList(
            nn.Conv2d(in_channels, out_channels, 3, padding=d, dilation=d) for d in dilations
        )
        for conv in self.conv2d_list:
            nn.init.normal_(conv.weight, 0.0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        out = None
        point_w, point_b = None, None
        for conv in self.conv2d_list:
            d = conv.dilation[0]
            rows = slice(1, 2) if d >= h else slice(0, 3)
            cols = slice(1, 2) if d >= w else slice(0, 3)
            weight = conv.weight[:, :, rows, cols]
            if weight.shape[-2:] == (1, 1):
                point_w = weight if point_w is None else point_w + weight
                point_b = conv.bias if point_b is None else point_b + conv.bias
                continue
            pad = (0 if d >= h else d, 0 if d >= w else d)
            y = F.conv2d(x, weight, conv.bias, padding=pad, dilation=d)
            out = y if out is None else out + y
        if point_w is not None:
            y = F.conv2d(x, point_w, point_b)
            out = y if out is None else out + y
        return out


class ResidualConvUnit(nn.Module):
    """relu(x) + conv2(relu(conv1(relu(x)))).

    The official unit applies an in-place ReLU to its input before the residual sum, so the skip
    branch carries relu(x), not x; we compute that value out of place (same numbers, no aliasing).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        return x + self.conv2(F.relu(self.conv1(x)))


class FusionBlock(nn.Module):
    """out = up2(RCU2(x + RCU1(skip))) — without a skip, RCU1 is never used (official path4)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.resConfUnit1 = ResidualConvUnit(channels)
        self.resConfUnit2 = ResidualConvUnit(channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None,
                size: tuple[int, int] | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            size = (x.shape[-2] * 2, x.shape[-1] * 2)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class Interpolate(nn.Module):
    def __init__(self, scale_factor: float, mode: str = "bilinear", align_corners: bool = False) -> None:
        super().__init__()
        self.scale_factor, self.mode, self.align_corners = scale_factor, mode, align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale_factor, mode=self.mode, align_corners=self.align_corners)


class TPAVIBlock(nn.Module):
    """Audio-visual non-local block ("dot" mode), audio as keys, visual as queries and values.

    Input x [B, T, C, H, W] (B = clips or windows), audio [B, T, 128]. Returns
    (LayerNorm_C(x + BN(W_z(y))), align_channel(audio) [B, T, C]).
    """

    def __init__(self, channels: int, audio_dim: int = 128, align_bias: bool = True) -> None:
        super().__init__()
        inter = channels // 2
        self.channels, self.inter = channels, inter
        # registration order = official state-dict order
        self.align_channel = nn.Linear(audio_dim, channels, bias=align_bias)
        self.norm_layer = nn.LayerNorm(channels)
        self.g = nn.Conv3d(channels, inter, 1)
        self.W_z = nn.Sequential(nn.Conv3d(inter, channels, 1), nn.BatchNorm3d(channels))
        nn.init.zeros_(self.W_z[1].weight)
        nn.init.zeros_(self.W_z[1].bias)
        self.theta = nn.Conv3d(channels, inter, 1)
        self.phi = nn.Conv3d(channels, inter, 1)

    @staticmethod
    def _linear(conv: nn.Conv3d) -> tuple[torch.Tensor, torch.Tensor]:
        return conv.weight.flatten(1), conv.bias

    def forward(self, x: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, c, h, w = x.shape
        n = t * h * w
        a = self.align_channel(audio)  # [B, T, C]
        w_g, b_g = self._linear(self.g)
        w_th, b_th = self._linear(self.theta)
        w_ph, b_ph = self._linear(self.phi)
        w_z, b_z = self._linear(self.W_z[0])
        phi_a = a @ w_ph.t() + b_ph  # [B, T, Ci]   phi of the H*W-repeated audio
        g_sum = x.sum(dim=(-2, -1)) @ w_g.t() + (h * w) * b_g  # [B, T, Ci]   sum over H,W of g(x)
        m = g_sum.transpose(1, 2) @ phi_a / n  # [B, Ci, Ci]: y = m @ theta(x)
        k = w_z @ m @ w_th  # [B, C, C]
        bias = (w_z @ m @ b_th.unsqueeze(-1)).squeeze(-1) + b_z  # [B, C]
        y = torch.einsum("bij,btjp->btip", k, x.flatten(3)) + bias[:, None, :, None]  # [B, T, C, HW]
        y = self.W_z[1](y.reshape(b * t, c, 1, h, w)).reshape(b, t, c, h, w)
        z = (x + y).permute(0, 1, 3, 4, 2)
        z = self.norm_layer(z).permute(0, 1, 4, 2, 3)
        return z, a


@dataclass
class AVSOutput:
    """What every reference model returns: mask logits [BT, K, H, W] and what the losses need."""

    logits: torch.Tensor
    feature_maps: list = field(default_factory=list)  # ReLU'd post-TPAVI maps [BT, C, h, w] per stage
    audio_feats: list = field(default_factory=list)  # aligned audio [BT/T', T', C] per stage (or None)
    similarity: torch.Tensor | None = None  # CGSL cosine similarity [BT]
    extra: dict = field(default_factory=dict)


class TPAVI(nn.Module):
    """The official `Pred_endecoder` (ResNet or PVT variant) with optional CGSL head."""

    def __init__(self, backbone: str = "pvt_v2_b5", num_classes: int = 1, channel: int = 256,
                 tpavi_stages: Sequence[int] = (0, 1, 2, 3), align_bias: bool = True, window: int = 5,
                 narrow: bool = False, cgsl: bool = False, audio_dim: int = 128,
                 head_widths: tuple[int, int] = (128, 32), cgsl_audio: str = "head") -> None:
        super().__init__()
        net = build_backbone(backbone, narrow=narrow)
        self.backbone_name = backbone
        self.backbone_attr = "resnet" if backbone == "resnet50" else "encoder_backbone"
        setattr(self, self.backbone_attr, net)
        dims = net.out_channels
        self.window = window
        self.tpavi_stages = tuple(tpavi_stages)
        self.conv4 = DilatedSum(dims[3], channel)
        self.conv3 = DilatedSum(dims[2], channel)
        self.conv2 = DilatedSum(dims[1], channel)
        self.conv1 = DilatedSum(dims[0], channel)
        self.path4 = FusionBlock(channel)
        self.path3 = FusionBlock(channel)
        self.path2 = FusionBlock(channel)
        self.path1 = FusionBlock(channel)
        for i in self.tpavi_stages:
            setattr(self, f"tpavi_b{i + 1}", TPAVIBlock(channel, audio_dim, align_bias))
        self.output_conv = nn.Sequential(
            nn.Conv2d(channel, head_widths[0], 3, padding=1),
            Interpolate(2, "bilinear"),
            nn.Conv2d(head_widths[0], head_widths[1], 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(head_widths[1], num_classes, 1),
        )
        if cgsl_audio not in ("head", "vggish"):
            raise ValueError(f"cgsl_audio must be 'head' or 'vggish', not {cgsl_audio!r}")
        if cgsl and cgsl_audio == "head" and not self.tpavi_stages:
            raise ValueError("CGSL coupled to the head needs at least one TPAVI stage")
        # "head": the last TPAVI stage's aligned audio (width `channel`), i.e. what its attention uses
        self.cgsl_audio = cgsl_audio
        self.cgsl = CGSL(dims[3], channel if cgsl_audio == "head" else audio_dim) if cgsl else None
        self.num_classes = num_classes

    @property
    def backbone(self) -> nn.Module:
        return getattr(self, self.backbone_attr)

    def forward(self, frames: torch.Tensor, audio: torch.Tensor,
                frame_mask: torch.Tensor | None = None) -> AVSOutput:
        """frames [BT,3,H,W], audio VGGish embeddings [BT,128], frame_mask [BT] (AVSS padding) or None."""
        bt = frames.shape[0]
        if bt % self.window:
            raise ValueError(f"TPAVI needs a multiple of {self.window} frames, got {bt}")
        fmask = None if frame_mask is None else frame_mask.to(frames.dtype).view(-1, 1, 1, 1)

        def masked(x: torch.Tensor) -> torch.Tensor:
            return x if fmask is None else x * fmask

        if fmask is not None:  # the official AVSS scripts zero padded frames' audio embeddings first
            audio = audio * fmask.view(-1, 1)
        feats = self.backbone(frames)
        maps = [masked(neck(f)) for neck, f in zip((self.conv1, self.conv2, self.conv3, self.conv4), feats)]
        audio_feats: list = [None] * 4
        windows = audio.reshape(-1, self.window, audio.shape[-1])
        for i in self.tpavi_stages:
            x = maps[i]
            x5 = x.reshape(-1, self.window, *x.shape[1:])
            z, a = getattr(self, f"tpavi_b{i + 1}")(x5, windows)
            maps[i] = masked(z.reshape(x.shape))
            audio_feats[i] = a
        d4 = masked(self.path4(maps[3], size=maps[2].shape[-2:]))
        d3 = masked(self.path3(d4, maps[2], size=maps[1].shape[-2:]))
        d2 = masked(self.path2(d3, maps[1], size=maps[0].shape[-2:]))
        d1 = masked(self.path1(d2, maps[0]))
        logits = masked(self.output_conv(d1))
        sim, extra = None, {}
        if self.cgsl is not None:
            a = audio_feats[max(self.tpavi_stages)].reshape(bt, -1) if self.cgsl_audio == "head" else audio
            extra["cgsl_pair"] = self.cgsl.embed(a, feats[3])
            sim = similarity(*extra["cgsl_pair"])
        # The official decoder's in-place ReLU also rewrites the maps it hands to L_AVM.
        return AVSOutput(logits=logits, feature_maps=[F.relu(m) for m in maps], audio_feats=audio_feats,
                         similarity=sim, extra=extra)


def tpavi_official(backbone: str, subset: str) -> TPAVI:
    """The exact official configuration for `subset` in s4/ms3/avss (checkpoint parity)."""
    avss = str(subset) == "avss"
    return TPAVI(backbone, num_classes=71 if avss else 1, channel=256, align_bias=not avss)
