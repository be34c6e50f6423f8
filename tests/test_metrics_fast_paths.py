"""The fast per-frame paths of metrics.binary agree exactly with plain definitions and with each other.

OpenCV histograms (frames up to 2**24 pixels) vs the bincount fallback; threshold counts by byte
lookup tables vs searchsorted; the p > 0.5 areas derived from the threshold histogram (with the
pixels exactly at 0.5 taken out) vs direct comparisons.
"""
from __future__ import annotations

import numpy as np
import pytest

from avsbench_robust.metrics import binary
from avsbench_robust.metrics.binary import THRESHOLDS, binary_frame_stats, threshold_counts


def _plain(prob: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame areas and the threshold tails by the definitions, one broadcast (small inputs only)."""
    obj = gt != 0
    fg = prob > np.float32(0.5)
    passed = prob[..., None] >= THRESHOLDS  # [T,H,W,255]
    return {
        "pred_area": fg.sum(axis=(1, 2)), "inter": (fg & obj).sum(axis=(1, 2)), "gt_area": obj.sum(axis=(1, 2)),
        "pp": passed.sum(axis=(1, 2)), "tp": (passed & obj[..., None]).sum(axis=(1, 2)),
    }


def _inputs(seed: int, shape=(6, 9, 11)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pool = np.concatenate([THRESHOLDS, np.nextafter(THRESHOLDS, np.float32(2)),
                           np.nextafter(THRESHOLDS, np.float32(-1)), np.float32([0, 0.5, 1, 0.5, 0.5])])
    prob = np.where(rng.random(shape) < 0.5, rng.choice(np.clip(pool, 0, 1), size=shape),
                    rng.random(shape)).astype(np.float32)
    gt = (rng.random(shape) < 0.4).astype(np.uint8)
    gt[1] = 0
    prob.reshape(-1)[:: 17] = 0.5  # exactly at the IoU threshold, on object and background pixels
    return prob, gt


def test_threshold_counts_any_shape_and_chunk_boundary():
    rng = np.random.default_rng(0)
    n = binary._CHUNK_PIXELS * 2 + 7  # crosses two chunk boundaries
    p = rng.random(n).astype(np.float32)
    p[binary._CHUNK_PIXELS - 1: binary._CHUNK_PIXELS + 1] = [0.5, 1.0]
    np.testing.assert_array_equal(threshold_counts(p), np.searchsorted(THRESHOLDS, p, side="right"))
    cube = p[: 3 * 5 * 7].reshape(3, 5, 7)
    assert threshold_counts(cube).shape == (3, 5, 7) and threshold_counts(cube).dtype == np.uint8
    assert threshold_counts(np.zeros(0, np.float32)).shape == (0,)


@pytest.mark.parametrize("seed", [1, 2])
def test_float_path_matches_definitions_including_p_exactly_half(seed):
    prob, gt = _inputs(seed)
    assert (prob == 0.5).any()
    ref = _plain(prob, gt)
    st = binary_frame_stats(prob, gt)
    np.testing.assert_array_equal(st.gt_area, ref["gt_area"])
    np.testing.assert_allclose(st.fpr, ref["pred_area"] / (9 * 11), rtol=0, atol=0)
    nonempty = ref["gt_area"] > 0
    want = binary.f_curve_from_counts(ref["tp"], ref["pp"], ref["gt_area"])
    np.testing.assert_array_equal(st.f_curve[nonempty], want[nonempty])
    union = ref["pred_area"] + ref["gt_area"] - ref["inter"]
    np.testing.assert_allclose(st.iou[nonempty], (ref["inter"] / (union + 1e-7))[nonempty], rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", ["uint8", "float32", "bool"])
def test_bincount_fallback_equals_opencv_histograms(monkeypatch, dtype):
    prob, gt = _inputs(3, (5, 16, 13))
    pred = {"uint8": (prob * 255).round().astype(np.uint8), "float32": prob, "bool": prob > 0.3}[dtype]
    fast = binary_frame_stats(pred, gt)
    monkeypatch.setattr(binary, "_CV_EXACT_PIXELS", 0)  # as for frames over 2**24 pixels
    slow = binary_frame_stats(pred, gt)
    for name in ("iou", "fpr", "gt_area", "f_curve"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)


def test_bool_is_scored_as_bytes_0_255():
    prob, gt = _inputs(4)
    mask = prob > 0.4
    a, b = binary_frame_stats(mask, gt), binary_frame_stats(mask.astype(np.float32), gt)
    for name in ("iou", "fpr", "f_curve"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
