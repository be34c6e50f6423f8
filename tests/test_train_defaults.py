"""Training defaults per model x subset = the original scripts' (docs/models.md cites file and line), and one
optimisation step of every DEFAULT (full-size) configuration through train.py's own step function.

The step runs the published architectures (PVT-v2-b5 backbone, 256-d decoder, VGGish) with their default
TrainConfig (optimizer, lr, weight decay, loss weights, masked stages, backbone warm-up) on one real clip of
the embedded synthetic dataset; only the frame size (64 px instead of 224) and the batch (1 clip instead of
2-4) are shrunk so that six full-size steps fit the CPU budget.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

from avsbench_robust.models import build_model
from avsbench_robust.models.configs import model_config, train_config
from avsbench_robust.models.inputs import FeatureSource, clip_arrays, clips_from_index
from avsbench_robust.train import collate, make_optimizer, train_step

CASES = [(m, s) for m in ("tpavi", "avsegformer") for s in ("s4", "ms3", "avss")]

# (epochs, clips a batch, optimizer, lr, weight decay, lambda_avm, backbone warm-up epochs)
ORIGINAL = {
    ("tpavi", "s4"): (15, 4, "adam", 1e-4, 0.0, 0.0, 0),
    ("tpavi", "ms3"): (30, 4, "adam", 1e-4, 0.0, 0.5, 0),
    ("tpavi", "avss"): (60, 4, "adam", 1e-4, 0.0, 0.5, 0),
    ("avsegformer", "s4"): (30, 2, "adamw", 2e-5, 0.01, 0.0, 5),
    ("avsegformer", "ms3"): (60, 2, "adamw", 2e-5, 0.01, 0.0, 10),
    ("avsegformer", "avss"): (30, 4, "adamw", 2e-5, 0.01, 0.0, 0),
}


@pytest.mark.parametrize("model,subset", CASES)
@pytest.mark.parametrize("backbone", ["resnet50", "pvt_v2_b5"])
def test_defaults_are_the_original_scripts(model: str, subset: str, backbone: str) -> None:
    t = train_config(model_config(model, backbone, subset))
    assert (t.epochs, t.batch_clips, t.optimizer, t.lr, t.weight_decay, t.lambda_avm,
            t.freeze_backbone_epochs) == ORIGINAL[(model, subset)]
    assert t.avm_stages == (0, 1, 2, 3) and t.avm_normalise is False and t.mix_weight == 0.1


def test_overrides_win_and_small_is_cpu_sized() -> None:
    mcfg = model_config("tpavi", "pvt_v2_b5", "ms3", "small")
    t = train_config(mcfg, epochs=3, lambda_avm=0.0)
    assert (t.epochs, t.lambda_avm, t.lr) == (3, 0.0, 1e-3)


@pytest.mark.parametrize("model,subset", CASES)
def test_one_step_of_the_default_full_configuration(model: str, subset: str, synth_root) -> None:
    from avsbench_robust.data.avsbench import load_index

    torch.manual_seed(0)
    mcfg = dataclasses.replace(model_config(model, "pvt_v2_b5", subset), image_size=64)
    tcfg = train_config(mcfg)
    assert mcfg.size == "full" and mcfg.channel == 256
    clips = clips_from_index(load_index(synth_root, subset))
    clip = next(c for c in clips if c.split == "train")
    batch = collate([clip_arrays(clip, "positive", FeatureSource(subset, clips), mcfg.frames, mcfg.image_size)])
    if subset == "avss":  # exercise padding: the last 3 frames become padding
        batch["frame_mask"][-3:] = 0
    net = build_model(mcfg).train()
    opt, backbone = make_optimizer(net, tcfg)
    assert isinstance(opt, torch.optim.AdamW if model == "avsegformer" else torch.optim.Adam)
    assert opt.defaults["lr"] == tcfg.lr and opt.defaults["weight_decay"] == tcfg.weight_decay
    frozen = backbone if tcfg.freeze_backbone_epochs > 0 else ()
    head = next(p for n, p in net.named_parameters() if n.startswith(("model.output_conv", "model.head.fc")))
    before_head, before_bb = head.detach().clone(), backbone[0].detach().clone()
    parts = train_step(net, opt, batch, mcfg, tcfg, torch.device("cpu"), frozen)
    assert all(torch.isfinite(torch.tensor(v)) for v in parts.values()), parts
    want = {"seg", "total"} | ({"avm"} if tcfg.lambda_avm else set()) | ({"mix"} if model == "avsegformer" else set())
    assert set(parts) == want
    assert not torch.equal(head, before_head)
    assert torch.equal(backbone[0], before_bb) == bool(frozen)
