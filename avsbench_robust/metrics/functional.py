"""One-line metrics on one prediction / ground-truth pair (`[H,W]` or `[T,H,W]`), numpy or torch.

The same definitions and canonical (per-frame mean) aggregation as the Scorer, for a quick check or a
unit test; evaluate a split with `Scorer`, which also keeps the per-video sums, curves and intervals.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .aggregate import aggregate_binary, aggregate_semantic, binary_row, semantic_row
from .binary import binary_frame_stats, frame_stack, to_probability
from .semantic import semantic_frame_stats


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _aggregate(pred: Any, gt: Any, logits: bool, semantic: bool) -> Any:
    p, g = _numpy(pred), _numpy(gt)
    if semantic:
        table = {k: np.asarray(v)[None] for k, v in semantic_row(semantic_frame_stats(p, g)).items()}
        return aggregate_semantic([table], over="present").overall
    table = {k: np.asarray(v)[None] for k, v in binary_row(binary_frame_stats(p, g, logits=logits)).items()}
    return aggregate_binary([table])


def miou(pred: Any, gt: Any, *, logits: bool = False, semantic: bool = False) -> float:
    """Mean per-frame IoU (foreground p > 0.5; empty GT scores the true-negative fraction).
    semantic=True: class maps, mean IoU over the classes that occur in `pred` or `gt`."""
    return float(_aggregate(pred, gt, logits, semantic).miou)


def f_score(pred: Any, gt: Any, *, logits: bool = False, semantic: bool = False) -> float:
    """Max over the 255 thresholds of the mean F curve (beta^2 = 0.3) over frames with a non-empty GT."""
    return float(_aggregate(pred, gt, logits, semantic).f_score)


def fpr(pred: Any, gt: Any = None, *, logits: bool = False, semantic: bool = False) -> float:
    """Fraction of pixels predicted as foreground (p > 0.5; semantic: any non-background class); no GT needed."""
    p = _numpy(pred)
    if semantic:
        return float((p != 0).mean()) if p.size else 0.0
    if gt is not None:
        p, _ = frame_stack(p, _numpy(gt))
    if p.ndim == 2:
        p = p[None]
    return float((to_probability(p, logits=logits) > 0.5).mean(axis=(1, 2)).mean()) if p.size else 0.0
