"""numpy and torch backends give the same per-frame metrics and the same Results (to 1e-6)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from avsbench_robust.metrics.binary import binary_frame_stats, threshold_counts  # noqa: E402
from avsbench_robust.metrics.semantic import semantic_frame_stats  # noqa: E402
from avsbench_robust.metrics.torch_ops import (  # noqa: E402
    binary_frame_stats_torch,
    semantic_frame_stats_torch,
    threshold_counts_torch,
)
from avsbench_robust.scorer import Scorer  # noqa: E402

GOLDEN = Path(__file__).parent / "data" / "golden"


def _golden():
    if not (GOLDEN / "binary_metrics.npz").exists():
        pytest.skip("golden fixtures absent")
    return np.load(GOLDEN / "binary_metrics.npz"), np.load(GOLDEN / "semantic_metrics.npz")


def test_threshold_counts_identical():
    p = np.random.default_rng(0).random(100_000).astype(np.float32)
    np.testing.assert_array_equal(threshold_counts(p), threshold_counts_torch(torch.from_numpy(p)).numpy())


@pytest.mark.parametrize("kind", ["u8", "prob", "logits", "bool"])
def test_binary_numpy_equals_torch(kind):
    rng = np.random.default_rng(3)
    gt = (rng.random((6, 37, 29)) > 0.6).astype(np.uint8)
    gt[2] = 0
    pred = {"u8": rng.integers(0, 256, gt.shape, dtype=np.uint8),
            "prob": rng.random(gt.shape).astype(np.float32),
            "logits": (rng.normal(0, 3, gt.shape)).astype(np.float32),
            "bool": rng.random(gt.shape) > 0.5}[kind]
    a = binary_frame_stats(pred, gt, logits=kind == "logits")
    b = binary_frame_stats_torch(torch.from_numpy(pred), torch.from_numpy(gt), logits=kind == "logits")
    for name in ("iou", "fpr", "f_curve"):
        np.testing.assert_allclose(getattr(a, name), b[name].numpy(), atol=1e-6, rtol=0)
    assert b["f_curve"].dtype == torch.float64


def test_semantic_numpy_equals_torch():
    _, sem = _golden()
    pred, gt = sem["avss_v2_56__pred"], sem["avss_v2_56__gt"]
    a = semantic_frame_stats(pred, gt)
    b = semantic_frame_stats_torch(torch.from_numpy(pred), torch.from_numpy(gt))
    np.testing.assert_allclose(a.iou, b["iou"].numpy(), atol=1e-6)
    np.testing.assert_allclose(a.f, b["f"].numpy(), atol=1e-6)
    np.testing.assert_array_equal(a.present, b["present"].numpy())
    np.testing.assert_allclose(a.fpr, b["fpr"].numpy(), atol=1e-12)


@pytest.mark.parametrize("subset", ["s4", "avss"])
def test_scorer_results_identical_for_numpy_and_torch_inputs(subset):
    binary, sem = _golden()
    if subset == "s4":
        pred, gt, fpv = binary["logits_f32_64__pred_logits"], binary["logits_f32_64__gt"], 5
    else:
        pred, gt, fpv = sem["avss_v2_56__pred"], sem["avss_v2_56__gt"], 10
    docs = []
    for as_tensor in (False, True):
        scorer = Scorer(subset, protocol="official", batch_size=2, logits=True)
        for v, s in enumerate(range(0, len(pred), fpv)):
            for cond in ("positive", "silence"):
                p, g = pred[s:s + fpv], gt[s:s + fpv]
                if as_tensor:
                    p, g = torch.from_numpy(p), torch.from_numpy(g)
                scorer.update(cond, p, g, video=f"v{v}")
        docs.append(scorer.compute().to_dict())
    a, b = docs

    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, prefix + k + ".")
            else:
                yield prefix + k, v
    fa, fb = dict(flat(a)), dict(flat(b))
    assert fa.keys() == fb.keys()
    for k in fa:
        if isinstance(fa[k], float):
            assert fa[k] == pytest.approx(fb[k], abs=1e-6), k
        else:
            assert fa[k] == fb[k], k
