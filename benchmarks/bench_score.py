"""Scoring speed at S4-test scale (740 clips x 5 frames x 4 conditions, 224x224) on synthetic masks.

Prints, in one run on the same files:
  1. decode only: read + decode every GT and prediction PNG with N worker processes;
  2. end to end: `avsbench_robust.score()` on the same folder with the same N workers
     (index, layout detection, validation, decode, metrics, results) and its ratio to (1);
  3. the Scorer alone on in-memory arrays, numpy and torch (CUDA when available, else CPU).

The masks are generated directly (random ellipses, no frames or audio rendered) so the tree is
quick to build: frame and audio files of the minimal AVSBench root are empty placeholders that
the scorer never opens. Decode-only and end-to-end runs alternate (--repeat times each) and the
best of each is compared, so load from other users of a shared machine hits both alike.
Usage: python benchmarks/bench_score.py [--clips 740] [--workers 2] [--tree DIR (reused if built)]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from avsbench_robust.data.avsbench import read_mask
from avsbench_robust.data.classes import S4_CATEGORIES
from avsbench_robust.predictions.decode import decode_png
from avsbench_robust.scorer import Scorer
from avsbench_robust.scoring import score
from avsbench_robust.types import SCORED_CONDITIONS

SIZE = 224


def ellipse_masks(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random filled ellipses [n, 224, 224] in {0, 1}, vectorised over frames."""
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    cy, cx = rng.uniform(40, 184, (2, n, 1, 1)).astype(np.float32)
    ry, rx = rng.uniform(15, 80, (2, n, 1, 1)).astype(np.float32)
    return ((((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) <= 1).astype(np.uint8)


def build_tree(base: Path, clips: int, seed: int = 0) -> tuple[Path, Path]:
    """A minimal S4 test root with real GT masks, and PRED with 8-bit probability PNGs per condition."""
    rng = np.random.default_rng(seed)
    root, pred = base / "root", base / "pred"
    s4 = root / "Single-source" / "s4_data"
    rows = ["name,start,category,split"]
    for i in range(clips):
        cat = S4_CATEGORIES[i % len(S4_CATEGORIES)]
        video = f"bench{i:05d}_{i * 1000}"
        rows.append(f"{video},0,{cat},test")
        gts = ellipse_masks(rng, 5)
        for folder in ("gt_masks", "visual_frames"):
            (s4 / folder / "test" / cat / video).mkdir(parents=True, exist_ok=True)
        (s4 / "audio_wav" / "test" / cat).mkdir(parents=True, exist_ok=True)
        (s4 / "audio_wav" / "test" / cat / f"{video}.wav").touch()
        for k, gt in enumerate(gts, start=1):
            Image.fromarray(gt * 255, "L").save(s4 / "gt_masks" / "test" / cat / video / f"{video}_{k}.png")
            (s4 / "visual_frames" / "test" / cat / video / f"{video}_{k}.png").touch()
        for cond in SCORED_CONDITIONS:
            folder = pred / cond.value / cat / video
            folder.mkdir(parents=True, exist_ok=True)
            noise = rng.integers(0, 90, size=gts.shape, dtype=np.uint8)
            probs = (gts * (160 if cond.value == "positive" else 60) + noise).astype(np.uint8)
            for k, p in enumerate(probs, start=1):
                Image.fromarray(p, "L").save(folder / f"{video}_{k}.png")
    (root / "Single-source" / "s4_meta_data.csv").write_text("\n".join(rows) + "\n")
    return root, pred


def _decode_clip(paths: list[str]) -> int:
    """Decode-only worker: the same reads and PNG decodes as scoring, nothing else."""
    gt_paths, pred_paths = paths[:5], paths[5:]
    for p in gt_paths:
        read_mask(p, "s4")
    for p in pred_paths:
        decode_png(Path(p).read_bytes(), semantic=False)
    return len(paths)


def decode_only(root: Path, pred: Path, workers: int) -> float:
    jobs = []
    for gt_dir in sorted((root / "Single-source/s4_data/gt_masks/test").glob("*/*")):
        rel = gt_dir.relative_to(root / "Single-source/s4_data/gt_masks/test")
        gts = [str(gt_dir / f"{gt_dir.name}_{k}.png") for k in range(1, 6)]
        preds = [str(pred / c.value / rel / f"{gt_dir.name}_{k}.png") for c in SCORED_CONDITIONS for k in range(1, 6)]
        jobs.append(gts + preds)
    t0 = time.perf_counter()
    if workers <= 1:
        for j in jobs:
            _decode_clip(j)
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            for _ in pool.imap(_decode_clip, jobs, chunksize=4):
                pass
    return time.perf_counter() - t0


def scorer_in_memory(clips: int, backend: str) -> tuple[float, str]:
    rng = np.random.default_rng(1)
    gts = ellipse_masks(rng, 5 * 8).reshape(8, 5, SIZE, SIZE)
    preds = (gts * 160 + rng.integers(0, 90, size=gts.shape, dtype=np.uint8)).astype(np.uint8)
    device = "numpy"
    if backend == "torch":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        gts, preds = torch.from_numpy(gts).to(device), torch.from_numpy(preds).to(device)
    scorer = Scorer("s4")
    scorer.update("positive", preds[0], gts[0], video="warmup")
    if backend == "torch" and device == "cuda":
        torch.cuda.synchronize()
    scorer = Scorer("s4")
    t0 = time.perf_counter()
    for i in range(clips):
        for cond in SCORED_CONDITIONS:
            scorer.update(cond, preds[i % 8], gts[i % 8], video=f"v{i}")
    scorer.compute()
    return time.perf_counter() - t0, device


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=740)
    ap.add_argument("--workers", type=int, default=min(8, len(os.sched_getaffinity(0))))
    ap.add_argument("--tree", "--keep", dest="tree", type=Path, default=None,
                    help="build the tree here and keep it; reused when it is already there")
    ap.add_argument("--repeat", type=int, default=2, help="alternating decode-only / end-to-end runs")
    ap.add_argument("--torch-clips", type=int, default=200, help="clips for the in-memory torch CPU run")
    args = ap.parse_args()
    frames = args.clips * 5 * len(SCORED_CONDITIONS)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs visible (shared machine: figures are noisy)")
    with tempfile.TemporaryDirectory() as tmp:
        base = args.tree or Path(tmp)
        t0 = time.perf_counter()
        if (base / "root" / "Single-source" / "s4_meta_data.csv").is_file():
            root, pred = base / "root", base / "pred"
            print(f"reusing the tree in {base}")
        else:
            root, pred = build_tree(base, args.clips)
            print(f"built {args.clips} clips x 5 frames x 4 conditions ({frames} prediction PNGs) "
                  f"in {time.perf_counter() - t0:.1f} s")
        frames = sum(1 for _ in (pred / "positive").rglob("*.png")) * len(SCORED_CONDITIONS)
        t_dec, t_e2e = [], []
        for _ in range(max(1, args.repeat)):
            t_dec.append(decode_only(root, pred, args.workers))
            t0 = time.perf_counter()
            res = score(pred, "s4", root, workers=args.workers)
            t_e2e.append(time.perf_counter() - t0)
            assert res.conditions and res.provenance["resized"] == 0
        print(f"decode only ({args.workers} workers): best {min(t_dec):.2f} s of "
              f"{', '.join(f'{t:.2f}' for t in t_dec)}  ({frames / min(t_dec):,.0f} pred frames/s)")
        print(f"end to end  ({args.workers} workers): best {min(t_e2e):.2f} s of "
              f"{', '.join(f'{t:.2f}' for t in t_e2e)}  ({frames / min(t_e2e):,.0f} pred frames/s)  "
              f"ratio {min(t_e2e) / min(t_dec):.2f}x (target <= 1.5x)")
    for backend in ("numpy", "torch"):
        clips = args.clips
        if backend == "torch":
            try:
                import torch
            except ImportError:
                print("scorer in memory (torch): torch not installed")
                continue
            clips = args.clips if torch.cuda.is_available() else min(args.clips, args.torch_clips)
        t, dev = scorer_in_memory(clips, backend)
        n = clips * 5 * len(SCORED_CONDITIONS)
        print(f"scorer in memory ({backend}, {dev}): {n} frames in {t:.2f} s  ({n / t:,.0f} frames/s)")


if __name__ == "__main__":
    main()
