"""`avsb-robust pretrain`: files with the released names, keys and (full config) shapes; `train --weights-dir`
loads them exactly as the released ones; the pre-trained features separate classes better than random init."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from avsbench_robust.data import synthetic  # noqa: E402
from avsbench_robust.models import build_model, model_config  # noqa: E402
from avsbench_robust.models.backbones import build_backbone  # noqa: E402
from avsbench_robust.models.pretrain import (  # noqa: E402
    HEAD_CLASSES,
    backbone_file_state,
    pretrain_clips,
    separability,
)
from avsbench_robust.models.pretrained import PVT_V2_B5_FILE, RESNET50_FILE, VGGISH_FILE, read_state_dict  # noqa: E402
from avsbench_robust.models.vggish import vggish  # noqa: E402

SPEC_DIR = Path(__file__).parent / "data" / "state_dicts"
CLI = [sys.executable, "-m", "avsbench_robust.cli"]


def _shapes(sd: dict) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in sd.items()}


@pytest.mark.parametrize("name,spec", [("pvt_v2_b5", "pvt_v2_b5.json"), ("resnet50", "resnet50_b2.json")])
def test_full_size_files_have_the_released_keys_and_shapes(name: str, spec: str) -> None:
    want = json.loads((SPEC_DIR / spec).read_text())["pretrained_checkpoint_keys"]
    with torch.device("meta"):
        net = build_backbone(name)
        head = torch.nn.Linear(net.out_channels[-1], HEAD_CLASSES)
    got = _shapes(backbone_file_state(name, net, head))
    assert list(got) == list(want) and got == want


def test_full_size_vggish_file_has_the_released_keys_and_shapes() -> None:
    want = json.loads((SPEC_DIR / "vggish.json").read_text())["state_dict"]
    with torch.device("meta"):
        assert _shapes(vggish().state_dict()) == want


def test_pretraining_clips_are_no_evaluation_clip() -> None:
    clips = pretrain_clips(0, 2)
    seeds = {c.seed for c in clips}
    assert len(seeds) == len(clips) == 2 * 70
    for seed, videos in ((0, 8), (1, 40), (0, 2)):
        p = synthetic.plan(seed, videos)
        assert not seeds & {c.seed for c in p.s4 + p.ms3 + p.avss}


def test_separability_is_nearest_neighbour_accuracy() -> None:
    feats = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert separability(feats, [0, 0, 1, 1]) == 1.0
    assert separability(feats, [0, 1, 0, 1]) == 0.0


@pytest.mark.slow
def test_pretrain_cli_then_train_loads_the_files(tmp_path: Path, synth_root: Path) -> None:
    out = tmp_path / "weights"
    r = subprocess.run(CLI + ["pretrain", "--out", str(out), "--config", "small", "--image-size", "64",
                              "--per-class", "8", "--epochs", "12", "--classes", "24", "--no-progress"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "PRETRAIN.json").read_text())
    # a real measurement on held-out clips (leave-one-out 1-NN class accuracy, chance ~0.02): pre-training
    # must make the features more class-separable. The narrow PVT learns far slower than the ResNet at this
    # size (docs/reproduction.md), so for it only the loss is asked to fall. At this tiny size the ResNet's
    # gain was seen to differ between environments (6 a class: 0.19 under pytest, 0.25 from a shell, from 0.10),
    # so the bar is 0.05 (2.4 of the 48 held-out clips); the reproduction's 32 clips a class reach 0.94.
    for fname in (RESNET50_FILE, VGGISH_FILE):
        m = manifest["files"][fname]
        assert m["separability"] >= m["separability_random_init"] + 0.05, (fname, m)
    for m in manifest["files"].values():
        assert m["loss"][-1] < m["loss"][0]
    # the small config loads them by the released files' rules, VGGish frozen
    logs: list[str] = []
    for backbone in ("pvt_v2_b5", "resnet50"):
        net = build_model(model_config("tpavi", backbone, "s4", "small"), out, log=logs.append)
        file_sd = read_state_dict(out / (PVT_V2_B5_FILE if backbone == "pvt_v2_b5" else RESNET50_FILE))
        ours = net.backbone().state_dict()
        key = "block1.0.attn.q.weight" if backbone == "pvt_v2_b5" else "layer4_1.0.conv1.weight"
        src = key.replace("layer4_1.", "layer4.")
        assert torch.equal(ours[key], file_sd[src])
        assert not any(p.requires_grad for p in net.audio_network().parameters())
    assert any("loaded pvt_v2_b5 weights" in s for s in logs) and any("loaded VGGish" in s for s in logs)
    # a full-size model refuses narrow files with one clear line naming the file
    from avsbench_robust.errors import InputFileError

    with pytest.raises(InputFileError, match="missing|shape mismatch") as exc:
        build_model(model_config("tpavi", "resnet50", "s4", "full"), out, log=logs.append)
    assert RESNET50_FILE in str(exc.value)
    r = subprocess.run(CLI + ["pretrain", "--out", str(tmp_path / "x"), "--backbones", "vgg"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "vgg" in r.stderr
