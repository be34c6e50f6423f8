"""PVT-v2 (Wang et al. 2022) with the parameter names of the released `pvt_v2_b5.pth`, plus a narrow variant.

Names follow the released checkpoint (`patch_embed{i}`, `block{i}.{j}.attn.{q,kv,proj,sr,norm}`,
`mlp.dwconv.dwconv`, `norm{i}`) so the ImageNet file and AVS checkpoints load unchanged. Attention
runs through `scaled_dot_product_attention` (same maths, fused kernels where available).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the residual branch per sample with probability p."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.training)


class DWConv(nn.Module):
    """Depth-wise 3x3 conv over the token grid (PVT-v2's positional cue inside the MLP)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        x = self.dwconv(x.transpose(1, 2).reshape(b, c, h, w))
        return x.flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = DWConv(hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = self.drop(self.act(self.dwconv(self.fc1(x), h, w)))
        return self.drop(self.fc2(x))


class Attention(nn.Module):
    """Spatial-reduction attention: keys/values come from a grid shrunk by `sr_ratio`."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool, sr_ratio: int, attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        q = self.q(x).reshape(b, n, heads, c // heads).transpose(1, 2)
        if self.sr_ratio > 1:
            grid = x.transpose(1, 2).reshape(b, c, h, w)
            x = self.norm(self.sr(grid).flatten(2).transpose(1, 2))
        kv = self.kv(x).reshape(b, -1, 2, heads, c // heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, kv[0], kv[1], dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, sr_ratio: int,
                 drop_path_p: float, norm_layer) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads, qkv_bias, sr_ratio)
        self.drop_path = DropPath(drop_path_p)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), h, w))
        return x + self.drop_path(self.mlp(self.norm2(x), h, w))


class OverlapPatchEmbed(nn.Module):
    """Strided conv with overlapping windows (7x7/4 first, then 3x3/2), then LayerNorm."""

    def __init__(self, patch_size: int, stride: int, in_chans: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch_size, stride=stride, padding=patch_size // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.proj(x)
        h, w = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


@dataclass(frozen=True)
class PVTv2Spec:
    embed_dims: tuple[int, int, int, int]
    num_heads: tuple[int, int, int, int]
    mlp_ratios: tuple[float, float, float, float]
    depths: tuple[int, int, int, int]
    sr_ratios: tuple[int, int, int, int] = (8, 4, 2, 1)
    drop_path_rate: float = 0.1


PVT_V2_B5 = PVTv2Spec((64, 128, 320, 512), (1, 2, 5, 8), (4, 4, 4, 4), (3, 6, 40, 3))
PVT_V2_NARROW = PVTv2Spec((16, 32, 64, 128), (1, 1, 2, 4), (4, 4, 4, 4), (1, 1, 1, 1), drop_path_rate=0.0)


class PyramidVisionTransformerV2(nn.Module):
    """Four feature maps at strides 4/8/16/32; no classification head (its `head.*` keys are dropped)."""

    def __init__(self, spec: PVTv2Spec = PVT_V2_B5, in_chans: int = 3) -> None:
        super().__init__()
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        total = sum(spec.depths)
        rates = [spec.drop_path_rate * j / (total - 1) for j in range(total)] if total > 1 else [0.0]
        cursor = 0
        prev = in_chans
        for i in range(4):
            dim = spec.embed_dims[i]
            embed = OverlapPatchEmbed(7 if i == 0 else 3, 4 if i == 0 else 2, prev, dim)
            blocks = nn.ModuleList(
                Block(dim, spec.num_heads[i], spec.mlp_ratios[i], True, spec.sr_ratios[i], rates[cursor + j], norm_layer)
                for j in range(spec.depths[i])
            )
            setattr(self, f"patch_embed{i + 1}", embed)
            setattr(self, f"block{i + 1}", blocks)
            setattr(self, f"norm{i + 1}", norm_layer(dim))
            cursor += spec.depths[i]
            prev = dim
        self.out_channels: tuple[int, int, int, int] = tuple(spec.embed_dims)  # type: ignore[assignment]
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i in range(1, 5):
            tokens, h, w = getattr(self, f"patch_embed{i}")(x)
            for blk in getattr(self, f"block{i}"):
                tokens = blk(tokens, h, w)
            tokens = getattr(self, f"norm{i}")(tokens)
            x = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
            outs.append(x)
        return outs


def pvt_v2_b5() -> PyramidVisionTransformerV2:
    """PVT-v2-b5 as used by TPAVI and AVSegFormer (81,443,008 parameters)."""
    return PyramidVisionTransformerV2(PVT_V2_B5)


def pvt_v2_narrow() -> PyramidVisionTransformerV2:
    """Same structure, 16-128 channels and one block per stage: a real PVT-v2 that trains on a CPU."""
    return PyramidVisionTransformerV2(PVT_V2_NARROW)
