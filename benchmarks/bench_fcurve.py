"""Per-frame F curve: our histogram method vs a re-implementation of the official 255-iteration loop.

Same frames for both (S4-sized 224x224 float32 probabilities with blob GTs); prints frames/s and
the speed-up, and checks the curves agree. The official loop is re-implemented here from its
documented semantics (p >= t per threshold, precision/recall with 1e-20, beta^2 = 0.3).

    python benchmarks/bench_fcurve.py [--frames 200] [--size 224] [--torch]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from avsbench_robust.metrics.binary import BETA2, PR_EPS, THRESHOLDS, binary_frame_stats


def official_loop_numpy(prob: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """[T,H,W] float32 probabilities -> [T,255] F curves, one threshold at a time (the official shape)."""
    out = np.zeros((prob.shape[0], THRESHOLDS.size))
    for f in range(prob.shape[0]):
        y = gt[f].astype(np.float32)
        if y.mean() == 0:
            continue
        prec = np.zeros(THRESHOLDS.size, np.float32)
        rec = np.zeros(THRESHOLDS.size, np.float32)
        for i, t in enumerate(THRESHOLDS):
            y_temp = (prob[f] >= t).astype(np.float32)
            tp = (y_temp * y).sum()
            prec[i] = tp / (y_temp.sum() + PR_EPS)
            rec[i] = tp / (y.sum() + PR_EPS)
        with np.errstate(invalid="ignore"):
            score = (1 + BETA2) * prec * rec / (BETA2 * prec + rec)
        out[f] = np.nan_to_num(score)
    return out


def official_loop_torch(prob, gt):
    import torch

    thr = torch.from_numpy(THRESHOLDS.copy())
    out = torch.zeros(prob.shape[0], thr.numel())
    for f in range(prob.shape[0]):
        y = gt[f].float()
        if torch.mean(y) == 0.0:
            continue
        prec, rec = torch.zeros(thr.numel()), torch.zeros(thr.numel())
        for i in range(thr.numel()):
            y_temp = (prob[f] >= thr[i]).float()
            tp = (y_temp * y).sum()
            prec[i], rec[i] = tp / (y_temp.sum() + 1e-20), tp / (y.sum() + 1e-20)
        score = (1 + BETA2) * prec * rec / (BETA2 * prec + rec)
        score[score != score] = 0
        out[f] = score
    return out.numpy()


def make_frames(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    gt = np.zeros((n, size, size), np.uint8)
    for k in range(n):
        cy, cx, r = rng.integers(size // 4, 3 * size // 4, 2).tolist() + [int(rng.integers(size // 10, size // 3))]
        gt[k] = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    prob = np.clip(gt * 0.6 + rng.random(gt.shape) * 0.5, 0, 1).astype(np.float32)
    return prob, gt


def timed(fn, *args, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--loop-frames", type=int, default=20, help="frames for the slow official loop")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--torch", action="store_true", help="also time the loop and our method in torch (CPU)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (numpy is single-threaded)")
    args = ap.parse_args()
    prob, gt = make_frames(args.frames, args.size)
    u8 = np.round(prob * 255).astype(np.uint8)

    t_ours, stats = timed(lambda: binary_frame_stats(prob, gt), repeat=3)
    t_u8, _ = timed(lambda: binary_frame_stats(u8, gt), repeat=3)
    n = min(args.loop_frames, args.frames)
    t_loop, ref = timed(official_loop_numpy, prob[:n], gt[:n])
    err = np.abs(stats.f_curve[:n] - ref).max()
    fps_ours, fps_u8, fps_loop = args.frames / t_ours, args.frames / t_u8, n / t_loop
    print(f"frames {args.frames} at {args.size}x{args.size} (loop timed on {n})")
    print(f"official 255-iteration loop (numpy): {fps_loop:10.1f} frames/s")
    print(f"ours, float32 probabilities (numpy): {fps_ours:10.1f} frames/s  speed-up {fps_ours / fps_loop:7.1f}x")
    print(f"ours, uint8 v/255 (numpy):           {fps_u8:10.1f} frames/s  speed-up {fps_u8 / fps_loop:7.1f}x")
    print(f"max |F ours - F loop| = {err:.2e}")
    if args.torch:
        import torch

        torch.set_num_threads(args.threads)
        from avsbench_robust.metrics.torch_ops import binary_frame_stats_torch

        tp, tg = torch.from_numpy(prob), torch.from_numpy(gt)
        t_tl, ref_t = timed(official_loop_torch, tp[:n], tg[:n])
        t_to, st = timed(lambda: binary_frame_stats_torch(tp, tg), repeat=3)
        fps_tl, fps_to = n / t_tl, args.frames / t_to
        print(f"official loop (torch CPU):           {fps_tl:10.1f} frames/s")
        print(f"ours (torch CPU):                    {fps_to:10.1f} frames/s  speed-up {fps_to / fps_tl:7.1f}x")
        print(f"ours numpy vs official loop (torch): float32 {fps_ours / fps_tl:7.1f}x, uint8 {fps_u8 / fps_tl:7.1f}x")
        print(f"max |F ours - F loop| (torch) = {np.abs(st['f_curve'][:n].numpy() - ref_t).max():.2e}")


if __name__ == "__main__":
    main()
