"""Build speed: log-mel real-time factor, and clips/s of a full build with 1 and 2 workers on a scaled synthetic set.

    .venv/bin/python benchmarks/bench_build.py [--videos 16] [--subset s4] [--workers 1,2]

For each worker count above 1 it times the build twice: as `build` decides (no pool below
`run.MIN_CLIPS_PER_WORKER` clips per worker) and with the pool forced, which is how the threshold was chosen.

Prints figures only (nothing is asserted); say in any note whether the machine was shared.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from avsbench_robust.audio import clip_features, noise, seeded_rng
from avsbench_robust.build import run as build_run
from avsbench_robust.build.run import build
from avsbench_robust.data import synthetic


def logmel_speed(repeats: int = 10) -> None:
    rng = np.random.default_rng(0)
    clips = {"16 kHz mono 5 s": (rng.uniform(-0.5, 0.5, 80000).astype(np.float32), 16000),
             "44.1 kHz noise 5 s (resampled)": (noise(5.0, seeded_rng(0, "s4", "test", "x", "noise")), 44100)}
    for name, (x, sr) in clips.items():
        clip_features(x, sr)  # warm caches (mel matrix, resampling table)
        t = time.perf_counter()
        for _ in range(repeats):
            clip_features(x, sr)
        per = (time.perf_counter() - t) / repeats
        print(f"log-mel {name:32s} {per * 1000:7.1f} ms/clip  {5.0 / per:7.0f}x real time (one core)")


def build_speed(subset: str, videos: int, workers: list[int]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_build_"))
    try:
        root = tmp / "AVSBench"
        t = time.perf_counter()
        synthetic.generate(root, [subset] if subset != "avss" else "all", videos, seed=0)
        print(f"synthetic {subset} tree, --videos {videos}: {time.perf_counter() - t:.1f} s to generate")
        policy = build_run.MIN_CLIPS_PER_WORKER
        runs = [(w, policy) for w in workers] + [(w, 1) for w in workers if w > 1]
        for w, per_worker in runs:
            out = tmp / f"out_w{w}_{per_worker}"
            build_run.MIN_CLIPS_PER_WORKER = per_worker
            try:
                r = build(subset, root=root, out=out, split="all", workers=w, progress=False)
            finally:
                build_run.MIN_CLIPS_PER_WORKER = policy
            tm = r.timing
            share = {k: tm[k] / tm["total"] for k in ("read", "features", "write_and_conditions")}
            how = "forced pool" if per_worker == 1 and w > 1 else "policy"
            print(f"build {subset} --workers {w} ({how}: {r.workers_used} process(es)): {r.clips} clips x "
                  f"5 conditions in {r.seconds:.1f} s = {r.clips / r.seconds:.2f} clips/s; "
                  f"worker time: features {share['features']:.0%}, read {share['read']:.0%}, "
                  f"conditions+write+hash {share['write_and_conditions']:.0%}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--videos", type=int, default=16, help="synthetic clips per val/test split (train: twice)")
    ap.add_argument("--subset", default="s4", choices=["s4", "ms3", "avss"])
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()}")
    logmel_speed()
    build_speed(args.subset, args.videos, [int(w) for w in args.workers.split(",")])
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
