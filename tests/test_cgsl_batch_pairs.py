"""In-batch CGSL pairs (`train --cgsl-pairs batch`), best-epoch selection (`--keep-best`) and resuming a run
written before a config field existed."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from _cli import run

from avsbench_robust.errors import ValidationError
from avsbench_robust.models.configs import TrainConfig, model_config, to_dict, train_config
from avsbench_robust.train import improves, source_ids

torch = pytest.importorskip("torch")
F = torch.nn.functional

from avsbench_robust.models import AVSNet  # noqa: E402
from avsbench_robust.models.cgsl import cross_pair_loss, similarity  # noqa: E402


def _loop_reference(a, v, source, clip, audio_ok, visual_ok) -> float:
    """The loss written pair by pair, as its docstring defines it."""
    total, n = 0.0, 0
    for i in range(len(v)):
        for j in range(len(a)):
            if clip[i] == clip[j] or not audio_ok[j] or not visual_ok[i]:
                continue
            cos = F.cosine_similarity(v[i:i + 1], a[j:j + 1]).item()
            y = float(source[i] == source[j])
            p = 1 / (1 + np.exp(-cos))
            total += -(y * np.log(p) + (1 - y) * np.log(1 - p))
            n += 1
    return total / n


def test_cross_pair_loss_equals_the_pairwise_definition() -> None:
    g = torch.Generator().manual_seed(0)
    a, v = torch.randn(12, 8, generator=g, dtype=torch.float64), torch.randn(12, 8, generator=g, dtype=torch.float64)
    clip = torch.arange(12) // 3  # 4 clips of 3 frames
    source = torch.tensor([0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2])  # clips 0 and 2 share a source
    audio_ok = torch.tensor([1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1], dtype=torch.float64)  # clip 1 a negative
    visual_ok = torch.tensor([1] * 11 + [0], dtype=torch.float64)  # last frame padding
    got = cross_pair_loss(a, v, source, clip, audio_ok, visual_ok).item()
    assert got == pytest.approx(_loop_reference(a, v, source, clip, audio_ok, visual_ok), rel=1e-12)


def test_cross_pair_loss_pulls_shared_sources_together_and_pushes_others_apart() -> None:
    a = torch.randn(8, 16, requires_grad=True)
    v = torch.randn(8, 16, requires_grad=True)
    clip, source = torch.arange(8) // 2, torch.tensor([0, 0, 1, 1, 0, 0, 2, 2])
    ones = torch.ones(8)
    opt = torch.optim.SGD([a, v], lr=20.0)
    for _ in range(300):
        opt.zero_grad()
        cross_pair_loss(a, v, source, clip, ones, ones).backward()
        opt.step()
    with torch.no_grad():
        cos = F.normalize(v, dim=-1) @ F.normalize(a, dim=-1).T
    same = (source[:, None] == source[None, :]) & (clip[:, None] != clip[None, :])
    other = source[:, None] != source[None, :]
    assert cos[same].min() > cos[other].max()
    assert cos[same].mean() > 0.5 and cos[other].mean() < -0.2


def test_a_single_clip_has_no_cross_pair() -> None:
    a, v = torch.randn(5, 4, requires_grad=True), torch.randn(5, 4)
    loss = cross_pair_loss(a, v, torch.zeros(5, dtype=torch.long), torch.zeros(5, dtype=torch.long),
                           torch.ones(5), torch.ones(5))
    assert loss.item() == 0.0
    loss.backward()  # still differentiable: a batch of one clip does not crash the step


@pytest.mark.parametrize("model", ["tpavi", "avsegformer"])
def test_models_expose_the_pair_their_similarity_compares(model: str) -> None:
    torch.manual_seed(0)
    cfg = dataclasses.replace(model_config(model, "resnet50", "s4", "small", cgsl=True), image_size=64)
    net = AVSNet(cfg).train()
    out = net(torch.randn(10, 3, 64, 64), torch.randn(10, 1, 96, 64))
    a, v = out.extra["cgsl_pair"]
    assert a.shape == v.shape and a.shape[0] == 10
    assert torch.allclose(similarity(a, v), out.similarity)


@pytest.mark.parametrize("model,head_audio", [("tpavi", "model.tpavi_b4.align_channel.weight"),
                                              ("avsegformer", "model.audio_proj.weight")])
def test_cross_pair_loss_reaches_the_audio_the_head_sees(model: str, head_audio: str) -> None:
    torch.manual_seed(0)
    cfg = dataclasses.replace(model_config(model, "resnet50", "s4", "small", cgsl=True), image_size=64)
    net = AVSNet(cfg).train()
    out = net(torch.randn(10, 3, 64, 64), torch.randn(10, 1, 96, 64))
    clip = torch.arange(10) // 5
    cross_pair_loss(*out.extra["cgsl_pair"], torch.tensor([0] * 5 + [1] * 5), clip, torch.ones(10),
                    torch.ones(10)).backward()
    grads = dict(net.named_parameters())
    assert grads[head_audio].grad is not None and grads[head_audio].grad.abs().sum() > 0


def test_source_ids_number_categories_in_sorted_order() -> None:
    Clip = type("Clip", (), {})
    clips = []
    for cat in ("dog", "cat", "dog", "bird"):
        c = Clip()
        c.category = cat
        clips.append(c)
    assert source_ids(clips) == [2, 1, 2, 0]


def test_improves_keeps_the_earlier_epoch_on_ties() -> None:
    e = {"validation": {"positive_miou": 0.5}}
    assert improves(e, None, "positive_miou")
    assert not improves(e, {"value": 0.5}, "positive_miou")
    assert improves(e, {"value": 0.4}, "positive_miou")
    assert not improves(e, None, "none") and not improves({}, None, "positive_miou")


def _train_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--model", "avsegformer", "--backbone", "resnet50", "--config", "small", "--subset", "s4",
            "--root", root, "--image-size", "64", "--batch-size", "4", "--no-progress", "--out", out, *extra]


@pytest.mark.slow
def test_cli_batch_pairs_and_best_epoch(synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    code, _, err = run(capsys, *_train_args(synth_root, out, "--epochs", "3", "--cgsl", "--cgsl-pairs", "batch",
                                            "--neg-ratio", "0.25", "--neg-conditions", "silence,noise,offscreen",
                                            "--keep-best", "positive_miou", "--val-conditions", "positive"))
    assert code == 0, err
    assert "cgsl_cross" in err and "cgsl_given" in err
    meta = json.loads((out / "checkpoint.json").read_text())
    vals = [h["validation"]["positive_miou"] for h in meta["history"]]
    best = int(np.argmax(vals))  # first maximum: ties keep the earlier epoch
    assert meta["best"] == {"epoch": best + 1, "metric": "positive_miou", "value": vals[best]}
    assert "silence_fpr" not in meta["history"][0]["validation"]  # only the asked conditions are scored

    # model_best.pt holds exactly the best epoch's weights: retrain that many epochs in a new folder
    again = tmp_path / "again"
    code, _, err = run(capsys, *_train_args(synth_root, again, "--epochs", str(best + 1), "--cgsl", "--cgsl-pairs",
                                            "batch", "--neg-ratio", "0.25", "--neg-conditions",
                                            "silence,noise,offscreen", "--keep-best", "positive_miou",
                                            "--val-conditions", "positive"))
    assert code == 0, err
    kept = torch.load(out / "model_best.pt", weights_only=True)
    last = torch.load(again / "model.pt", weights_only=True)
    assert kept.keys() == last.keys() and all(torch.equal(kept[k], last[k]) for k in kept)

    # predict takes the best weights file
    pred = tmp_path / "pred"
    code, _, err = run(capsys, "predict", "--checkpoint", out / "model_best.pt", "--root", synth_root, "--out", pred,
                       "--no-progress")
    assert code == 0, err and (pred / "positive").is_dir()


@pytest.mark.parametrize("extra,message", [
    (["--cgsl-pairs", "batch"], "needs --cgsl"),
    (["--cgsl", "--cgsl-pairs", "batch", "--subset", "ms3"], "S4"),
    (["--keep-best", "g_miou", "--val-conditions", "positive"], "negative condition"),
    (["--val-conditions", "silence"], "must include positive"),
    (["--cgsl-pairs", "pairs"], "pairs"),
])
def test_cli_refuses_combinations_that_cannot_mean_what_they_say(synth_root: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture, extra: list[str],
                                                                 message: str) -> None:
    code, _, err = run(capsys, *_train_args(synth_root, tmp_path / "run", "--epochs", "1", *extra))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "model.pt").exists()


@pytest.mark.slow
def test_a_run_written_before_a_field_existed_resumes(synth_root: Path, tmp_path: Path) -> None:
    from avsbench_robust.train import train

    mcfg = dataclasses.replace(model_config("tpavi", "resnet50", "s4", "small", cgsl=True), image_size=64)
    tcfg = train_config(mcfg, epochs=1, batch_clips=2, neg_ratio=0.5, limit_clips=2)
    out = tmp_path / "run"
    train(mcfg, tcfg, root=synth_root, out=out, progress=False, log=lambda s: None)
    meta = json.loads((out / "checkpoint.json").read_text())
    for key in ("cgsl_pairs", "keep_best", "val_conditions"):  # as an older toolkit wrote it
        del meta["train_config"][key]
    (out / "checkpoint.json").write_text(json.dumps(meta))
    again = train(mcfg, dataclasses.replace(tcfg, epochs=2), root=synth_root, out=out, progress=False,
                  log=lambda s: None)
    assert again["epochs_done"] == 2
    # ... but a field that differs from the default it stood for is still a different configuration
    (out / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(ValidationError, match="different configuration"):
        train(mcfg, dataclasses.replace(tcfg, epochs=2, keep_best="positive_miou"), root=synth_root, out=out,
              progress=False, log=lambda s: None)
    assert to_dict(TrainConfig())["cgsl_pairs"] == "given"
