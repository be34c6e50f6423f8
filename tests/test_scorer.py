"""Scorer behaviour: sharding, state round trips, protocol (in)dependence, bad input, torch.distributed."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avsbench_robust.errors import ValidationError
from avsbench_robust.results import Results
from avsbench_robust.scorer import Scorer
from avsbench_robust.types import Condition

CONDS = ("positive", "silence", "noise", "offscreen", "fused")


def make_clips(n_videos=9, frames=5, size=(24, 20), seed=0, semantic=False):
    """Deterministic clips: GT blobs, noisy probabilities around them, some empty GTs."""
    rng = np.random.default_rng(seed)
    clips = []
    for v in range(n_videos):
        gt = np.zeros((frames, *size), np.uint8)
        for t in range(frames):
            if (v + t) % 4:
                y, x = rng.integers(0, size[0] - 6), rng.integers(0, size[1] - 6)
                gt[t, y:y + 6, x:x + 6] = rng.integers(1, 71) if semantic else 1
        preds = {}
        for c in CONDS:
            if semantic:
                p = np.where(rng.random(gt.shape) < 0.8, gt, rng.integers(0, 71, gt.shape)).astype(np.uint8)
            else:
                scale = 0.5 if c in ("positive", "fused") else 0.2
                p = np.clip(gt * scale + rng.random(gt.shape) * 0.6, 0, 1).astype(np.float32)
            preds[c] = p
        clips.append((f"vid{v:02d}", ["cat_a", "cat_b", "cat_c"][v % 3], gt, preds))
    return clips


def feed(scorer, clips, conds=CONDS):
    for video, cat, gt, preds in clips:
        for c in conds:
            scorer.update(c, preds[c], gt, video=video, category=cat)
    return scorer


@pytest.mark.parametrize("protocol,bs", [("canonical", None), ("official", 2)])
def test_two_shards_merge_equals_one_pass(protocol, bs):
    clips = make_clips()
    order = [c[0] for c in clips]
    one = feed(Scorer("s4", protocol, bs, video_order=order), clips).compute().to_json()
    a = feed(Scorer("s4", protocol, bs, video_order=order), clips[1::2])
    b = feed(Scorer("s4", protocol, bs, video_order=order), clips[::2])
    assert a.merge(b).compute().to_json() == one


def test_state_dict_survives_npz_without_pickle(tmp_path):
    clips = make_clips()
    full = feed(Scorer("s4", "official", 3), clips)
    path = tmp_path / "shard.npz"
    np.savez(path, **feed(Scorer("s4", "official", 3), clips[:4]).state_dict())
    with np.load(path, allow_pickle=False) as z:
        restored = Scorer.from_state_dict(dict(z))
    restored.merge(feed(Scorer("s4", "official", 3), clips[4:]))
    assert restored.compute().to_json() == full.compute().to_json()


def test_canonical_is_order_and_split_independent_official_is_not():
    clips = make_clips(n_videos=8)
    rng = np.random.default_rng(5)
    shuffled = [clips[i] for i in rng.permutation(len(clips))]
    ref = feed(Scorer("ms3"), clips).compute()
    other = Scorer("ms3")
    for video, cat, gt, preds in shuffled:  # frame by frame, reversed
        for t in reversed(range(gt.shape[0])):
            for c in CONDS:
                other.update(c, preds[c][t], gt[t], video=video, category=cat, append=True)
    got = other.compute()
    for c in ref.conditions:
        assert got.conditions[c].miou == pytest.approx(ref.conditions[c].miou, abs=1e-12)
        assert got.conditions[c].f_score == pytest.approx(ref.conditions[c].f_score, abs=1e-12)
        assert got.conditions[c].fpr == pytest.approx(ref.conditions[c].fpr, abs=1e-12)
    b1 = feed(Scorer("ms3", "official", 1), clips).compute().conditions[Condition.POSITIVE].f_score
    b8 = feed(Scorer("ms3", "official", 8), clips).compute().conditions[Condition.POSITIVE].f_score
    assert b1 != b8  # the official max-F depends on the batch size


def test_pooled_negative_and_global_metrics():
    res = feed(Scorer("s4"), make_clips()).compute()
    neg = res.negative
    per = [res.conditions[Condition(c)] for c in ("silence", "noise", "offscreen")]
    # equal frame counts per condition: canonical pooled means are the plain means
    assert neg.miou == pytest.approx(np.mean([m.miou for m in per]))
    assert neg.fpr == pytest.approx(np.mean([m.fpr for m in per]))
    assert neg.frames == sum(m.frames for m in per)
    p = res.conditions[Condition.POSITIVE]
    assert res.global_.g_miou == pytest.approx(2 * p.miou * (1 - neg.miou) / (p.miou + 1 - neg.miou))
    assert res.global_.g_f == pytest.approx(2 * p.f_score * (1 - neg.f_score) / (p.f_score + 1 - neg.f_score))
    assert res.global_.g_fpr == neg.fpr
    assert Condition.FUSED in res.conditions  # reported, but not pooled into N
    assert set(res.breakdown[Condition.POSITIVE]) == {"cat_a", "cat_b", "cat_c"}


def test_semantic_scorer_breakdown_and_negative_fpr():
    clips = make_clips(semantic=True, frames=10)
    res = feed(Scorer("avss"), clips).compute()
    assert res.breakdown_kind == "class"
    assert "background" in res.breakdown[Condition.POSITIVE]
    gt = clips[0][2]
    empty = Scorer("avss")
    empty.update("silence", np.zeros_like(gt), gt, video="x")
    assert empty.compute(require_global=False).conditions[Condition.SILENCE].fpr == 0.0
    full = Scorer("avss")
    full.update("silence", np.full_like(gt, 5), gt, video="x")
    assert full.compute(require_global=False).conditions[Condition.SILENCE].fpr == 1.0


def test_results_json_is_deterministic_and_schema_valid(tmp_path):
    res = feed(Scorer("s4", split="test"), make_clips())
    res = res.compute()
    res.provenance.update({"pred_digest": "abc", "layouts": {"positive": "gt-mirror"}, "eval_size": None,
                           "resized": 0, "missing_filled": 0})
    out = tmp_path / "r.json"
    res.write_json(out)
    text = out.read_text()
    assert text == res.to_json()
    doc = json.loads(text)
    assert list(doc) == sorted(doc) and doc["toolkit_version"] and doc["split"] == "test"
    assert Results.read_json(out).to_json() == text
    doc["conditions"]["positive"]["miou"] = 1.5
    with pytest.raises(ValidationError, match="conditions/positive/miou"):
        Results.from_dict(doc)


@pytest.mark.parametrize("pred,msg", [
    (np.full((2, 4, 4), np.nan, np.float32), "NaN"),
    (np.full((2, 4, 4), 2.0, np.float32), r"outside \[0, 1\]"),
    (np.zeros((2, 4, 5), np.float32), "shape"),
    (np.zeros((2, 4, 4), np.int32), "dtype"),
    (np.zeros((2, 4, 4), object), "object"),
])
def test_bad_binary_input_raises_one_clear_error(pred, msg):
    s = Scorer("s4")
    with pytest.raises(ValidationError, match=msg):
        s.update("positive", pred, np.zeros((2, 4, 4), np.uint8), video="v")
    assert not s._rows


def test_bad_options_and_semantic_input():
    with pytest.raises(ValidationError, match="batch size"):
        Scorer("s4", "official")
    with pytest.raises(ValidationError, match="protocol"):
        Scorer("s4", "weird")
    with pytest.raises(ValidationError, match="condition"):
        Scorer("s4").update("loud", np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), video="v")
    with pytest.raises(ValidationError, match="outside 0..70"):
        Scorer("avss").update("positive", np.full((4, 4), 71, np.uint8), np.zeros((4, 4), np.uint8), video="v")
    with pytest.raises(ValidationError, match="no frames"):
        Scorer("ms3").compute()
    with pytest.raises(ValidationError, match="differ"):
        Scorer("s4").merge(Scorer("ms3"))


def test_update_accepts_every_input_kind():
    gt = np.zeros((3, 8, 8), np.uint8)
    gt[:, 2:5, 2:5] = 1
    results = {}
    for name, pred, logits in [("bool", gt.astype(bool), False), ("u8", gt * 255, False),
                               ("prob", gt.astype(np.float32), False),
                               ("logits", np.where(gt, 20.0, -20.0).astype(np.float32), True)]:
        s = Scorer("s4")
        s.update("positive", pred, gt, video="v", logits=logits)
        s.update("positive", pred[0], gt[0], video="w", logits=logits)  # a single [H,W] frame
        results[name] = s.compute(require_global=False).conditions[Condition.POSITIVE]
    for m in results.values():
        assert m.miou == pytest.approx(1.0, abs=1e-6) and m.f_score == pytest.approx(1.0, abs=1e-6)
        assert m.frames == 4


# ---------------------------------------------------------------- torch.distributed (gloo, 2 processes)
def _ddp_worker(rank: int, world: int, init: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        clips = make_clips()
        for protocol, bs in (("canonical", None), ("official", 2)):
            scorer = Scorer("s4", protocol, bs, video_order=[c[0] for c in clips])
            feed(scorer, clips[rank::world])  # DistributedSampler-style interleaving
            text = scorer.compute().to_json()
            Path(out_dir, f"{protocol}_{rank}.json").write_text(text)
            # the local state is untouched by compute()'s reduction
            Path(out_dir, f"{protocol}_{rank}_local.txt").write_text(str(len(scorer._rows["positive"])))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo_equals_one_pass(tmp_path):
    torch = pytest.importorskip("torch")
    import torch.multiprocessing as mp

    if not torch.distributed.is_available():
        pytest.skip("torch.distributed unavailable")
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_ddp_worker, args=(2, init, str(tmp_path)), nprocs=2, join=True)
    clips = make_clips()
    for protocol, bs in (("canonical", None), ("official", 2)):
        expected = feed(Scorer("s4", protocol, bs, video_order=[c[0] for c in clips]), clips).compute().to_json()
        for rank in (0, 1):
            assert (tmp_path / f"{protocol}_{rank}.json").read_text() == expected
        assert (tmp_path / f"{protocol}_0_local.txt").read_text() == "5"
