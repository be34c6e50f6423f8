"""Bootstrap intervals and paired comparisons: replicates equal re-scoring the resampled videos, the
point estimate is the Scorer's, results JSON round-trips, pairing refuses different videos."""
from __future__ import annotations

import numpy as np
import pytest
from test_scorer import CONDS, feed, make_clips

from avsbench_robust.errors import ValidationError
from avsbench_robust.intervals import _prepared, paired_bootstrap, render_comparison
from avsbench_robust.metrics import bootstrap as bs
from avsbench_robust.results import Results
from avsbench_robust.scorer import Scorer

CASES = [("s4", "canonical", None, False), ("ms3", "official", 2, False), ("avss", "canonical", None, True),
         ("avss", "official", 3, True)]


def _flat_point(res: Results) -> dict[str, float]:
    return {k: v for k, v in res.flat().items() if k.split("/")[1] in ("miou", "f_score", "fpr", "g_miou", "g_f", "g_fpr")}


@pytest.mark.parametrize("subset,protocol,batch,semantic", CASES)
def test_unit_weights_give_the_scorers_numbers(subset, protocol, batch, semantic):
    clips = make_clips(n_videos=7, frames=10 if semantic else 5, semantic=semantic)
    res = feed(Scorer(subset, protocol, batch, video_order=[c[0] for c in clips]), clips).compute()
    n, replicate = _prepared(res.per_video, res.subset, protocol, batch)
    got = replicate(np.ones((1, n)))
    for key, value in _flat_point(res).items():
        assert got[key][0] == pytest.approx(value, abs=1e-7), key


@pytest.mark.parametrize("subset,semantic", [("s4", False), ("avss", True)])
def test_a_replicate_equals_scoring_the_resampled_videos(subset, semantic):
    """Row r of the counts matrix, fed as real duplicated clips to a fresh Scorer, gives replicate r."""
    clips = make_clips(n_videos=6, frames=10 if semantic else 5, semantic=semantic, seed=3)
    res = feed(Scorer(subset), clips).compute()
    n, replicate = _prepared(res.per_video, res.subset, "canonical", None)
    w = bs.resample_counts(n, 5, seed=11)
    reps = replicate(w)
    units = sorted(c[0] for c in clips)
    by_name = {c[0]: c for c in clips}
    for r in range(5):
        again = Scorer(subset, resamples=0)
        for i, video in enumerate(units):
            _, cat, gt, preds = by_name[video]
            for k in range(int(w[r, i])):
                for cond in CONDS:
                    again.update(cond, preds[cond], gt, video=f"{video}#{k}", category=cat)
        for key, value in _flat_point(again.compute()).items():
            assert reps[key][r] == pytest.approx(value, abs=1e-6), (r, key)


def test_intervals_are_stored_seeded_and_survive_json(tmp_path):
    clips = make_clips(n_videos=8)
    res = feed(Scorer("s4"), clips).compute()
    iv = res.intervals
    assert (iv["resamples"], iv["seed"], iv["level"], iv["unit"], iv["units"]) == (1000, 0, 0.95, "video", 8)
    for key, (lo, hi) in iv["global"].items():
        assert lo <= getattr(res.global_, key) <= hi
    lo, hi = iv["conditions"]["positive"]["miou"]
    assert 0 <= lo < res.conditions[next(iter(res.conditions))].miou < hi <= 1
    path = tmp_path / "r.json"
    res.write_json(path)
    back = Results.read_json(path)
    assert back.to_json() == res.to_json()
    # recomputed from the stored per-video sums: the same intervals
    from avsbench_robust.intervals import bootstrap_intervals

    again = bootstrap_intervals(back.per_video, "s4", "canonical")
    assert Results(**{**back.__dict__, "intervals": again}).to_json() == res.to_json()
    other_seed = feed(Scorer("s4", seed=1), clips).compute().intervals
    assert other_seed["global"] != iv["global"]


def test_paired_bootstrap_detects_a_real_difference_and_not_a_null_one():
    clips = make_clips(n_videos=12, seed=4)
    base = feed(Scorer("s4"), clips).compute()
    better = []
    for video, cat, gt, preds in clips:  # same videos; negatives pushed towards empty masks
        better.append((video, cat, gt, {c: (p if c in ("positive", "fused") else p * 0.3) for c, p in preds.items()}))
    improved = feed(Scorer("s4"), better).compute()
    cmp = paired_bootstrap(base, improved)
    fpr = cmp.row("negative/fpr")
    assert fpr.diff < 0 and fpr.excludes_zero and fpr.high < 0
    assert cmp.row("positive/miou").diff == 0.0 and not cmp.row("positive/miou").excludes_zero
    assert cmp.row("global/g_miou").a == pytest.approx(base.global_.g_miou, abs=1e-7)
    text = render_comparison(cmp, ("base", "better"))
    assert "negative/fpr" in text and "paired bootstrap over 12 videos" in text


def test_paired_bootstrap_refuses_different_videos():
    clips = make_clips(n_videos=8)
    a = feed(Scorer("s4"), clips).compute()
    b = feed(Scorer("s4"), clips[:6]).compute()
    with pytest.raises(ValidationError, match="same videos"):
        paired_bootstrap(a, b)
    c = feed(Scorer("s4", "official", 2), clips).compute()
    with pytest.raises(ValidationError, match="protocol"):
        paired_bootstrap(a, c)


def test_official_batches_are_the_units():
    clips = make_clips(n_videos=7)
    res = feed(Scorer("ms3", "official", 2, video_order=[c[0] for c in clips]), clips).compute()
    assert (res.intervals["unit"], res.intervals["units"]) == ("batch", 4)
