"""Pretrained files: fabricated from the spec's checkpoint key lists (every tensor a unique tracer
value), loaded by our rules, and each model tensor traced back to the file key it must come from."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from avsbench_robust.errors import InputFileError
from avsbench_robust.models import build_model, model_config
from avsbench_robust.models.backbones import build_backbone
from avsbench_robust.models.pretrained import (
    RESNET50_FILE,
    VGGISH_FILE,
    load_backbone,
    load_vggish,
    map_resnet50,
    read_state_dict,
)
from avsbench_robust.models.vggish import vggish

SPEC_DIR = Path(__file__).parent / "data" / "state_dicts"


def _traced(keys: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    """Tensor i is filled with i+1 (int64 for BN counters), so a loaded value names its source key."""
    return {k: torch.full(shape, float(i + 1)) for i, (k, shape) in enumerate(keys.items())}


def test_resnet50_rules_layer3_and_4_fill_both_branches(tmp_path: Path) -> None:
    spec = json.loads((SPEC_DIR / "resnet50_b2.json").read_text())
    file_sd = _traced(spec["pretrained_checkpoint_keys"])
    path = tmp_path / RESNET50_FILE
    torch.save(file_sd, path)
    net = build_backbone("resnet50")
    dropped = load_backbone(net, "resnet50", path)
    assert dropped == ["fc.bias", "fc.weight"]
    ours = net.state_dict()
    for key, value in ours.items():
        if key.endswith("num_batches_tracked"):
            assert value.item() == 0
            continue
        src = key.replace("layer3_1.", "layer3.").replace("layer3_2.", "layer3.").replace(
            "layer4_1.", "layer4.").replace("layer4_2.", "layer4.")
        assert torch.equal(value, file_sd[src]), key
    # the renamed set is exactly the one the spec read back from the official loader
    renamed = spec["pretrained_loading"][0]["renamed_keys"]
    assert all(torch.equal(ours[k], file_sd[v]) for k, v in renamed.items())
    assert map_resnet50({"layer3.0.conv1.weight": torch.zeros(1)}).keys() == {"layer3_1.0.conv1.weight", "layer3_2.0.conv1.weight"}


def test_vggish_identity_and_strict(tmp_path: Path) -> None:
    spec = json.loads((SPEC_DIR / "vggish.json").read_text())
    file_sd = _traced(spec["state_dict"])
    path = tmp_path / VGGISH_FILE
    torch.save(file_sd, path)
    model = vggish()
    load_vggish(model, path)
    assert all(torch.equal(v, file_sd[k]) for k, v in model.state_dict().items())
    del file_sd["embeddings.4.bias"]
    torch.save(file_sd, path)
    with pytest.raises(InputFileError, match="missing"):
        load_vggish(vggish(), path)


def test_pvt_identity_drops_head(tmp_path: Path) -> None:
    """Rules on the narrow PVT (same names; the b5 file would be 330 MB): identity, `head.*` dropped."""
    net = build_backbone("pvt_v2_b5", narrow=True)
    keys = {k: list(v.shape) for k, v in net.state_dict().items()}
    keys.update({"head.weight": [1000, 128], "head.bias": [1000]})
    file_sd = _traced(keys)
    path = tmp_path / "pvt.pth"
    torch.save(file_sd, path)
    assert load_backbone(net, "pvt_v2_b5", path) == ["head.bias", "head.weight"]
    assert all(torch.equal(v, file_sd[k]) for k, v in net.state_dict().items())
    file_sd["block1.0.attn.q.weight"] = torch.zeros(3, 3)
    torch.save(file_sd, path)
    with pytest.raises(InputFileError, match="shape mismatch"):
        load_backbone(build_backbone("pvt_v2_b5", narrow=True), "pvt_v2_b5", path)


class _Evil:
    def __reduce__(self):
        return (print, ("executed",))


def test_pickled_objects_are_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / VGGISH_FILE
    with open(path, "wb") as f:
        pickle.dump({"features.0.weight": _Evil()}, f, protocol=2)
    with pytest.raises(InputFileError, match="weights_only"):
        read_state_dict(path)
    assert "executed" not in capsys.readouterr().out
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(InputFileError):
        read_state_dict(tmp_path / "empty.pth")


def test_build_model_loads_and_freezes_vggish(tmp_path: Path) -> None:
    spec = json.loads((SPEC_DIR / "vggish.json").read_text())
    torch.save(_traced(spec["state_dict"]), tmp_path / VGGISH_FILE)
    cfg = model_config("tpavi", "resnet50", "s4", size="full")
    net = build_model(cfg, tmp_path, log=lambda s: None)
    assert not any(p.requires_grad for p in net.audio_extractor.parameters())
    assert net.audio_extractor.embeddings[4].bias[0].item() == len(spec["state_dict"])
    assert all(p.requires_grad for p in net.model.parameters())


def test_small_config_skips_full_size_files_with_a_note(tmp_path: Path) -> None:
    """The released (full-size) VGGish does not fit the small VGGish: skipped, the small one trains."""
    spec = json.loads((SPEC_DIR / "vggish.json").read_text())
    torch.save(_traced(spec["state_dict"]), tmp_path / VGGISH_FILE)
    logs: list[str] = []
    net = build_model(model_config("tpavi", "resnet50", "s4", size="small"), tmp_path, log=logs.append)
    assert any("not used" in s and VGGISH_FILE in s for s in logs)
    assert all(p.requires_grad for p in net.audio_extractor.parameters())
