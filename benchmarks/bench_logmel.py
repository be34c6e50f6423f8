"""Log-mel (VGGish front end) extraction speed per 5 s clip, single thread.

Usage: python benchmarks/bench_logmel.py [--repeats N]
Target (issue 3): <= 100 ms per 5 s clip per core, i.e. >= 50x real time.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as the target is per core

import argparse
import statistics
import time

import numpy as np

from avsbench_robust.audio import clip_features
from avsbench_robust.audio.resampling import kaiser_best_table

SECONDS = 5.0


def _clip(sr: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.uniform(-0.5, 0.5, (int(SECONDS * sr), channels))
    return x[:, 0] if channels == 1 else x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    kaiser_best_table()
    print(f"one-off resampling table build: {1000 * (time.perf_counter() - t0):.0f} ms (cached per process)")
    cases = [("16 kHz mono", 16000, 1), ("44.1 kHz mono", 44100, 1), ("44.1 kHz stereo", 44100, 2), ("48 kHz mono", 48000, 1)]
    for name, sr, ch in cases:
        x = _clip(sr, ch, rng)
        clip_features(x, sr)  # warm caches (mel matrix, polyphase plan inputs)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            clip_features(x, sr)
            times.append(time.perf_counter() - t)
        med, best = statistics.median(times), min(times)
        print(f"{name:16s} median {1000 * med:7.1f} ms/clip (best {1000 * best:6.1f})  {SECONDS / med:7.0f}x real time")


if __name__ == "__main__":
    main()
