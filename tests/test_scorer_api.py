"""The Scorer as torchmetrics users expect it: batch updates, reset, flat dicts, clear errors, curves,
and the functional one-liners."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from test_scorer import CONDS, feed, make_clips

import avsbench_robust as ab
from avsbench_robust.errors import ValidationError
from avsbench_robust.scorer import Scorer


def _batched(scorer: Scorer, clips, as_torch=False) -> Scorer:
    for c in CONDS:
        for i in range(0, len(clips), 4):
            chunk = clips[i:i + 4]
            pred = np.stack([x[3][c] for x in chunk])
            gt = np.stack([x[2] for x in chunk])
            if as_torch:
                pred, gt = torch.from_numpy(pred), torch.from_numpy(gt)
            scorer.update(c, pred, gt, video=[x[0] for x in chunk], category=[x[1] for x in chunk])
    return scorer


@pytest.mark.parametrize("as_torch", [False, True])
def test_batch_update_equals_one_clip_at_a_time(as_torch):
    clips = make_clips(n_videos=9)
    order = [c[0] for c in clips]
    one = feed(Scorer("s4", video_order=order), clips).compute().to_json()
    assert _batched(Scorer("s4", video_order=order), clips, as_torch).compute().to_json() == one


def test_batch_update_checks_its_ids():
    clips = make_clips(n_videos=2)
    pred = np.stack([c[3]["positive"] for c in clips])
    gt = np.stack([c[2] for c in clips])
    s = Scorer("s4")
    with pytest.raises(ValidationError, match="needs 2 video ids"):
        s.update("positive", pred, gt, video=["a"])
    with pytest.raises(ValidationError, match="names a video twice"):
        s.update("positive", pred, gt, video=["a", "a"])
    with pytest.raises(ValidationError, match=r"needs a batch \[B,T,H,W\]"):
        s.update("positive", pred[0], gt[0], video=["a", "b"])


def test_feeding_a_video_twice_is_an_error_until_reset():
    clips = make_clips(n_videos=3)
    s = feed(Scorer("s4"), clips)
    first = s.compute().to_json()
    video, cat, gt, preds = clips[0]
    with pytest.raises(ValidationError, match="already fed under positive; call reset()"):
        s.update("positive", preds["positive"], gt, video=video)
    s.reset()
    assert feed(s, clips).compute().to_json() == first
    # append=True adds frames of a clip on purpose: two halves equal the whole clip
    halves = Scorer("s4")
    for video, cat, gt, preds in clips:
        for c in CONDS:
            halves.update(c, preds[c][:2], gt[:2], video=video, category=cat)
            halves.update(c, preds[c][2:], gt[2:], video=video, category=cat, append=True)
    whole = s.compute().flat()
    assert halves.compute().flat() == pytest.approx(whole, abs=1e-12)


def test_globals_missing_is_a_clear_error_and_flat_dict_is_logger_ready():
    clips = make_clips(n_videos=3)
    s = feed(Scorer("ms3"), clips, conds=("positive",))
    with pytest.raises(ValidationError, match="global metrics need positive and at least one negative.*fed: positive"):
        s.compute()
    partial = s.compute(require_global=False)
    assert partial.global_ is None
    flat = s.compute_flat("val/")
    assert "val/positive/miou" in flat and not any(k.startswith("val/global") for k in flat)
    full = feed(Scorer("ms3"), clips).compute()
    d = full.flat()
    assert all(isinstance(v, float) for v in d.values())
    assert d["global/g_miou"] == full.global_.g_miou and d["negative/fpr"] == full.negative.fpr
    assert d["silence/frames"] == 15.0


def test_curves_are_kept_and_agree_with_the_f_score():
    clips = make_clips(n_videos=6)
    res = feed(Scorer("s4"), clips).compute()
    doc = res.to_dict()
    for cond in ("positive", "silence", "negative"):
        curves = doc["curves"][cond]
        assert {len(v) for v in curves.values()} == {255}
        m = res.negative if cond == "negative" else res.conditions[next(c for c in res.conditions if c.value == cond)]
        assert max(curves["f"]) == pytest.approx(m.f_score, abs=1e-9)
        # at threshold 0 every pixel is foreground: recall 1, precision = mean GT area fraction
        gts = [gt[t] for _, _, gt, _ in clips for t in range(gt.shape[0]) if gt[t].any()]
        assert curves["recall"][0] == pytest.approx(1.0)
        assert curves["precision"][0] == pytest.approx(np.mean([g.mean() for g in gts]), abs=1e-9)
        assert curves["recall"] == sorted(curves["recall"], reverse=True)  # recall only falls as t rises


def test_functional_one_liners_match_the_scorer():
    video, cat, gt, preds = make_clips(n_videos=1)[0]
    s = Scorer("s4")
    s.update("positive", preds["positive"], gt, video=video)
    m = s.compute(require_global=False).conditions[next(iter(s._rows))]
    assert ab.miou(preds["positive"], gt) == pytest.approx(m.miou, abs=1e-12)
    assert ab.f_score(torch.from_numpy(preds["positive"]), torch.from_numpy(gt)) == pytest.approx(m.f_score, abs=1e-12)
    assert ab.fpr(preds["positive"]) == pytest.approx(m.fpr, abs=1e-12)
    assert ab.miou(gt.astype(bool), gt) == pytest.approx(1.0)
    sem_gt = np.zeros((2, 8, 8), np.uint8)
    sem_gt[:, 2:5, 2:5] = 7
    assert ab.miou(sem_gt, sem_gt, semantic=True) == pytest.approx(1.0)  # 2 classes occur, both perfect
    assert ab.fpr(sem_gt, semantic=True) == pytest.approx(9 / 64)
    with pytest.raises(ValueError):
        ab.miou(np.zeros((4, 4), np.float32), np.zeros((5, 4), np.uint8))
