"""AVSegFormer small config: forward shapes, CGSL hook, a real training step, losses, timing sanity."""
from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F

from avsbench_robust.errors import InputFileError
from avsbench_robust.models.avsegformer import (
    avsegformer_model,
    build_avsegformer,
    load_avsegformer_checkpoint,
    sine_position_embedding,
)
from avsbench_robust.models.cgsl import cgsl_loss
from avsbench_robust.models.configs import model_config
from avsbench_robust.models.losses import avsegformer_seg_loss, dice_loss
from avsbench_robust.models.tpavi import AVSOutput

SIZE = 112


def avsegformer_loss(out: AVSOutput, target, weight=None, semantic: bool = False):
    """The training loss (models.losses) with this file's target layout: [N,H,W] binary or class map."""
    n = target.shape[0]
    weight = torch.ones(n) if weight is None else weight
    gt = target.long() if semantic else target.float().unsqueeze(1)
    seg, mix = avsegformer_seg_loss(out, gt, weight, semantic, 0.1)
    return seg + mix, {"seg": seg, "mix": mix}


def _inputs(n: int, seed: int = 0, size: int = SIZE):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=gen), torch.randn(n, 1, 96, 64, generator=gen)


@pytest.mark.parametrize("backbone", ["resnet50", "pvt_v2_b5"])
def test_s4_forward_shapes_and_cgsl_outputs(backbone: str) -> None:
    torch.manual_seed(0)
    model = avsegformer_model(backbone, "s4", small=True, cgsl=True).eval()
    frames, audio = _inputs(5)
    with torch.no_grad():
        out = model(frames, audio)
    assert out.logits.shape == (5, 1, SIZE, SIZE)
    assert out.similarity is not None and out.similarity.shape == (5,)
    assert out.similarity.abs().max() <= 1.0 + 1e-6  # a cosine
    c4 = model.backbone.out_channels[-1]
    stage4 = -(-SIZE // 32)  # 112 px -> 4x4 (strided convs round up)
    assert out.extra["visual_feature"].shape == (5, c4, stage4, stage4)
    assert out.extra["audio_feature"].shape == (5, 128)
    assert out.extra["mask_feature"].shape == (5, 32, SIZE // 4, SIZE // 4)
    assert torch.allclose(out.extra["mix_logits"], out.extra["mask_feature"].mean(1, keepdim=True))
    assert torch.isfinite(out.logits).all()
    # precomputed VGGish features give the same result as log-mel through the model's VGGish
    with torch.no_grad():
        again = model(frames, out.extra["audio_feature"])
    assert torch.allclose(again.logits, out.logits, atol=1e-5)


def test_avss_forward_71_classes_and_frame_mask() -> None:
    torch.manual_seed(0)
    model = avsegformer_model("resnet50", "avss", small=True).eval()
    assert model.cfg.frames == 10
    frames, audio = _inputs(10, size=64)
    mask = torch.tensor([1.0] * 5 + [0.0] * 5)  # a v1s clip: 5 real frames, 5 padded
    with torch.no_grad():
        out = model(frames, audio, frame_mask=mask)
        free = model(frames, audio)
    assert out.logits.shape == (10, 71, 64, 64)
    assert out.similarity is None
    assert out.logits[5:].abs().max() == 0 and out.extra["mask_feature"][5:].abs().max() == 0
    assert out.logits[:5].abs().max() > 0
    # frames never interact: masking the padded ones leaves the real ones unchanged
    assert torch.allclose(out.logits[:5], free.logits[:5], atol=1e-5)


def test_audio_changes_the_prediction() -> None:
    torch.manual_seed(0)
    model = avsegformer_model("pvt_v2_b5", "s4", small=True).eval()
    frames, audio = _inputs(2)
    with torch.no_grad():
        a = model(frames, audio).logits
        b = model(frames, torch.zeros_like(audio)).logits
    assert (a - b).abs().max() > 1e-4


def test_bad_inputs_raise_clear_errors() -> None:
    model = avsegformer_model("resnet50", "s4", small=True)
    frames, audio = _inputs(2)
    with pytest.raises(ValueError, match="share the B\\*T axis"):
        model(frames, audio[:1])
    with pytest.raises(ValueError, match="log-mel"):
        model(frames, torch.zeros(2, 64))
    with pytest.raises(ValueError, match="not an AVSegFormer"):
        build_avsegformer(model_config("tpavi", "resnet50", "s4", "small"))


def _train_steps(model, frames, audio, target, weight, semantic: bool, steps: int) -> list[float]:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    positive = torch.ones(frames.shape[0])
    for _ in range(steps):
        out = model(frames, audio)
        loss, parts = avsegformer_loss(out, target, weight, semantic=semantic)
        assert set(parts) == {"seg", "mix"}
        if out.similarity is not None:
            loss = loss + cgsl_loss(out.similarity, positive)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_backward_step_trains_head_backbone_and_cgsl_not_vggish() -> None:
    torch.manual_seed(0)
    model = build_avsegformer(model_config("avsegformer", "resnet50", "s4", "small", cgsl=True)).train()
    model.freeze_audio(True)  # as the original (VGGish frozen); the backbone trains
    frames, audio = _inputs(5, size=64)
    target = torch.zeros(5, 64, 64)
    target[:, 10:40, 20:50] = 1
    weight = torch.tensor([1.0, 0, 0, 0, 0])  # S4: only the first frame has a GT
    vgg_before = [p.clone() for p in model.vggish.parameters()]
    fpn_before = [p.clone() for p in model.head.fpn.parameters()]
    out = model(frames, audio)
    loss, _ = avsegformer_loss(out, target, weight)
    (loss + cgsl_loss(out.similarity, torch.ones(5))).backward()
    for name in ("head.fc.4.weight", "head.transformer.encoder.layers.0.self_attn.sampling_offsets.weight",
                 "head.query_generator.layers.0.cross_attn.in_proj_weight", "audio_proj.weight",
                 "backbone.conv1.weight", "cgsl.audio_proj.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert all(p.grad is None for p in model.vggish.parameters())
    losses = _train_steps(model, frames, audio, target, weight, semantic=False, steps=3)
    assert losses[-1] < losses[0]
    assert all(torch.equal(a, b) for a, b in zip(vgg_before, model.vggish.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(fpn_before, model.head.fpn.parameters()))


def test_training_after_inference_mode_evaluation() -> None:
    """Validation under torch.inference_mode must not poison the model's shape caches for training."""
    model = avsegformer_model("resnet50", "s4", small=True)
    frames, audio = _inputs(2, size=64)
    with torch.inference_mode():
        model.eval()(frames, audio)
    out = model.train()(frames, audio)
    out.logits.sum().backward()
    assert model.head.fc[4].weight.grad is not None


def test_bf16_autocast_forward_backward() -> None:
    """The CUDA training path (bf16 autocast) on the CPU: finite, close to fp32, gradients flow."""
    torch.manual_seed(0)
    model = avsegformer_model("pvt_v2_b5", "s4", small=True, cgsl=True)
    frames, audio = _inputs(2, size=64)
    with torch.no_grad():
        ref = model.eval()(frames, audio).logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.train()(frames, audio)
        loss, _ = avsegformer_loss(out, torch.zeros(2, 64, 64))
    (loss + out.similarity.sum()).backward()
    assert torch.isfinite(model.head.transformer.encoder.layers[0].self_attn.sampling_offsets.weight.grad).all()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = model.eval()(frames, audio).logits.float()
    assert (low - ref).abs().max() < 0.05 * ref.abs().max() + 0.05


def test_freezing_switches() -> None:
    model = avsegformer_model("pvt_v2_b5", "s4", small=True)
    assert all(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.vggish.parameters())  # a VGGish without weights trains
    model.freeze_backbone(True)
    model.freeze_audio(True)
    frames, audio = _inputs(2, size=64)
    model(frames, audio).logits.sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is None for p in model.vggish.parameters())
    assert model.head.in_proj[0][0].weight.grad is not None


def test_avss_training_step_reduces_loss() -> None:
    torch.manual_seed(0)
    model = avsegformer_model("pvt_v2_b5", "avss", small=True).train()
    model.freeze_audio(True)
    frames, audio = _inputs(10, size=64)
    target = torch.zeros(10, 64, 64, dtype=torch.long)
    target[:, 10:40, 20:60] = 7
    weight = torch.tensor([1.0] * 5 + [0.0] * 5)
    losses = _train_steps(model, frames, audio, target, weight, semantic=True, steps=3)
    assert losses[-1] < losses[0]


def test_small_config_step_is_fast() -> None:
    """One clip (5 frames) at 112 px, one thread: forward + backward + AdamW step well under a second on a free core."""
    torch.manual_seed(0)
    model = avsegformer_model("resnet50", "s4", small=True).train()
    frames, audio = _inputs(5)
    target = (torch.rand(5, SIZE, SIZE) > 0.5).float()
    _train_steps(model, frames, audio, target, None, semantic=False, steps=1)  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        _train_steps(model, frames, audio, target, None, semantic=False, steps=1)
        times.append(time.perf_counter() - t0)
    best = min(times)
    assert best < 2.0, f"{best:.2f}s per step (limit 2 s: the CI machine is shared)"


def test_checkpoint_loading_strips_module_prefix_and_reports_mismatches(tmp_path) -> None:
    torch.manual_seed(0)
    src = avsegformer_model("resnet50", "s4", small=True)
    # DataParallel-style names, as some released files have them
    path = tmp_path / "ckpt.pth"
    torch.save({f"module.{k}": v for k, v in src.state_dict().items()}, path)
    dst = avsegformer_model("resnet50", "s4", small=True, cgsl=True)  # + CGSL: its weights stay fresh
    load_avsegformer_checkpoint(dst, path)
    assert all(torch.equal(v, dst.state_dict()[k]) for k, v in src.state_dict().items())

    bad = dict(src.state_dict())
    bad.pop("head.fc.4.weight")
    bad["audio_proj.weight"] = torch.zeros(3, 3)
    torch.save(bad, path)
    with pytest.raises(InputFileError, match=r"ckpt\.pth: .*1 missing key\(s\), e\.g\. head\.fc\.4\.weight.*audio_proj"):
        load_avsegformer_checkpoint(dst, path)
    avss = avsegformer_model("resnet50", "avss", small=True)
    torch.save(src.state_dict(), path)  # 1-class head into a 71-class model
    with pytest.raises(InputFileError, match="head.fc.4.weight has shape"):
        load_avsegformer_checkpoint(avss, path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(InputFileError, match="ckpt.pth"):
        load_avsegformer_checkpoint(avss, path)


# ----- losses ---------------------------------------------------------------------------------------------


def _out(logits, feat) -> AVSOutput:
    return AVSOutput(logits=logits, extra={"mix_logits": feat.mean(1, keepdim=True)})


def test_dice_matches_formula_and_is_flat_on_empty_gt() -> None:
    prob = torch.tensor([[0.2, 0.9, 0.5, 1e-12]], dtype=torch.float64)
    gt = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    a, b, c = 0.9 + 0.5, 0.04 + 0.81 + 0.25 + 0.001, 2 + 0.001
    assert dice_loss(torch.logit(prob), gt, torch.ones(1)).item() == pytest.approx(1 - 2 * a / (b + c))
    p = torch.randn(2, 16, requires_grad=True)
    loss = dice_loss(p, torch.zeros(2, 16), torch.ones(2))
    loss.backward()
    assert loss.item() == 1.0 and p.grad.abs().max() == 0  # empty GT: no signal from Dice (as the original)


def test_binary_loss_equals_original_first_frame_selection() -> None:
    """S4: weights 1 on frame 0 of each clip == the original's index_select(0, 5, ...) then mean."""
    torch.manual_seed(0)
    logits = torch.randn(10, 1, 16, 16)
    feat = torch.randn(10, 8, 4, 4)
    gt = (torch.rand(10, 16, 16) > 0.6).float()
    weight = torch.zeros(10)
    weight[[0, 5]] = 1
    total, parts = avsegformer_loss(_out(logits, feat), gt, weight)
    sel = torch.tensor([0, 5])

    def dice(p, g):
        p, g = p.flatten(1), g.flatten(1)
        return (1 - 2 * (p * g).sum(-1) / ((p * p).sum(-1) + 0.001 + (g * g).sum(-1) + 0.001)).mean()

    seg = dice(logits[sel].sigmoid(), gt[sel])
    mix = dice(F.interpolate(feat.mean(1, keepdim=True), size=(16, 16), mode="bilinear")[sel].sigmoid(), gt[sel])
    assert total.item() == pytest.approx((seg + 0.1 * mix).item(), rel=1e-6)
    assert parts["seg"].item() == pytest.approx(seg.item(), rel=1e-6)


def test_semantic_loss_matches_original_avss() -> None:
    """AVSS: cross-entropy + 0.1 x Dice(mix, GT > 0), GT-frame weighted; a non-background GT must not crash
    (the old one-hot mix path raised on it)."""
    torch.manual_seed(0)
    logits = torch.randn(4, 71, 8, 8)
    feat = torch.randn(4, 8, 2, 2)
    gt = torch.randint(0, 71, (4, 8, 8))
    flag = torch.tensor([1.0, 1.0, 0.0, 1.0])
    total, _ = avsegformer_loss(_out(logits, feat), gt, flag, semantic=True)
    ce = (F.cross_entropy(logits, gt, reduction="none").mean((-1, -2)) * flag).sum() / flag.sum()
    m = F.interpolate(feat.mean(1, keepdim=True), size=(8, 8), mode="bilinear").sigmoid().flatten(1)
    g = (gt > 0).float().flatten(1)
    mix = ((1 - 2 * (m * g).sum(-1) / ((m * m).sum(-1) + 0.001 + g.sum(-1) + 0.001)) * flag).sum() / flag.sum()
    assert total.item() == pytest.approx((ce + 0.1 * mix).item(), rel=1e-6)


# ----- pure helpers ---------------------------------------------------------------------------------------


def test_sine_embedding_matches_cumsum_definition() -> None:
    """DETR's definition: positions are cumulative sums of the valid mask; sin/cos interleaved; y then x."""
    h, w, f = 3, 5, 8
    valid = torch.ones(1, h, w)
    y, x = valid.cumsum(1), valid.cumsum(2)
    dim_t = 10000 ** (2 * (torch.arange(f) // 2) / f)
    px, py = x[..., None] / dim_t, y[..., None] / dim_t
    px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), dim=4).view(1, h, w, -1)
    py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), dim=4).view(1, h, w, -1)
    expected = torch.cat((py, px), dim=3).permute(0, 3, 1, 2)
    assert torch.allclose(sine_position_embedding(h, w, f, torch.device("cpu")), expected, atol=1e-6)
