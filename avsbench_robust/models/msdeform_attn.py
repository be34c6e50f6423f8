"""Multi-scale deformable attention (Deformable DETR) in plain PyTorch.

The original AVSegFormer needs a compiled CUDA op that breaks with new PyTorch releases; this module
computes the same thing with `F.grid_sample` (bilinear, zero padding, align_corners=False), so it
runs on any device, under autocast and with autograd. Parameter names and shapes match the original
`MSDeformAttn`, so its checkpoints load unchanged.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SpatialShapes = Sequence[tuple[int, int]]


def level_start_index(spatial_shapes: SpatialShapes) -> list[int]:
    """Offset of each level in the flattened (sum of H*W) token axis."""
    starts, acc = [], 0
    for h, w in spatial_shapes:
        starts.append(acc)
        acc += h * w
    return starts


def ms_deform_attn_sample(
    value: Tensor,
    spatial_shapes: SpatialShapes,
    sampling_locations: Tensor,
    attention_weights: Tensor,
) -> Tensor:
    """Weighted bilinear sampling of every level, summed over levels and points.

    value [N, S, M, D] (S = sum H_l*W_l), sampling_locations [N, Lq, M, L, P, 2] as (x, y) in [0, 1]
    (0 and 1 are the outer pixel edges), attention_weights [N, Lq, M, L, P] (already normalised).
    Returns [N, Lq, M*D]. Locations outside the map read zeros.
    """
    n, s, m, d = value.shape
    _, lq, _, n_levels, n_points, _ = sampling_locations.shape
    if n_levels < 1 or len(spatial_shapes) != n_levels:
        raise ValueError(f"{len(spatial_shapes)} spatial shapes for {n_levels} levels")
    if sum(h * w for h, w in spatial_shapes) != s:
        raise ValueError(f"spatial shapes {list(spatial_shapes)} do not cover {s} value tokens")
    # grid_sample wants [-1, 1]; one batch entry per (sample, head) so all heads share one call per level.
    # sample in the wider of the two dtypes: bf16 grids would be off by up to a quarter pixel at 128 px
    dtype = torch.promote_types(value.dtype, sampling_locations.dtype)
    value = value.to(dtype)
    # level-major copies, so each level's grid and weights are contiguous: [L, N*M, Lq, P, 2] / [L, N*M, 1, Lq, P]
    grids = (2.0 * sampling_locations.to(dtype) - 1.0).permute(3, 0, 2, 1, 4, 5)
    grids = grids.reshape(n_levels, n * m, lq, n_points, 2)
    weights = attention_weights.to(dtype).permute(3, 0, 2, 1, 4).reshape(n_levels, n * m, 1, lq, n_points)
    per_level = value.split([h * w for h, w in spatial_shapes], dim=1)
    out: Tensor | None = None
    for lvl, (h, w) in enumerate(spatial_shapes):
        v = per_level[lvl].permute(0, 2, 3, 1).reshape(n * m, d, h, w)
        sampled = F.grid_sample(v, grids[lvl], mode="bilinear", padding_mode="zeros", align_corners=False)
        # [N*M, D, Lq, P] * [N*M, 1, Lq, P] summed over points (no permute copy, unlike an einsum/bmm)
        contrib = (sampled * weights[lvl]).sum(-1)
        out = contrib if out is None else out + contrib
    return out.reshape(n, m * d, lq).transpose(1, 2)  # type: ignore[union-attr]


class MSDeformAttn(nn.Module):
    """Deformable attention over `n_levels` feature maps, `n_points` samples per head and level."""

    def __init__(self, d_model: int = 256, n_levels: int = 4, n_heads: int = 8, n_points: int = 4) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self._wh_cache: dict[tuple, Tensor] = {}
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Deformable-DETR init: offsets start on a ring of directions, one per head, growing with the point index."""
        if self.sampling_offsets.weight.is_meta:
            return
        nn.init.zeros_(self.sampling_offsets.weight)
        thetas = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = grid / grid.abs().max(-1, keepdim=True).values
        scale = torch.arange(1, self.n_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        grid = grid.view(self.n_heads, 1, 1, 2).expand(-1, self.n_levels, self.n_points, -1) * scale
        self.sampling_offsets.bias.copy_(grid.reshape(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(
        self,
        query: Tensor,
        reference_points: Tensor,
        value_input: Tensor,
        spatial_shapes: SpatialShapes,
        padding_mask: Tensor | None = None,
    ) -> Tensor:
        """query [N, Lq, C]; reference_points [N or 1, Lq, L, 2] (x, y) in [0, 1]; value_input [N, S, C].

        padding_mask [N, S] (True = padded token) zeroes those values, as the original does.
        """
        n, lq, _ = query.shape
        s = value_input.shape[1]
        value = self.value_proj(value_input)
        if padding_mask is not None:
            value = value.masked_fill(padding_mask[..., None], 0.0)
        value = value.view(n, s, self.n_heads, self.d_model // self.n_heads)
        offsets = self.sampling_offsets(query).view(n, lq, self.n_heads, self.n_levels, self.n_points, 2)
        weights = self.attention_weights(query).view(n, lq, self.n_heads, self.n_levels * self.n_points)
        weights = weights.softmax(-1).view(n, lq, self.n_heads, self.n_levels, self.n_points)
        # offsets are in pixels of each level: divide by (W, H) to get normalised units; at least
        # float32 so the locations keep sub-pixel precision under bf16 autocast
        loc_dtype = torch.promote_types(offsets.dtype, torch.float32)
        wh = self._level_wh(spatial_shapes, offsets.device, loc_dtype)
        locations = reference_points[:, :, None, :, None, :].to(loc_dtype) + offsets.to(loc_dtype) / wh
        out = ms_deform_attn_sample(value, spatial_shapes, locations, weights)
        return self.output_proj(out)

    def _level_wh(self, spatial_shapes: SpatialShapes, device: torch.device, dtype: torch.dtype) -> Tensor:
        """[1, 1, 1, L, 1, 2] of (W, H), cached so the forward never waits on a host->device copy."""
        shapes = tuple((int(h), int(w)) for h, w in spatial_shapes)
        key = (shapes, device, dtype)
        cached = self._wh_cache.get(key)
        if cached is None:
            with torch.inference_mode(False):  # a cache made under inference_mode would break later training
                cached = torch.tensor([[w, h] for h, w in shapes], dtype=dtype).view(1, 1, 1, -1, 1, 2).to(device)
            self._wh_cache[key] = cached
        return cached
