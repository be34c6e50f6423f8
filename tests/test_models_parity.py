"""State-dict parity with the official models: same keys, same order, same shapes and dtypes, and a
strict load of a state dict built from the spec shapes (tests/data/state_dicts, copied from the spec)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avsbench_robust.models.backbones import build_backbone
from avsbench_robust.models.tpavi import tpavi_official
from avsbench_robust.models.vggish import vggish

SPEC_DIR = Path(__file__).parent / "data" / "state_dicts"
TPAVI_CASES = [(bb, tag, sub) for bb, tag in (("resnet50", "resnet50"), ("pvt_v2_b5", "pvtv2b5")) for sub in ("s4", "ms3", "avss")]


def _spec(name: str) -> dict:
    return json.loads((SPEC_DIR / f"{name}.json").read_text())


def _state_from_spec(spec: dict) -> dict[str, torch.Tensor]:
    dtypes = spec.get("non_float32_keys", {})
    return {
        k: torch.empty(shape, device="meta", dtype=torch.int64 if dtypes.get(k) == "torch.int64" else torch.float32)
        for k, shape in spec["state_dict"].items()
    }


def _check(module: torch.nn.Module, spec: dict) -> None:
    ours = module.state_dict()
    assert list(ours) == list(spec["state_dict"]), "key order differs"
    for k, shape in spec["state_dict"].items():
        assert list(ours[k].shape) == shape, k
        want = torch.int64 if spec.get("non_float32_keys", {}).get(k) == "torch.int64" else torch.float32
        assert ours[k].dtype == want, k
    assert sum(p.numel() for p in module.parameters()) == spec["num_parameters"]
    module.load_state_dict(_state_from_spec(spec), strict=True, assign=True)


@pytest.mark.parametrize("backbone,tag,subset", TPAVI_CASES)
def test_tpavi_state_dict_matches_official(backbone: str, tag: str, subset: str) -> None:
    spec = _spec(f"tpavi_{tag}_{subset}")
    with torch.device("meta"):
        model = tpavi_official(backbone, subset)
    _check(model, spec)
    # output shapes of one forward (meta tensors: shapes only, no compute)
    t = spec["input_shapes"]["x (frames, B*T with B=1)"][0]
    with torch.device("meta"):
        out = model(torch.empty(t, 3, 224, 224), torch.empty(t, 128),
                    torch.ones(t) if subset == "avss" else None)
    want = spec["output_shapes"]
    assert list(out.logits.shape) == want["pred"]
    assert [list(f.shape) for f in out.feature_maps] == want["feature_map_list"]
    assert [list(a.shape) for a in out.audio_feats] == want["a_fea_list"]


def test_tpavi_strict_load_rejects_wrong_shape() -> None:
    spec = _spec("tpavi_pvtv2b5_s4")
    sd = _state_from_spec(spec)
    sd["output_conv.4.weight"] = torch.empty(71, 32, 1, 1, device="meta")
    with torch.device("meta"):
        model = tpavi_official("pvt_v2_b5", "s4")
    with pytest.raises(RuntimeError, match="size mismatch"):
        model.load_state_dict(sd, strict=True, assign=True)


@pytest.mark.parametrize("name,build", [
    ("pvt_v2_b5", lambda: build_backbone("pvt_v2_b5")),
    ("resnet50_b2", lambda: build_backbone("resnet50")),
    ("vggish", lambda: vggish()),
])
def test_backbone_and_vggish_state_dicts(name: str, build) -> None:
    spec = _spec(name)
    with torch.device("meta"):
        module = build()
    _check(module, spec)


def test_backbone_output_shapes_match_spec() -> None:
    for name, spec_name in (("pvt_v2_b5", "pvt_v2_b5"),):
        with torch.device("meta"):
            feats = build_backbone(name)(torch.empty(1, 3, 224, 224))
        assert [list(f.shape) for f in feats] == _spec(spec_name)["output_shapes"]["output"]
    with torch.device("meta"):
        emb = vggish()(torch.empty(5, 1, 96, 64))
    assert list(emb.shape) == _spec("vggish")["output_shapes"]["output"]


def test_unused_parameters_are_the_documented_ones() -> None:
    """The params that get no gradient in a real forward are exactly the spec's unused ones (small run)."""
    spec = _spec("tpavi_resnet50_s4")
    model = tpavi_official("resnet50", "s4")
    model.train()
    out = model(torch.randn(5, 3, 64, 64), torch.randn(5, 128))
    out.logits.sum().backward()
    unused = sorted(n for n, p in model.named_parameters() if p.grad is None)
    assert unused == sorted(spec["unused_parameters_in_forward"])
