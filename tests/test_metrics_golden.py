"""Exact parity with the outputs of the official AVSBench functions (tests/data/golden, copied from shared/golden)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avsbench_robust.metrics import aggregate as agg
from avsbench_robust.metrics.binary import THRESHOLDS, binary_frame_stats, threshold_counts, to_probability
from avsbench_robust.metrics.semantic import semantic_frame_stats
from avsbench_robust.scorer import Scorer

GOLDEN = Path(__file__).parent / "data" / "golden"
TOL = 1e-6


def _load(kind: str):
    if not (GOLDEN / f"{kind}_metrics.npz").exists():
        pytest.skip(f"golden fixtures absent in {GOLDEN}")
    return np.load(GOLDEN / f"{kind}_metrics.npz"), json.loads((GOLDEN / f"{kind}_metrics.json").read_text())


BIN_NPZ, BIN_JSON = _load("binary") if (GOLDEN / "binary_metrics.npz").exists() else (None, {})
SEM_NPZ, SEM_JSON = _load("semantic") if (GOLDEN / "semantic_metrics.npz").exists() else (None, {})


def _binary_case(case: str):
    pred_key = next(k for k in BIN_NPZ.files if k.startswith(case + "__pred"))
    return BIN_NPZ[pred_key], BIN_NPZ[case + "__gt"], pred_key.endswith("logits")


def test_thresholds_are_torch_linspace_float32():
    assert THRESHOLDS.dtype == np.float32 and THRESHOLDS.shape == (255,)
    assert THRESHOLDS[0] == 0.0 and THRESHOLDS[-1] == 1.0  # 1-1e-10 rounds to 1.0 in float32
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(THRESHOLDS, torch.linspace(0, 1 - 1e-10, 255).numpy())


def test_threshold_counts_match_searchsorted_at_every_edge():
    rng = np.random.default_rng(1)
    edges = np.concatenate([THRESHOLDS, np.nextafter(THRESHOLDS, np.float32(-1)),
                            np.nextafter(THRESHOLDS, np.float32(2)), rng.random(200_000).astype(np.float32)])
    p = np.clip(edges, 0, 1).astype(np.float32)
    np.testing.assert_array_equal(threshold_counts(p), np.searchsorted(THRESHOLDS, p, side="right"))
    u8 = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(threshold_counts(to_probability(u8)),
                                  np.searchsorted(THRESHOLDS, u8.astype(np.float32) / np.float32(255), side="right"))


@pytest.mark.parametrize("case", sorted(BIN_JSON))
def test_binary_per_frame_and_mean_curve(case):
    pred, gt, logits = _binary_case(case)
    exp = BIN_JSON[case]
    stats = binary_frame_stats(pred, gt, logits=logits)
    np.testing.assert_allclose(stats.iou, exp["per_frame_iou"], atol=TOL, rtol=0)
    np.testing.assert_allclose(stats.fpr, exp["per_frame_fpr"], atol=TOL, rtol=0)
    assert int(stats.nonempty.sum()) == exp["nonempty_gt_frames"]
    np.testing.assert_allclose(stats.f_curve[stats.nonempty].mean(axis=0), exp["mean_f_curve"], atol=TOL, rtol=0)


def _feed_binary(scorer: Scorer, pred, gt, fpv: int, logits: bool, condition="positive"):
    for v, start in enumerate(range(0, len(pred), fpv)):
        scorer.update(condition, pred[start:start + fpv], gt[start:start + fpv], video=f"v{v:03d}", logits=logits)


@pytest.mark.parametrize("case", sorted(BIN_JSON))
def test_binary_official_every_batch_size_and_canonical(case):
    pred, gt, logits = _binary_case(case)
    exp = BIN_JSON[case]
    for key, values in exp["official"].items():
        b = int(key.rsplit("_", 1)[1])
        scorer = Scorer("s4", protocol="official", batch_size=b)
        _feed_binary(scorer, pred, gt, exp["frames_per_video"], logits)
        res = scorer.compute(require_global=False).conditions[next(iter(scorer.compute(require_global=False).conditions))]
        assert res.miou == pytest.approx(values["miou"], abs=TOL), key
        assert res.f_score == pytest.approx(values["f_score"], abs=TOL), key
    canonical = Scorer("ms3")
    _feed_binary(canonical, pred, gt, exp["frames_per_video"], logits)
    res = canonical.compute(require_global=False).conditions
    pos = next(iter(res.values()))
    assert pos.f_score == pytest.approx(exp["f_all_frames_one_batch"], abs=TOL)
    assert pos.miou == pytest.approx(np.mean(exp["per_frame_iou"]), abs=TOL)
    assert pos.fpr == pytest.approx(np.mean(exp["per_frame_fpr"]), abs=TOL)


def test_official_all_empty_gt_batch_scores_zero_f():
    # logits_f32_64: video 2 (frames 10-14) has only empty GTs; with B=1 its batch contributes F = 0
    pred, gt, logits = _binary_case("logits_f32_64")
    table = agg.concat_tables([
        {k: np.asarray(v)[None] for k, v in agg.binary_row(binary_frame_stats(pred[s:s + 5], gt[s:s + 5], logits)).items()}
        for s in range(0, 50, 5)], agg.BINARY_COLUMNS)
    per = agg.binary_batches(table, 1)
    assert gt[10:15].sum() == 0 and per["f_score"][2] == 0.0
    assert per["f_score"].mean() == pytest.approx(BIN_JSON["logits_f32_64"]["official"]["batch_videos_1"]["f_score"], abs=TOL)


def test_empty_prediction_still_gets_f_at_threshold_zero():
    # documented artefact: at t = 0 every pixel is foreground, so F = 1.3a/(0.3a+1) for GT area fraction a
    gt = np.zeros((1, 20, 20), np.uint8)
    gt[0, :10, :8] = 1  # a = 80/400 = 0.2
    stats = binary_frame_stats(np.zeros_like(gt), gt)
    a = 0.2
    assert stats.f_curve[0, 0] == pytest.approx(1.3 * a / (0.3 * a + 1), abs=1e-9)
    assert stats.f_curve[0, 1:].max() == 0.0
    assert stats.iou[0] == 0.0 and stats.fpr[0] == 0.0


def _sem_rows(pred, gt, fpv, real=None):
    rows = []
    for s in range(0, len(pred), fpv):
        st = semantic_frame_stats(pred[s:s + fpv], gt[s:s + fpv])
        keep = None if real is None else np.arange(fpv) < real
        rows.append({k: np.asarray(v)[None] for k, v in agg.semantic_row(st, keep).items()})
    return agg.concat_tables(rows, agg.SEMANTIC_COLUMNS)


@pytest.mark.parametrize("case", sorted(SEM_JSON))
def test_semantic_official_sums_and_means(case):
    pred, gt = SEM_NPZ[case + "__pred"], SEM_NPZ[case + "__gt"]
    exp = SEM_JSON[case]
    for key, values in exp["official"].items():
        b = int(key.rsplit("_", 1)[1])
        scorer = Scorer("avss", protocol="official", batch_size=b)
        fpv = exp["frames_per_video"]
        for v, s in enumerate(range(0, len(pred), fpv)):
            scorer.update("positive", pred[s:s + fpv], gt[s:s + fpv], video=f"u{v}",
                          real_frames=exp["real_frames_per_video"])
        m = scorer.compute(require_global=False).conditions[next(iter(scorer._rows))]
        assert m.miou == pytest.approx(values["miou"], abs=TOL)
        assert m.f_score == pytest.approx(values["f_score"], abs=TOL)
        assert m.extra["miou_nobg_official"] == pytest.approx(values["miou_noBg_official"], abs=TOL)
        assert m.extra["f_score_nobg_official"] == pytest.approx(values["f_score_noBg_official"], abs=TOL)
        table = _sem_rows(pred, gt, fpv)
        np.testing.assert_allclose(table["iou_sum"].sum(0), values["iou_sum"], atol=1e-5, rtol=1e-6)
        np.testing.assert_allclose(table["f_sum"].sum(0), values["fscore_sum"], atol=1e-5, rtol=1e-6)
        np.testing.assert_array_equal(table["count"].sum(0), values["class_count"])


def test_semantic_nobg_is_classes_1_to_70_and_canonical_drops_padding():
    case = "avss_v1s_padded_48"
    pred, gt = SEM_NPZ[case + "__pred"], SEM_NPZ[case + "__gt"]
    res = agg.aggregate_semantic([_sem_rows(pred, gt, 10)])
    assert res.overall.extra["miou_nobg"] == pytest.approx(res.per_class_iou[1:].mean())
    assert res.overall.extra["miou_nobg_official"] == pytest.approx(res.per_class_iou[:70].mean())
    canonical = agg.aggregate_semantic([_sem_rows(pred, gt, 10, real=5)], "present")  # canonical: classes that occur
    assert canonical.class_count.sum() < res.class_count.sum()  # padded frames no longer counted
    scorer = Scorer("avss")
    for v, s in enumerate(range(0, 20, 10)):
        scorer.update("positive", pred[s:s + 10], gt[s:s + 10], video=f"u{v}", real_frames=5)
    assert scorer.compute(require_global=False).conditions[next(iter(scorer._rows))].miou == pytest.approx(canonical.overall.miou)
    assert scorer.compute(require_global=False).conditions[next(iter(scorer._rows))].frames == 10
