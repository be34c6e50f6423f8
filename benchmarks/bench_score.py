"""Scoring speed at S4-test scale: `score` side by side with a naive decode of the same files.

The tree comes from the project's synthetic generator (S4, `--clips` test clips, masks as AVSBench
ships them); the prediction folder holds one 8-bit probability PNG per GT frame and condition
(740 clips x 5 frames x 4 conditions = 14,800 PNGs at the default). Built once into --tree
(default under /tmp) and reused.

Both sides run with the same N worker processes, interleaved round by round (the order alternates),
so load from other users of a shared machine hits both alike:
  naive: OpenCV decode (cv2.imread, IMREAD_UNCHANGED) of every prediction PNG plus its GT mask once
         per condition -- what a per-condition evaluation loop does -- and nothing else;
  score: `avsbench_robust.score()` end to end (index, layout detection, validation, sha256 of every
         file, decode, metrics, results), which decodes each clip's GT once for all conditions.
Then a profile of one in-process `score` run shows where the time goes.
Usage: python benchmarks/bench_score.py [--clips 740] [--workers 2] [--repeat 3] [--tree DIR]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing as mp
import os
import pstats
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from avsbench_robust.data import synthetic
from avsbench_robust.data.avsbench import load_index, read_mask
from avsbench_robust.predictions.layouts import Layout, frame_paths
from avsbench_robust.predictions.loader import clip_specs
from avsbench_robust.scoring import score
from avsbench_robust.types import SCORED_CONDITIONS, Subset


def build_tree(base: Path, clips: int) -> tuple[Path, Path]:
    """S4 root from the synthetic generator, and PRED with probability PNGs that depend on GT and condition."""
    root, pred = base / "root", base / "pred"
    if not (root / synthetic.MARKER).is_file():
        synthetic.generate(root, "s4", clips, seed=0)
    if (pred / ".complete").is_file():
        return root, pred
    rng = np.random.default_rng(0)
    for clip in clip_specs(load_index(root, "s4", "test")):
        for cond in SCORED_CONDITIONS:
            gain = 160 if cond.value == "positive" else 60
            for gt_path, rel in zip(clip.gt_paths, frame_paths(Layout.GT_MIRROR, Subset.S4, clip)):
                gt = read_mask(gt_path, "s4")
                prob = (gt * gain + rng.integers(0, 90, gt.shape)).astype(np.uint8)
                target = pred / cond.value / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(target), prob)
    (pred / ".complete").touch()
    return root, pred


def _naive_clip(job: tuple[list[str], list[list[str]]]) -> int:
    """One clip the naive way: per condition, decode its prediction PNGs and the GT masks again."""
    gts, preds = job
    n = 0
    for cond_preds in preds:
        for gt, p in zip(gts, cond_preds):
            cv2.imread(p, cv2.IMREAD_UNCHANGED)
            cv2.imread(gt, cv2.IMREAD_UNCHANGED)
            n += 1
    return n


def _init() -> None:
    cv2.setNumThreads(1)


def naive_jobs(root: Path, pred: Path) -> list[tuple[list[str], list[list[str]]]]:
    jobs = []
    for clip in clip_specs(load_index(root, "s4", "test")):
        rels = frame_paths(Layout.GT_MIRROR, Subset.S4, clip)
        jobs.append((list(clip.gt_paths), [[str(pred / c.value / r) for r in rels] for c in SCORED_CONDITIONS]))
    return jobs


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the workers, once their pool is closed)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def naive(jobs: list, workers: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the naive decode."""
    t0, c0 = time.perf_counter(), _cpu()
    with mp.get_context("fork").Pool(workers, initializer=_init) as pool:
        frames = sum(pool.imap(_naive_clip, jobs, chunksize=4))
        pool.close()
        pool.join()
    assert frames == sum(len(g) for g, _ in jobs) * len(SCORED_CONDITIONS)
    return time.perf_counter() - t0, _cpu() - c0


def end_to_end(root: Path, pred: Path, workers: int) -> tuple[float, float]:
    """(wall, CPU) seconds of `score` end to end."""
    t0, c0 = time.perf_counter(), _cpu()
    res = score(pred, "s4", root, workers=workers)
    elapsed = time.perf_counter() - t0
    assert res.conditions and res.provenance["resized"] == 0
    return elapsed, _cpu() - c0


#: Functions whose cumulative time the profile reports, in the order a clip meets them.
STAGES = [
    ("index + layout planning", ("load_index", "plan_predictions")),
    ("read + sha256 of prediction files", ("_read_file",)),
    ("decode prediction PNGs", ("decode_png",)),
    ("decode GT masks (once per clip)", ("_read_gt",)),
    ("metrics (Scorer.update)", ("update",)),
    ("merge + compute results", ("merge", "compute")),
]


def profile(root: Path, pred: Path) -> None:
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    score(pred, "s4", root, workers=1)
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof, stream=io.StringIO())
    cum = {}
    for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if "avsbench_robust" in file:
            cum[name] = cum.get(name, 0.0) + ct
    print(f"profile: one in-process score (1 worker, cProfile on: {wall:.2f} s wall)")
    for label, names in STAGES:
        t = sum(cum.get(n, 0.0) for n in names)
        print(f"  {label:38s} {t:7.2f} s  {100 * t / wall:5.1f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=740)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of (naive, score), order alternating")
    ap.add_argument("--tree", type=Path, default=Path("/tmp/avsb-bench-s4"), help="built once, reused")
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {len(os.sched_getaffinity(0))} usable CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (a shared machine: see the spread of the rounds)")
    t0 = time.perf_counter()
    root, pred = build_tree(args.tree, args.clips)
    jobs = naive_jobs(root, pred)
    frames = sum(len(g) for g, _ in jobs) * len(SCORED_CONDITIONS)
    print(f"tree {args.tree}: {len(jobs)} clips, {frames} prediction PNGs ({time.perf_counter() - t0:.1f} s to build/check)")
    t_naive, t_score, c_naive, c_score = [], [], [], []
    for r in range(max(1, args.repeat)):
        first_naive = r % 2 == 0
        for side in ("naive", "score") if first_naive else ("score", "naive"):
            wall, cpu = naive(jobs, args.workers) if side == "naive" else end_to_end(root, pred, args.workers)
            (t_naive if side == "naive" else t_score).append(wall)
            (c_naive if side == "naive" else c_score).append(cpu)
        print(f"  round {r + 1}: naive {t_naive[-1]:.2f} s ({c_naive[-1]:.2f} s CPU), score {t_score[-1]:.2f} s "
              f"({c_score[-1]:.2f} s CPU), ratio {t_score[-1] / t_naive[-1]:.2f}x wall, "
              f"{c_score[-1] / c_naive[-1]:.2f}x CPU")
    for name, ts, cs in (("naive decode", t_naive, c_naive), ("score", t_score, c_score)):
        print(f"{name:12s} ({args.workers} workers): wall best {min(ts):.2f} s, median {statistics.median(ts):.2f} s "
              f"({frames / min(ts):,.0f} prediction frames/s at best); CPU median {statistics.median(cs):.2f} s")
    print(f"ratio score / naive: wall best {min(t_score) / min(t_naive):.2f}x, median "
          f"{statistics.median(t_score) / statistics.median(t_naive):.2f}x; CPU median "
          f"{statistics.median(c_score) / statistics.median(c_naive):.2f}x; per round (wall) "
          f"{', '.join(f'{s / n:.2f}' for s, n in zip(t_score, t_naive))} (target <= 1.0x)")
    if not args.no_profile:
        profile(root, pred)


if __name__ == "__main__":
    main()
