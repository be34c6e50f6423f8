"""Bootstrap intervals at AVSBench test scale: the vectorised replicates vs re-aggregating every replicate
in a Python loop (what a naive implementation does), on the same per-video sums.

Per-video tables are random but shaped like S4 test (740 videos x 5 frames, 4 conditions) or AVSS; prints
seconds for 1000 resamples both ways and checks one replicate agrees.

    python benchmarks/bench_bootstrap.py [--videos 740] [--resamples 1000] [--semantic]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from avsbench_robust.intervals import _prepared, bootstrap_intervals
from avsbench_robust.metrics import aggregate as agg
from avsbench_robust.metrics import bootstrap as bs
from avsbench_robust.results import PerVideo
from avsbench_robust.types import SCORED_CONDITIONS


def tables(videos: int, semantic: bool, seed: int = 0) -> PerVideo:
    rng = np.random.default_rng(seed)
    names = [f"v{i:04d}" for i in range(videos)]
    out = {}
    for cond in SCORED_CONDITIONS:
        frames = np.full(videos, 5.0)
        if semantic:
            count = (rng.random((videos, 71)) < 0.05) * rng.integers(1, 6, (videos, 71)).astype(float)
            count[:, 0] = 5
            out[cond] = {"frames": frames, "fpr_sum": rng.random(videos) * 5, "count": count,
                         "iou_sum": count * rng.random((videos, 71)), "f_sum": count * rng.random((videos, 71))}
        else:
            nonempty = rng.integers(3, 6, videos).astype(float)
            out[cond] = {"frames": frames, "nonempty": nonempty, "iou_sum": rng.random(videos) * 5,
                         "fpr_sum": rng.random(videos) * 5,
                         "f_sum": nonempty[:, None] * np.sort(rng.random((videos, 255)), axis=1)[:, ::-1]}
    return PerVideo.from_tables("semantic" if semantic else "binary", {c: names for c in out}, out)


def naive(pv: PerVideo, semantic: bool, w: np.ndarray) -> list[float]:
    """Positive mIoU per replicate by materialising the resampled table and aggregating it."""
    out = []
    t = pv.tables[SCORED_CONDITIONS[0]]
    for row in w:
        idx = np.repeat(np.arange(len(row)), row.astype(int))
        sub = {k: v[idx] for k, v in t.items()}
        if semantic:
            out.append(agg.aggregate_semantic([sub], "present").overall.miou)
        else:
            out.append(agg.aggregate_binary([{**sub, "p_sum": sub["f_sum"], "r_sum": sub["f_sum"]}]).miou)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=740)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--semantic", action="store_true")
    a = ap.parse_args()
    pv = tables(a.videos, a.semantic)
    subset = "avss" if a.semantic else "s4"
    t0 = time.perf_counter()
    block = bootstrap_intervals(pv, subset, "canonical", resamples=a.resamples)
    fast = time.perf_counter() - t0
    n, replicate = _prepared(pv, __import__("avsbench_robust").Subset.parse(subset), "canonical", None)
    w = bs.resample_counts(n, a.resamples, 0)
    t0 = time.perf_counter()
    slow_values = naive(pv, a.semantic, w)
    slow = time.perf_counter() - t0
    fast_values = replicate(w)["positive/miou"]
    assert np.allclose(fast_values, slow_values, atol=1e-9), "replicates disagree"
    print(f"{subset}: {a.videos} videos x {len(SCORED_CONDITIONS)} conditions, {a.resamples} resamples")
    print(f"  vectorised, every metric (intervals block): {fast:.3f} s")
    print(f"  Python loop, positive mIoU only:            {slow:.3f} s  ({slow / fast:.0f}x slower for 1 of "
          f"{sum(len(v) for v in block['conditions'].values()) + 6} metrics)")


if __name__ == "__main__":
    main()
