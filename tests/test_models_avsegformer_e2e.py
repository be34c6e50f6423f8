"""AVSegFormer through the project's train -> predict -> score path on the tiny synthetic tree."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avsbench_robust.models.configs import model_config, train_config
from avsbench_robust.types import Condition

torch = pytest.importorskip("torch")


@pytest.mark.slow
def test_full_size_forward_matches_official_output_shapes() -> None:
    """The published AVSS model (ResNet-50) on one 224 px frame: the shapes the official probe recorded."""
    from avsbench_robust.models.avsegformer import avsegformer_model

    torch.manual_seed(0)
    model = avsegformer_model("resnet50", "avss").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224), torch.randn(1, 1, 96, 64))
    assert out.logits.shape == (1, 71, 224, 224)  # official: pred [10, 71, 224, 224] for 10 frames
    assert out.extra["mask_feature"].shape == (1, 256, 56, 56)
    assert torch.isfinite(out.logits).all()


@pytest.mark.slow
def test_avsegformer_train_predict_score_s4(synth_root: Path, tmp_path: Path) -> None:
    train = pytest.importorskip("avsbench_robust.train").train
    predict = pytest.importorskip("avsbench_robust.predict").predict
    mcfg = dataclasses.replace(model_config("avsegformer", "resnet50", "s4", "small", cgsl=True), image_size=64)
    tcfg = train_config(mcfg, epochs=1, batch_clips=2, neg_ratio=0.25)
    run = tmp_path / "run"
    train(mcfg, tcfg, root=synth_root, out=run, progress=False, log=lambda s: None)
    saved = json.loads((run / "checkpoint.json").read_text())
    assert saved["epochs_done"] == 1
    assert np.isfinite(saved["history"][0]["loss"]["total"])
    state = torch.load(run / "model.pt", weights_only=True)
    assert any(k.startswith("model.head.transformer.encoder.") for k in state)
    assert any(k.startswith("model.cgsl.") for k in state)

    pred = tmp_path / "pred"
    predict(run, pred, root=synth_root, progress=False, log=lambda s: None)
    pngs = sorted((pred / "positive").rglob("*.png"))
    assert pngs and Image.open(pngs[0]).mode == "L"
    score = pytest.importorskip("avsbench_robust.scoring").score
    res = score(pred, "s4", root=synth_root).to_dict()
    assert {Condition.POSITIVE.value, Condition.SILENCE.value} <= set(res["conditions"])
