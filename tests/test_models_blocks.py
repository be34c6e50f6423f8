"""TPAVI's regrouped attention equals the explicit THW x THW attention; CGSL loss values and gradients;
the inference gate; the small configs run forward and backward."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from avsbench_robust.models import AVSNet, model_config
from avsbench_robust.models.cgsl import CGSL, apply_gate, cgsl_loss, gate_open
from avsbench_robust.models.tpavi import TPAVIBlock


def _explicit_tpavi(block: TPAVIBlock, x: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The non-local 'dot' block written out literally: x [B,C,T,H,W], audio [B,T,128]."""
    b, c, t, h, w = x.shape
    a = block.align_channel(audio)  # [B,T,C]
    a_map = a.permute(0, 2, 1)[..., None, None].expand(b, c, t, h, w)
    g = block.g(x).reshape(b, block.inter, -1).permute(0, 2, 1)  # [B,N,Ci]
    theta = block.theta(x).reshape(b, block.inter, -1).permute(0, 2, 1)  # [B,N,Ci]
    phi = block.phi(a_map).reshape(b, block.inter, -1)  # [B,Ci,N]
    f = theta @ phi / (t * h * w)  # [B,N,N]
    y = (f @ g).permute(0, 2, 1).reshape(b, block.inter, t, h, w)
    z = block.W_z(y) + x
    z = block.norm_layer(z.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
    return z, a


@pytest.mark.parametrize("align_bias", [True, False])
def test_tpavi_block_equals_explicit_attention(align_bias: bool) -> None:
    torch.manual_seed(0)
    block = TPAVIBlock(16, 128, align_bias=align_bias).double()
    with torch.no_grad():  # non-trivial BN so W_z matters
        block.W_z[1].weight.normal_()
        block.W_z[1].bias.normal_()
        block.W_z[1].running_mean.normal_()
        block.W_z[1].running_var.uniform_(0.5, 2.0)
    block.eval()
    x = torch.randn(2, 16, 5, 6, 7, dtype=torch.float64)
    audio = torch.randn(2, 5, 128, dtype=torch.float64)
    want_z, want_a = _explicit_tpavi(block, x, audio)
    got_z, got_a = block(x.permute(0, 2, 1, 3, 4), audio)
    torch.testing.assert_close(got_z.permute(0, 2, 1, 3, 4), want_z, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(got_a, want_a)
    # training mode (batch statistics) agrees too, and gradients flow to every weight
    block.train()
    want_z, _ = _explicit_tpavi(block, x, audio)
    got_z, _ = block(x.permute(0, 2, 1, 3, 4), audio)
    torch.testing.assert_close(got_z.permute(0, 2, 1, 3, 4), want_z, rtol=1e-9, atol=1e-9)
    got_z.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_cgsl_loss_hand_values() -> None:
    sim = torch.tensor([1.0, 0.0, -1.0, 0.5])
    pos = torch.tensor([1, 1, 0, 0])
    # -log(sigmoid(1)), -log(sigmoid(0)), -log(1 - sigmoid(-1)), -log(1 - sigmoid(0.5))
    want = [math.log1p(math.exp(-1.0)), math.log(2.0), math.log1p(math.exp(-1.0)), math.log1p(math.exp(0.5))]
    assert cgsl_loss(sim, pos).item() == pytest.approx(sum(want) / 4, rel=1e-6)
    # label flips the loss: a perfectly aligned pair (cos = 1) is cheap as positive, dear as negative
    one = torch.tensor([1.0])
    assert cgsl_loss(one, torch.tensor([1])) < cgsl_loss(one, torch.tensor([0]))
    # weights drop frames
    assert cgsl_loss(sim, pos, torch.tensor([1, 0, 0, 0])).item() == pytest.approx(want[0], rel=1e-6)


def test_cgsl_projects_to_any_stage4_width_and_gradient_reaches_projection() -> None:
    torch.manual_seed(0)
    for c4 in (512, 2048, 128):
        head = CGSL(c4)
        audio = torch.randn(6, 128, requires_grad=True)
        visual = torch.randn(6, c4, 3, 3, requires_grad=True)
        sim = head(audio, visual)
        assert sim.shape == (6,) and bool((sim.abs() <= 1 + 1e-6).all())
        # cosine of the GAP: matches a direct computation
        want = F.cosine_similarity(head.audio_proj(audio), visual.mean((-2, -1)), dim=-1)
        torch.testing.assert_close(sim, want)
        cgsl_loss(sim, torch.tensor([1, 1, 1, 0, 0, 0])).backward()
        assert head.audio_proj.weight.grad is not None and head.audio_proj.weight.grad.abs().sum() > 0
        assert visual.grad.abs().sum() > 0 and audio.grad.abs().sum() > 0


def test_cgsl_training_separates_pairs() -> None:
    """A few optimiser steps on fixed features push sigmoid(sim) up for positives, down for negatives."""
    torch.manual_seed(1)
    head = CGSL(32)
    visual = torch.randn(8, 32, 2, 2)
    audio = torch.randn(8, 128)
    pos = torch.tensor([1, 0] * 4)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    before = head(audio, visual).detach()
    for _ in range(60):
        opt.zero_grad()
        cgsl_loss(head(audio, visual), pos).backward()
        opt.step()
    after = head(audio, visual).detach()
    assert after[pos == 1].mean() > before[pos == 1].mean() and after[pos == 0].mean() < before[pos == 0].mean()
    assert bool((gate_open(after, 0.5) == pos.bool()).all())


def test_gate_empties_only_rejected_frames() -> None:
    probs = torch.full((3, 1, 4, 4), 0.9)
    sim = torch.tensor([0.5, -0.5, 0.0])  # sigmoid: 0.62, 0.38, 0.5
    gated = apply_gate(probs, sim, tau=0.5)
    assert gated[0].eq(0.9).all() and gated[1].eq(0).all() and gated[2].eq(0.9).all()


@pytest.mark.parametrize("backbone", ["resnet50", "pvt_v2_b5"])
@pytest.mark.parametrize("subset", ["s4", "avss"])
def test_small_tpavi_forward_backward(backbone: str, subset: str) -> None:
    torch.manual_seed(0)
    cfg = dataclasses.replace(model_config("tpavi", backbone, subset, size="small", cgsl=True), image_size=64)
    net = AVSNet(cfg)
    t = cfg.frames
    frames = torch.randn(2 * t, 3, cfg.image_size, cfg.image_size)
    out = net(frames, torch.randn(2 * t, 1, 96, 64), torch.ones(2 * t) if subset == "avss" else None)
    assert out.logits.shape == (2 * t, cfg.num_classes, cfg.image_size, cfg.image_size)
    assert out.similarity.shape == (2 * t,)
    (out.logits.mean() + out.similarity.sum()).backward()
    assert net.model.cgsl.audio_proj.weight.grad is not None
    extra = [k for k in net.model.state_dict() if k.startswith("cgsl.")]
    assert extra == ["cgsl.audio_proj.weight", "cgsl.audio_proj.bias"] and list(net.model.state_dict())[-2:] == extra


@pytest.mark.parametrize("size", [(3, 3), (7, 7), (14, 5), (28, 28)])
def test_dilated_sum_shortcut_is_exact(size: tuple[int, int]) -> None:
    from avsbench_robust.models.tpavi import DilatedSum

    torch.manual_seed(0)
    m = DilatedSum(8, 4).double()
    x = torch.randn(2, 8, *size, dtype=torch.float64)
    want = sum(conv(x) for conv in m.conv2d_list)
    torch.testing.assert_close(m(x), want, rtol=1e-10, atol=1e-10)


def test_losses_respect_weights() -> None:
    from avsbench_robust.models.losses import avm_loss, bce_loss, dice_loss
    from avsbench_robust.models.tpavi import AVSOutput

    logits = torch.zeros(2, 1, 8, 8, requires_grad=True)
    empty = torch.zeros(2, 1, 8, 8)
    # Dice with an empty GT is the constant 1, as in the original AVSegFormer: no signal for negatives
    loss = dice_loss(logits, empty, torch.ones(2))
    loss.backward()
    assert loss.item() == 1.0 and (logits.grad == 0).all()
    # BCE only counts supervised frames
    gt = torch.stack([torch.ones(1, 8, 8), torch.zeros(1, 8, 8)])
    assert bce_loss(torch.full((2, 1, 8, 8), 5.0), gt, torch.tensor([1.0, 0.0])).item() == pytest.approx(
        F.softplus(torch.tensor(-5.0)).item(), rel=1e-5)
    # L_AVM: zero weight -> zero loss; matching audio/visual directions -> lower than mismatched
    v = torch.randn(5, 4, 3, 3)
    a = v.mean((-2, -1)).reshape(1, 5, 4)
    out = AVSOutput(logits=torch.full((5, 1, 6, 6), 10.0), feature_maps=[v], audio_feats=[a])
    bad = AVSOutput(logits=out.logits, feature_maps=[v], audio_feats=[-a])
    assert avm_loss(out, torch.zeros(5), (0,)).item() == 0.0
    assert avm_loss(out, torch.ones(5), (0,)) < avm_loss(bad, torch.ones(5), (0,))


def test_untrained_vggish_keeps_inputs_apart() -> None:
    """With PyTorch's default init the embeddings of silence and sound were ~1% apart (audio unlearnable)."""
    from avsbench_robust.models.vggish import vggish

    torch.manual_seed(0)
    net = vggish(small=True)
    sound = torch.randn(5, 1, 96, 64) * 2 - 1
    silence = torch.full((5, 1, 96, 64), -4.6)
    with torch.no_grad():
        a, b = net(sound), net(silence)
    assert ((a - b).norm(dim=1) / (a.norm(dim=1) + b.norm(dim=1))).min() > 0.1
