"""MSDeformAttn (grid_sample version) against a slow per-point bilinear reference in float64."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from avsbench_robust.models.msdeform_attn import MSDeformAttn, ms_deform_attn_sample


def _bilinear_zero_pad(img: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """img [D, H, W]; 0-d (x, y) normalised with 0 and 1 on the outer pixel edges; outside pixels read 0."""
    d, h, w = img.shape
    px, py = x * w - 0.5, y * h - 0.5  # align_corners=False: pixel centres at (i + 0.5) / size
    x0, y0 = math.floor(px.item()), math.floor(py.item())
    out = torch.zeros(d, dtype=img.dtype)
    for yy, wy in ((y0, 1.0 - (py - y0)), (y0 + 1, py - y0)):
        for xx, wx in ((x0, 1.0 - (px - x0)), (x0 + 1, px - x0)):
            if 0 <= xx < w and 0 <= yy < h:
                out += wx * wy * img[:, yy, xx]
    return out


def _reference_sample(value, shapes, locations, weights):
    """Obviously-correct loops: out[n, q, m] = sum_l sum_p w * bilinear(value_l[n, :, m], loc)."""
    n_, _, m_, d_ = value.shape
    _, lq, _, n_levels, n_points, _ = locations.shape
    starts = [0]
    for h, w in shapes:
        starts.append(starts[-1] + h * w)
    out = torch.zeros(n_, lq, m_, d_, dtype=value.dtype)
    for n in range(n_):
        for m in range(m_):
            maps = [value[n, starts[i]:starts[i + 1], m].T.reshape(d_, h, w) for i, (h, w) in enumerate(shapes)]
            for q in range(lq):
                for lvl in range(n_levels):
                    for p in range(n_points):
                        x, y = locations[n, q, m, lvl, p]
                        out[n, q, m] += weights[n, q, m, lvl, p] * _bilinear_zero_pad(maps[lvl], x, y)
    return out.reshape(n_, lq, m_ * d_)


SHAPES = [(6, 5), (3, 4), (2, 2)]


def _random_inputs(gen, n=2, lq=7, m=2, d=3, points=3, spread=0.35):
    s = sum(h * w for h, w in SHAPES)
    value = torch.randn(n, s, m, d, generator=gen, dtype=torch.float64)
    # some locations fall outside [0, 1] on purpose, to exercise the zero padding
    locations = torch.rand(n, lq, m, len(SHAPES), points, 2, generator=gen, dtype=torch.float64) * (1 + 2 * spread) - spread
    weights = torch.rand(n, lq, m, len(SHAPES), points, generator=gen, dtype=torch.float64)
    weights = weights / weights.flatten(-2).sum(-1)[..., None, None]
    return value, locations, weights


def test_sampling_matches_per_point_reference() -> None:
    gen = torch.Generator().manual_seed(0)
    value, locations, weights = _random_inputs(gen)
    fast = ms_deform_attn_sample(value, SHAPES, locations, weights)
    slow = _reference_sample(value, SHAPES, locations, weights)
    assert fast.dtype == torch.float64
    assert torch.allclose(fast, slow, atol=1e-9, rtol=0), (fast - slow).abs().max()
    assert (locations < 0).any() and (locations > 1).any()


def test_sampling_at_pixel_centre_reads_that_pixel() -> None:
    value = torch.arange(6 * 5, dtype=torch.float64).view(1, 30, 1, 1)
    # pixel (row 2, col 3) of a 6x5 map has its centre at ((3 + .5) / 5, (2 + .5) / 6)
    loc = torch.tensor([(3 + 0.5) / 5, (2 + 0.5) / 6], dtype=torch.float64).view(1, 1, 1, 1, 1, 2)
    out = ms_deform_attn_sample(value, [(6, 5)], loc, torch.ones(1, 1, 1, 1, 1, dtype=torch.float64))
    assert out.item() == pytest.approx(2 * 5 + 3)


def _reference_module_forward(mod: MSDeformAttn, query, ref, value_in, shapes, padding_mask=None):
    """The module's maths spelled out, with the slow sampler: offsets / (W, H), softmax over levels*points."""
    n, lq, _ = query.shape
    h_, l_, p_ = mod.n_heads, mod.n_levels, mod.n_points
    value = mod.value_proj(value_in)
    if padding_mask is not None:
        value = value * (~padding_mask)[..., None]
    value = value.view(n, -1, h_, mod.d_model // h_)
    offsets = mod.sampling_offsets(query).view(n, lq, h_, l_, p_, 2)
    logits = mod.attention_weights(query).view(n, lq, h_, l_ * p_)
    weights = (logits.exp() / logits.exp().sum(-1, keepdim=True)).view(n, lq, h_, l_, p_)
    wh = torch.tensor([[w, h] for h, w in shapes], dtype=query.dtype)
    locations = ref[:, :, None, :, None, :] + offsets / wh[None, None, None, :, None, :]
    return mod.output_proj(_reference_sample(value, shapes, locations, weights))


@pytest.mark.parametrize("with_padding", [False, True])
def test_module_matches_reference_float64(with_padding: bool) -> None:
    torch.manual_seed(1)
    d_model, heads, points = 8, 2, 2
    mod = MSDeformAttn(d_model, n_levels=len(SHAPES), n_heads=heads, n_points=points).double()
    with torch.no_grad():  # non-trivial offsets and weights (the init zeroes their weights)
        for p in mod.parameters():
            p.add_(0.3 * torch.randn_like(p))
    s = sum(h * w for h, w in SHAPES)
    n, lq = 2, 5
    query = torch.randn(n, lq, d_model, dtype=torch.float64)
    ref = torch.rand(n, lq, len(SHAPES), 2, dtype=torch.float64)
    value_in = torch.randn(n, s, d_model, dtype=torch.float64)
    mask = (torch.rand(n, s) < 0.2) if with_padding else None
    with torch.no_grad():
        fast = mod(query, ref, value_in, SHAPES, padding_mask=mask)
        slow = _reference_module_forward(mod, query, ref, value_in, SHAPES, padding_mask=mask)
    assert fast.shape == (n, lq, d_model)
    assert (fast - slow).abs().max().item() < 1e-6


def test_gradients_match_reference() -> None:
    """Backward through grid_sample agrees with autograd through the loop reference (value and locations)."""
    gen = torch.Generator().manual_seed(3)
    value, locations, weights = _random_inputs(gen, n=1, lq=3, m=1, d=2, points=2, spread=0.0)
    tensors = [t.clone().requires_grad_(True) for t in (value, locations, weights)]
    ms_deform_attn_sample(tensors[0], SHAPES, tensors[1], tensors[2]).square().sum().backward()
    ref = [t.clone().requires_grad_(True) for t in (value, locations, weights)]
    _reference_sample(ref[0], SHAPES, ref[1], ref[2]).square().sum().backward()
    for a, b in zip(tensors, ref):
        assert torch.allclose(a.grad, b.grad, atol=1e-8)


def test_init_matches_deformable_detr() -> None:
    mod = MSDeformAttn(256, n_levels=3, n_heads=8, n_points=4)
    assert tuple(mod.sampling_offsets.weight.shape) == (192, 256)
    assert tuple(mod.attention_weights.weight.shape) == (96, 256)
    bias = mod.sampling_offsets.bias.view(8, 3, 4, 2)
    # head 0 points along +x, head 2 along +y; point k sits k+1 pixels out, same on every level
    assert torch.allclose(bias[0, :, :, 0], torch.tensor([1.0, 2, 3, 4]).expand(3, 4))
    assert torch.allclose(bias[2, :, :, 1], torch.tensor([1.0, 2, 3, 4]).expand(3, 4), atol=1e-6)
    assert torch.count_nonzero(mod.attention_weights.weight) == 0


def test_bad_shapes_raise() -> None:
    value = torch.zeros(1, 10, 1, 2)
    with pytest.raises(ValueError, match="do not cover"):
        ms_deform_attn_sample(value, [(3, 3)], torch.zeros(1, 1, 1, 1, 1, 2), torch.ones(1, 1, 1, 1, 1))
