"""State-dict parity with the original AVSegFormer checkpoints, and numerical parity of the head.

The JSON key/shape lists are copied from shared/spec/official_state_dicts (built from the official
repository). `avsegformer_head_small_golden.npz` holds a tiny AVSegHead built with the official code
(float64, widths shrunk with the official classes), its inputs and its outputs: our head must load
those weights strictly and reproduce the outputs.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from avsbench_robust.models.avsegformer import (
    AVSegFormerHead,
    avsegformer_config,
    avsegformer_model,
    small_avsegformer_config,
)

DATA = Path(__file__).parent / "data" / "state_dicts"
SPECS = [(bb, tag, sub) for bb, tag in (("resnet50", "resnet50"), ("pvt_v2_b5", "pvtv2b5")) for sub in ("s4", "ms3", "avss")]


def _spec(tag: str, subset: str) -> dict:
    return json.loads((DATA / f"avsegformer_{tag}_{subset}.json").read_text())


def _meta_model(backbone: str, subset: str, cgsl: bool = False):
    with torch.device("meta"):  # shapes only: no memory, no init cost
        return avsegformer_model(backbone, subset, cgsl=cgsl)


@pytest.mark.parametrize("backbone,tag,subset", SPECS)
def test_state_dict_matches_official(backbone: str, tag: str, subset: str) -> None:
    spec = _spec(tag, subset)
    model = _meta_model(backbone, subset)
    ours = model.state_dict()
    assert list(ours) == list(spec["state_dict"]), "keys or their order differ"
    shapes = {k: list(v.shape) for k, v in ours.items()}
    bad = {k: (shapes[k], v) for k, v in spec["state_dict"].items() if shapes[k] != v}
    assert not bad
    for key, dtype in spec["non_float32_keys"].items():
        assert str(ours[key].dtype) == dtype, key
    assert all(v.dtype == torch.float32 for k, v in ours.items() if k not in spec["non_float32_keys"])
    assert sum(p.numel() for p in model.parameters()) == spec["num_parameters"]
    assert sorted(k for k, _ in model.named_buffers()) == sorted(spec["buffer_keys"])
    # an original checkpoint (same keys, shapes, dtypes) loads strictly
    ckpt = {k: torch.empty(v, dtype=getattr(torch, spec["non_float32_keys"].get(k, "torch.float32").split(".")[1]),
                           device="meta") for k, v in spec["state_dict"].items()}
    model.load_state_dict(ckpt, strict=True, assign=True)


@pytest.mark.parametrize("backbone,tag", [("resnet50", "resnet50"), ("pvt_v2_b5", "pvtv2b5")])
def test_trainable_at_construction_matches_official(backbone: str, tag: str) -> None:
    """With backbone and VGGish frozen (the original's state at construction) the same parameters train,
    less the never-called fpn/attn_fc that we keep frozen."""
    spec = _spec(tag, "s4")
    model = _meta_model(backbone, "s4")
    model.freeze_backbone(True)
    model.freeze_audio(True)
    unused_head = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("head.fpn.", "head.attn_fc.")))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable + unused_head == spec["num_parameters_requires_grad_at_construction"]
    model.freeze_backbone(False)
    assert all(p.requires_grad for p in model.backbone.parameters())
    assert not any(p.requires_grad for p in model.vggish.parameters())


def test_cgsl_keys_come_after_the_official_ones() -> None:
    spec = _spec("resnet50", "s4")["state_dict"]
    keys = list(_meta_model("resnet50", "s4", cgsl=True).state_dict())
    assert keys[: len(spec)] == list(spec)
    assert keys[len(spec):] == ["cgsl.audio_proj.weight", "cgsl.audio_proj.bias"]
    with torch.device("meta"):
        sizes = {k: tuple(v.shape) for k, v in avsegformer_model("resnet50", "s4", cgsl=True).state_dict().items()}
    # stage-4 width of ResNet-50 (not a hard-coded 512) x d_model: CGSL reads the audio token the head sees
    assert sizes["cgsl.audio_proj.weight"] == (2048, 256)


def test_head_reproduces_official_outputs() -> None:
    golden = np.load(DATA / "avsegformer_head_small_golden.npz")
    cfg = small_avsegformer_config("s4", (16, 32, 64, 128))
    head = AVSegFormerHead(cfg).double().eval()
    params = {k[len("param/"):]: torch.from_numpy(golden[k]).double() for k in golden.files if k.startswith("param/")}
    head.load_state_dict(params, strict=True)
    feats = [torch.from_numpy(golden[f"feat{i}"]).double() for i in range(4)]
    audio = torch.from_numpy(golden["audio"]).double()
    with torch.no_grad():
        logits, mask_feature = head(feats, audio)
    assert np.abs(logits.numpy() - golden["logits"]).max() < 1e-9
    assert np.abs(mask_feature.numpy() - golden["mask_feature"]).max() < 1e-9


def test_published_configs() -> None:
    assert avsegformer_config("avss", "resnet50").num_classes == 71
    assert avsegformer_config("avss", "resnet50").frames == 10
    with pytest.raises(ValueError, match="unknown backbone"):
        avsegformer_config("s4", "vit")
    with pytest.raises(ValueError, match="multiple of 32"):
        replace(avsegformer_config("s4"), embed_dim=48)
