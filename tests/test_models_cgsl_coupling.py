"""CGSL coupled as the authors built it: the similarity is taken from the audio token the segmentation
head consumes, so the CGSL loss alone moves that path (TPAVI: the stage-4 block's `align_channel`;
AVSegFormer: `audio_proj`). The earlier decoupled variant ("vggish") gives exactly zero there."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from avsbench_robust.models import AVSNet, cgsl_loss, model_config
from avsbench_robust.models.configs import ModelConfig, from_dict, to_dict

# parameter of the head-side audio path that CGSL must reach, per model
HEAD_AUDIO = {"tpavi": "model.tpavi_b4.align_channel.weight", "avsegformer": "model.audio_proj.weight"}


def _cgsl_only_grads(model: str, backbone: str, cgsl_audio: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    cfg = dataclasses.replace(model_config(model, backbone, "s4", "small", cgsl=True), image_size=64,
                              cgsl_audio=cgsl_audio)
    net = AVSNet(cfg).train()
    frames, audio = torch.randn(10, 3, 64, 64), torch.randn(10, 1, 96, 64)
    out = net(frames, audio)
    cgsl_loss(out.similarity, torch.tensor([1.0] * 5 + [0.0] * 5)).backward()
    return {n: (p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in net.named_parameters()}


@pytest.mark.parametrize("model,backbone", [("tpavi", "pvt_v2_b5"), ("tpavi", "resnet50"),
                                            ("avsegformer", "pvt_v2_b5")])
def test_cgsl_loss_alone_reaches_the_audio_the_head_sees(model: str, backbone: str) -> None:
    grads = _cgsl_only_grads(model, backbone, "head")
    assert grads[HEAD_AUDIO[model]].abs().sum() > 0
    assert grads["model.cgsl.audio_proj.weight"].abs().sum() > 0
    # and the visual side it compares against (the backbone's stage 4)
    assert any(g.abs().sum() > 0 for n, g in grads.items() if ".backbone." in f".{n}" or "encoder_backbone" in n
               or ".resnet." in n)


@pytest.mark.parametrize("model", ["tpavi", "avsegformer"])
def test_decoupled_variant_never_reaches_the_head(model: str) -> None:
    """What the issue measured on the earlier version: zero gradient into the head's audio path."""
    grads = _cgsl_only_grads(model, "pvt_v2_b5", "vggish")
    assert grads[HEAD_AUDIO[model]].abs().sum() == 0


def test_coupled_cgsl_widths_and_key_order() -> None:
    for model, width in (("tpavi", 32), ("avsegformer", 32)):
        cfg = model_config(model, "pvt_v2_b5", "s4", "small", cgsl=True)
        assert cfg.cgsl_audio == "head"
        sd = AVSNet(cfg).model.state_dict()
        assert list(sd)[-2:] == ["cgsl.audio_proj.weight", "cgsl.audio_proj.bias"]
        assert tuple(sd["cgsl.audio_proj.weight"].shape) == (128, width)  # narrow PVT stage 4 x head audio width


def test_checkpoints_without_the_field_rebuild_as_the_decoupled_variant() -> None:
    old = to_dict(model_config("tpavi", "pvt_v2_b5", "s4", "small", cgsl=True))
    del old["cgsl_audio"]
    assert from_dict(ModelConfig, old).cgsl_audio == "vggish"
    with pytest.raises(ValueError, match="cgsl_audio"):
        AVSNet(dataclasses.replace(model_config("tpavi", "pvt_v2_b5", "s4", "small", cgsl=True), cgsl_audio="x"))
