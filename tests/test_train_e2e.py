"""A real train -> predict (-> score) run on the tiny synthetic tree, resume, and the epoch plan."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avsbench_robust.errors import ValidationError
from avsbench_robust.models.configs import model_config, train_config
from avsbench_robust.predict import PREDICT_JSON, parse_conditions, predict
from avsbench_robust.train import epoch_plan, shard, train
from avsbench_robust.types import Condition

torch = pytest.importorskip("torch")


def test_epoch_plan_ratio_split_and_determinism() -> None:
    plan = epoch_plan(100, 0.1, ("silence", "offscreen"), seed=3, epoch=0)
    conds = [c for _, c in plan]
    assert sorted(i for i, _ in plan) == list(range(100))
    assert conds.count("silence") == 5 and conds.count("offscreen") == 5 and conds.count("positive") == 90
    assert plan == epoch_plan(100, 0.1, ("silence", "offscreen"), seed=3, epoch=0)
    assert plan != epoch_plan(100, 0.1, ("silence", "offscreen"), seed=3, epoch=1)
    assert all(c == "positive" for _, c in epoch_plan(10, 0.0, ("silence",), 0, 0))
    with pytest.raises(ValidationError):
        epoch_plan(10, 1.0, ("silence",), 0, 0)


def test_shard_gives_every_rank_the_same_number_of_full_batches() -> None:
    plan = list(range(7))
    a, b = shard(plan, 0, 2, 2), shard(plan, 1, 2, 2)
    assert len(a) == len(b) == 2 and all(len(x) == 2 for x in a + b)
    assert {i for batch in a + b for i in batch} == set(plan)


def _small(subset: str, backbone: str = "resnet50", cgsl: bool = True, model: str = "tpavi"):
    mcfg = dataclasses.replace(model_config(model, backbone, subset, "small", cgsl), image_size=64)
    return mcfg, train_config(mcfg, epochs=1, batch_clips=2, neg_ratio=0.5, limit_clips=2)


@pytest.mark.slow
def test_train_predict_s4_end_to_end(synth_root: Path, tmp_path: Path) -> None:
    mcfg, tcfg = _small("s4")
    run = tmp_path / "run"
    train(mcfg, tcfg, root=synth_root, out=run, progress=False, log=lambda s: None)
    saved = json.loads((run / "checkpoint.json").read_text())
    assert saved["epochs_done"] == 1 and saved["seed"] == 0 and "git_revision" in saved
    assert set(saved["history"][0]["loss"]) >= {"seg", "cgsl", "total"}
    assert "positive_miou" in saved["validation"] and "silence_fpr" in saved["validation"]
    state = torch.load(run / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values()) and any(k.startswith("model.cgsl.") for k in state)

    # resume: asking for 2 epochs continues from epoch 1, a different config is refused
    meta2 = train(mcfg, dataclasses.replace(tcfg, epochs=2), root=synth_root, out=run, progress=False, log=lambda s: None)
    assert meta2["epochs_done"] == 2 and [h["epoch"] for h in meta2["history"]] == [1, 2]
    with pytest.raises(ValidationError, match="different configuration"):
        train(mcfg, dataclasses.replace(tcfg, lr=0.5), root=synth_root, out=run, progress=False, log=lambda s: None)

    pred = tmp_path / "pred"
    info = predict(run, pred, root=synth_root, progress=False, log=lambda s: None)
    assert sorted(p.name for p in pred.iterdir() if p.is_dir()) == sorted(c.value for c in parse_conditions("all"))
    assert (pred / PREDICT_JSON).is_file() and not (tmp_path / "pred.partial").exists()
    pngs = sorted((pred / "positive").rglob("*.png"))
    assert len(pngs) == 5 * info["clips"]
    first = pngs[0]
    assert first.name.endswith("_1.png") and first.parent.name == first.name[: -len("_1.png")]
    img = Image.open(first)
    assert img.mode == "L" and img.size == (224, 224)  # frame size, not the model's 64 px
    # refuses to overwrite silently; the gated variant needs CGSL and writes empty masks where closed
    with pytest.raises(ValidationError, match="exists"):
        predict(run, pred, root=synth_root, progress=False, log=lambda s: None)
    gated = tmp_path / "gated"
    predict(run, gated, root=synth_root, conditions="silence", gate_tau=0.999, progress=False, log=lambda s: None)
    assert all(np.asarray(Image.open(p)).max() == 0 for p in (gated / "silence").rglob("*.png"))

    score = pytest.importorskip("avsbench_robust.scoring").score
    res = score(pred, "s4", root=synth_root).to_dict()
    assert set(res["conditions"]) >= {c.value for c in (Condition.POSITIVE, Condition.SILENCE)}


@pytest.mark.slow
def test_train_predict_avss_pvt(synth_root: Path, tmp_path: Path) -> None:
    mcfg, tcfg = _small("avss", backbone="pvt_v2_b5")
    tcfg = dataclasses.replace(tcfg, val_every=0)
    run = tmp_path / "run"
    train(mcfg, tcfg, root=synth_root, out=run, progress=False, log=lambda s: None)
    pred = tmp_path / "pred"
    predict(run, pred, root=synth_root, conditions="positive", split="val", progress=False, log=lambda s: None)
    files = sorted((pred / "positive").rglob("*.png"))
    assert files and all(p.stem.isdigit() for p in files)
    assert max(int(np.asarray(Image.open(p)).max()) for p in files) <= 70
    # v1s/v1m clips are 5 real frames of a 10-frame model: only real frames are written
    per_clip = {p.parent.name: 0 for p in files}
    for p in files:
        per_clip[p.parent.name] += 1
    assert set(per_clip.values()) <= {5, 10}


def test_predict_rejects_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        parse_conditions("positive,quiet")
    from avsbench_robust.errors import InputFileError

    with pytest.raises(InputFileError, match="checkpoint.json"):
        predict(tmp_path / "nope", tmp_path / "pred", progress=False)


def test_authors_negatives_are_drawn_once_on_top_of_every_positive() -> None:
    """Their S4 dataset: 10% negatives, half off-screen half silence, the same draw every epoch and run seed."""
    from avsbench_robust.train import fixed_negatives

    negs = fixed_negatives(90, 0.1, ("offscreen", "silence"))
    assert len(negs) == 10 and [c for _, c in negs].count("offscreen") == 5
    assert negs == fixed_negatives(90, 0.1, ("offscreen", "silence"))
    plans = [epoch_plan(90, 0.1, ("offscreen", "silence"), seed=s, epoch=e, sampling="authors") for s, e in ((0, 0), (0, 1), (7, 0))]
    for plan in plans:
        assert len(plan) == 100 and sorted(i for i, c in plan if c == "positive") == list(range(90))
        assert sorted(p for p in plan if p[1] != "positive") == sorted(negs)
    assert plans[0] != plans[1]  # order reshuffled each epoch
    assert fixed_negatives(90, 0.0, ("silence",)) == []
    with pytest.raises(ValidationError, match="sampling"):
        epoch_plan(10, 0.1, ("silence",), 0, 0, sampling="mine")
