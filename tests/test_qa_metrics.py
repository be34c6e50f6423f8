"""Independent check of the scorer against tests/reference_metrics.py on cases the golden files do not cover.

Odd frame sizes, empty-GT frames and batches, full predictions, probabilities exactly on the float32
thresholds, extreme logits, uint8 and bool inputs, partial last batches, several conditions,
torch tensors, sharded scoring. Every number must agree with the plain reference within 1e-6.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from reference_metrics import Update, binary_reference, semantic_reference, thresholds

from avsbench_robust.data.classes import AVSS_CLASSES
from avsbench_robust.scorer import Scorer

TOL = 1e-6
CONDS = ("positive", "silence", "noise", "offscreen")


def _edge_pool() -> np.ndarray:
    """Probabilities that sit exactly on (or one ulp beside) the thresholds and 0.5."""
    t = thresholds().numpy()
    k = np.arange(255, dtype=np.float64)
    pool = np.concatenate([
        t, (k / 254).astype(np.float32), np.float32([0.0, 1.0, 0.5]),
        np.nextafter(np.float32([0.5, 0.5]), np.float32([1, 0])),
        np.nextafter(t[1:], np.float32(0)), np.nextafter(t[:-1], np.float32(1)),
    ]).astype(np.float32)
    return pool


def _binary_clip(rng: np.random.Generator, shape: tuple[int, int, int], how: str) -> tuple[np.ndarray, np.ndarray]:
    t, h, w = shape
    gt = (rng.random(shape) < rng.uniform(0.05, 0.7)).astype(np.uint8)
    if how == "empty_gt":
        gt[:] = 0
    elif t > 1:
        gt[rng.integers(t)] = 0  # one empty-GT frame in most clips
    if how == "edges":
        pred = rng.choice(_edge_pool(), size=shape)
    elif how == "full":
        pred = np.ones(shape, np.float32)
    elif how == "empty_pred":
        pred = np.zeros(shape, np.float32)
    else:
        pred = rng.random(shape, dtype=np.float32)
        pred[rng.random(shape) < 0.2] = 0.5
    if how in ("edges", "random", "empty_gt") and t > 1:
        pred[0][gt[0] > 0] = 1.0  # a frame whose prediction is perfect on the object
    return pred.astype(np.float32), gt


def _binary_updates(seed: int, shapes: list[tuple[int, int, int]], hows: list[str],
                    conds=CONDS + ("fused",)) -> list[Update]:
    rng = np.random.default_rng(seed)
    ups = []
    for c in conds:
        for v, (shape, how) in enumerate(zip(shapes, hows)):
            pred, gt = _binary_clip(rng, shape, how)
            ups.append(Update(c, f"-vid{v:02d}", pred, gt, "prob", category=f"cat{v % 3}"))
    return ups


def _score(subset: str, ups: list[Update], protocol="canonical", batch=None, video_order=None,
           as_torch=False, logits=False) -> dict:
    s = Scorer(subset, protocol, batch, video_order=video_order, logits=logits)
    for u in ups:
        pred, gt = u.pred, u.gt
        if as_torch:
            pred, gt = torch.from_numpy(np.ascontiguousarray(pred)), torch.from_numpy(np.ascontiguousarray(gt))
        s.update(u.condition, pred, gt, video=u.video, category=u.category, real_frames=u.real_frames)
    return s.compute(require_global=False).to_dict()


def _close(got: dict, ref: dict, where: str, keys=("miou", "f_score", "fpr")) -> None:
    for k in keys:
        assert got[k] == pytest.approx(ref[k], abs=TOL), f"{where}.{k}: scorer {got[k]} vs reference {ref[k]}"


def _compare_binary(got: dict, ref: dict, breakdown: bool = True) -> None:
    assert set(got["conditions"]) == set(ref["conditions"])
    for c, r in ref["conditions"].items():
        _close(got["conditions"][c], r, c)
        assert got["conditions"][c]["frames"] == r["frames"]
    _close(got["negative"], ref["negative"], "negative")
    assert got["negative"]["frames"] == ref["negative"]["frames"]
    _close(got["global"], ref["global"], "global", ("g_miou", "g_f", "g_fpr"))
    if breakdown:
        for c, cats in ref["breakdown"].items():
            for cat, r in cats.items():
                _close(got["breakdown"]["conditions"][c][cat], r, f"breakdown.{c}.{cat}")


# 7 videos of 7x13, mixed content: every B in 1,2,3,5 leaves a partial last batch except B=1
MIXED_SHAPES = [(5, 7, 13)] * 7
MIXED_HOWS = ["random", "edges", "empty_gt", "full", "edges", "empty_pred", "random"]


@pytest.fixture(scope="module")
def mixed() -> list[Update]:
    return _binary_updates(1, MIXED_SHAPES, MIXED_HOWS)


def test_canonical_mixed(mixed):
    _compare_binary(_score("s4", mixed), binary_reference(mixed))


@pytest.mark.parametrize("batch", [1, 2, 3, 5])
def test_official_partial_batches(mixed, batch):
    ref = binary_reference(mixed, "official", batch)
    _compare_binary(_score("s4", mixed, "official", batch), ref, breakdown=False)


def test_official_follows_video_order_not_update_order(mixed):
    order = [f"-vid{v:02d}" for v in (6, 2, 4, 0, 5, 1, 3)]
    ref = binary_reference(mixed, "official", 2, video_order=order)
    _compare_binary(_score("ms3", mixed, "official", 2, video_order=order), ref, breakdown=False)
    # the quirk is real: another order gives another official F
    other = binary_reference(mixed, "official", 2)
    assert any(abs(ref["conditions"][c]["f_score"] - other["conditions"][c]["f_score"]) > 1e-4 for c in CONDS)


def test_odd_sizes():
    ups = _binary_updates(2, [(5, 1, 1), (3, 1, 1), (1, 225, 223), (1, 7, 13)],
                          ["random", "edges", "edges", "random"], conds=CONDS)
    _compare_binary(_score("s4", ups), binary_reference(ups))
    _compare_binary(_score("s4", ups, "official", 3), binary_reference(ups, "official", 3), breakdown=False)


def test_all_empty_gt_batches_and_condition():
    """Batches with only empty GTs give F = 0 (official); an all-empty condition has F = 0 (canonical)."""
    ups = _binary_updates(3, [(5, 6, 5)] * 4, ["empty_gt", "empty_gt", "random", "full"], conds=("positive",))
    rng = np.random.default_rng(3)
    for c in ("silence", "noise", "offscreen"):
        for v in range(4):
            pred, gt = _binary_clip(rng, (5, 6, 5), "empty_gt")
            ups.append(Update(c, f"-vid{v:02d}", pred, gt, "prob", category=f"cat{v % 3}"))
    ref = binary_reference(ups)
    assert ref["conditions"]["silence"]["f_score"] == 0.0
    _compare_binary(_score("s4", ups), ref)
    ref_off = binary_reference(ups, "official", 2)
    assert ref_off["conditions"]["positive"]["f_score"] < ref["conditions"]["positive"]["f_score"]
    _compare_binary(_score("s4", ups, "official", 2), ref_off, breakdown=False)


def test_empty_and_full_predictions_artefact():
    """An all-empty prediction still gets F = 1.3a/(0.3a+1) at threshold 0 (SPEC §3 artefact)."""
    ups = _binary_updates(4, [(5, 8, 8)] * 3, ["empty_pred", "full", "empty_pred"], conds=CONDS)
    _compare_binary(_score("s4", ups), binary_reference(ups))
    gt = np.zeros((1, 10, 10), np.uint8)
    gt[0, :2] = 1  # a = 0.2
    s = Scorer("s4")
    s.update("positive", np.zeros((1, 10, 10), np.float32), gt, video="a")
    assert s.compute(require_global=False).to_dict()["conditions"]["positive"]["f_score"] == pytest.approx(1.3 * 0.2 / 1.06, abs=TOL)


@pytest.mark.parametrize("as_torch", [False, True])
def test_extreme_logits(as_torch):
    rng = np.random.default_rng(5)
    pool = np.float32([0.0, -0.0, 80, -80, 1e4, -1e4, 3e38, -3e38, 1e-8, -1e-8, 16.6, -16.6, 88.7, -88.7, 104, -104])
    ups = []
    for c in CONDS:
        for v in range(3):
            gt = (rng.random((5, 9, 4)) < 0.4).astype(np.uint8)
            gt[2] = 0
            logit = np.where(rng.random((5, 9, 4)) < 0.5, rng.choice(pool, (5, 9, 4)),
                             rng.normal(0, 6, (5, 9, 4))).astype(np.float32)
            ups.append(Update(c, f"v{v}", logit, gt, "logits"))
    got = _score("s4", ups, logits=True, as_torch=as_torch)
    _compare_binary(got, binary_reference(ups), breakdown=False)
    got = _score("s4", ups, "official", 2, logits=True, as_torch=as_torch)
    _compare_binary(got, binary_reference(ups, "official", 2), breakdown=False)


@pytest.mark.parametrize("as_torch", [False, True])
def test_uint8_every_value_and_bool(as_torch):
    rng = np.random.default_rng(6)
    ups = []
    for c in CONDS:
        for v in range(2):
            gt = (rng.random((4, 16, 16)) < 0.5).astype(np.uint8) * 255  # GT given as 0/255
            gt[3] = 0
            pred = rng.permutation(np.arange(256, dtype=np.uint8)).reshape(16, 16)[None].repeat(4, 0)
            ups.append(Update(c, f"u{v}", pred, gt, "u8"))
            ups.append(Update(c, f"b{v}", rng.random((4, 16, 16)) < 0.4, gt[:, ::-1].copy(), "bool"))
    _compare_binary(_score("ms3", ups, as_torch=as_torch), binary_reference(ups), breakdown=False)
    _compare_binary(_score("ms3", ups, "official", 3, as_torch=as_torch), binary_reference(ups, "official", 3),
                    breakdown=False)


def test_torch_tensors_match_numpy(mixed):
    _compare_binary(_score("s4", mixed, as_torch=True), binary_reference(mixed))


def test_split_clip_updates_and_shards_merge(mixed):
    """A clip fed in two calls, and two shards merged, equal the reference of one pass."""
    order = []
    for u in mixed:
        if u.video not in order:
            order.append(u.video)
    s1 = Scorer("s4", "official", 3, video_order=order)
    s2 = Scorer("s4", "official", 3, video_order=order)
    for i, u in enumerate(mixed):
        target = s1 if i % 2 else s2
        target.update(u.condition, u.pred[:2], u.gt[:2], video=u.video, category=u.category)
        target.update(u.condition, u.pred[2:], u.gt[2:], video=u.video, category=u.category, append=True)
    got = s1.merge(s2).compute(require_global=False).to_dict()
    _compare_binary(got, binary_reference(mixed, "official", 3, video_order=order), breakdown=False)


# ----------------------------------------------------------------------------- AVSS


def _semantic_updates(seed: int, shape: tuple[int, int], padded: set[int], videos: int = 4) -> list[Update]:
    rng = np.random.default_rng(seed)
    ups = []
    for c in CONDS:
        for v in range(videos):
            classes = rng.choice(np.arange(1, 71), size=3, replace=False)
            pool = np.concatenate([[0, 0, 0], classes, [70]])
            gt = rng.choice(pool, size=(10, *shape))
            pred = np.where(rng.random((10, *shape)) < 0.6, gt, rng.choice(pool, size=(10, *shape)))
            if c != "positive":
                pred[rng.random(pred.shape) < 0.5] = 0
            real = None
            if v in padded:
                real = 5
                gt[5:] = 0
                pred[5:] = 0
                pred[7, 0, 0] = classes[0]  # a class predicted on a padded frame (as the golden case)
            if v == videos - 1:
                gt[1] = 0  # an all-background GT frame
            ups.append(Update(c, f"uid{v}", pred.astype(np.int64), gt.astype(np.int64), "classes", real_frames=real))
    return ups


SEM_KEYS = ("miou", "f_score", "fpr", "miou_nobg", "f_score_nobg", "miou_nobg_official", "f_score_nobg_official")


@pytest.mark.parametrize("shape,protocol,batch", [((7, 13), "canonical", None), ((1, 1), "official", 1),
                                                  ((9, 5), "official", 3)])
def test_semantic(shape, protocol, batch):
    ups = _semantic_updates(7, shape, padded={0, 2})
    got = _score("avss", ups, protocol, batch)
    ref = semantic_reference(ups, protocol)
    for c, r in ref["conditions"].items():
        _close(got["conditions"][c], r, c, SEM_KEYS)
        assert got["conditions"][c]["frames"] == r["frames"]
        for ci, name in enumerate(AVSS_CLASSES):
            if r["_count"][ci]:
                b = got["breakdown"]["conditions"][c][name]
                assert b["miou"] == pytest.approx(r["_iou_c"][ci], abs=TOL), (c, name)
                assert b["f_score"] == pytest.approx(r["_f_c"][ci], abs=TOL), (c, name)
                assert b["frames"] == r["_count"][ci]
    _close(got["negative"], ref["negative"], "negative", SEM_KEYS)
    _close(got["global"], ref["global"], "global", ("g_miou", "g_f", "g_fpr"))


def test_semantic_padding_matters():
    """The two protocols differ exactly by the padded frames: guard that the case exercises it."""
    ups = _semantic_updates(8, (6, 6), padded={0, 1, 2, 3})
    can, off = semantic_reference(ups, "canonical"), semantic_reference(ups, "official")
    assert can["conditions"]["positive"]["frames"] != off["conditions"]["positive"]["frames"]
    got_can, got_off = _score("avss", ups, "canonical", as_torch=True), _score("avss", ups, "official", 2)
    _close(got_can["conditions"]["positive"], can["conditions"]["positive"], "canonical", SEM_KEYS)
    _close(got_off["conditions"]["positive"], off["conditions"]["positive"], "official", SEM_KEYS)
