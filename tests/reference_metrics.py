"""Independent, deliberately plain reference for SPEC §3 (written from the SPEC only, not from our metrics code).

Slow on purpose: one loop per frame and per threshold, so that a vectorisation mistake in the
real scorer cannot be repeated here. Used by tests/test_qa_metrics.py on small frames only.

Input: a list of `Update` records (one per clip and condition, in the order the videos are fed).
Output: a dict shaped like the relevant parts of `Results.to_dict()` (fractions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

NUM_CLASSES = 71
NEGATIVES = ("silence", "noise", "offscreen")
BETA2 = 0.3


def thresholds() -> torch.Tensor:
    """The 255 F-curve thresholds exactly as the official code creates them (float32)."""
    return torch.linspace(0, 1 - 1e-10, 255)


@dataclass
class Update:
    condition: str
    video: str
    pred: np.ndarray  # [T,H,W]
    gt: np.ndarray  # [T,H,W]
    kind: str = "prob"  # prob | logits | u8 | bool | classes
    category: str | None = None
    real_frames: int | None = None  # AVSS: frames >= real_frames are zero padding


def probabilities(u: Update) -> torch.Tensor:
    """Per-pixel probability as float32, the way the official functions see it."""
    if u.kind == "prob":
        return torch.from_numpy(np.asarray(u.pred, dtype=np.float32))
    if u.kind == "logits":
        return torch.sigmoid(torch.from_numpy(np.asarray(u.pred, dtype=np.float32)))
    if u.kind == "u8":
        return torch.from_numpy(np.asarray(u.pred)).to(torch.float32) / 255.0
    if u.kind == "bool":
        return torch.from_numpy(np.asarray(u.pred, dtype=bool)).to(torch.float32)
    raise ValueError(u.kind)


# ----------------------------------------------------------------------------- binary (S4 / MS3)

def frame_iou(p: torch.Tensor, gt: torch.Tensor) -> float:
    probs, labels = p.tolist(), gt.tolist()  # plain Python floats (exact float32 values) and ints
    n = p.shape[0] * p.shape[1]
    inter = union = tn = 0
    any_gt = False
    for prow, grow in zip(probs, labels):
        for pv, gv in zip(prow, grow):
            a, b = pv > 0.5, gv != 0
            any_gt |= b
            inter += a and b
            union += a or b
            tn += (not a) and (not b)
    if not any_gt:
        return tn / n
    return inter / union


def frame_fpr(p: torch.Tensor) -> float:
    n = p.shape[0] * p.shape[1]
    return sum(1 for v in p.flatten().tolist() if v > 0.5) / n


def frame_f_curve(p: torch.Tensor, gt: torch.Tensor) -> list[float] | None:
    """F at each threshold for one frame; None when the GT is empty (the frame is skipped)."""
    g = (gt != 0)
    gtp = int(g.sum())
    if gtp == 0:
        return None
    out = []
    for t in thresholds():  # a float32 0-d tensor: the comparison is float32 vs float32
        fg = p >= t
        tp = int((fg & g).sum())
        pp = int(fg.sum())
        prec = tp / (pp + 1e-20)
        rec = tp / (gtp + 1e-20)
        den = BETA2 * prec + rec
        f = (1 + BETA2) * prec * rec / den if den > 0 else float("nan")
        out.append(0.0 if math.isnan(f) else f)
    return out


@dataclass
class FrameStats:
    video: str
    condition: str
    category: str | None
    iou: float
    fpr: float
    curve: list[float] | None


def binary_frames(updates: list[Update]) -> list[FrameStats]:
    rows = []
    for u in updates:
        p = probabilities(u)
        gt = torch.from_numpy(np.asarray(u.gt))
        if p.ndim == 2:
            p, gt = p[None], gt[None]
        for k in range(p.shape[0]):
            rows.append(FrameStats(u.video, u.condition, u.category, frame_iou(p[k], gt[k]),
                                   frame_fpr(p[k]), frame_f_curve(p[k], gt[k])))
    return rows


def _max_mean_curve(curves: list[list[float]]) -> float:
    if not curves:
        return 0.0
    best = -1.0
    for i in range(255):
        best = max(best, sum(c[i] for c in curves) / len(curves))
    return best


def canonical(frames: list[FrameStats]) -> dict:
    n = len(frames)
    return {
        "miou": sum(f.iou for f in frames) / n if n else 0.0,
        "f_score": _max_mean_curve([f.curve for f in frames if f.curve is not None]),
        "fpr": sum(f.fpr for f in frames) / n if n else 0.0,
        "frames": n,
    }


def official(frames: list[FrameStats], video_order: list[str], batch: int) -> dict:
    """Batches of `batch` videos in `video_order`; mean over batches of batch mIoU / max-F / FPR."""
    by_video: dict[str, list[FrameStats]] = {}
    for f in frames:
        by_video.setdefault(f.video, []).append(f)
    vids = [v for v in video_order if v in by_video]
    mious, fs, fprs = [], [], []
    for start in range(0, len(vids), batch):
        fr = [f for v in vids[start:start + batch] for f in by_video[v]]
        c = canonical(fr)
        mious.append(c["miou"])
        fs.append(c["f_score"])
        fprs.append(c["fpr"])
    nb = len(mious)
    return {"miou": sum(mious) / nb, "f_score": sum(fs) / nb, "fpr": sum(fprs) / nb,
            "fpr_per_frame": sum(f.fpr for f in frames) / len(frames), "frames": len(frames)}


def g_metrics(pos: dict, neg: dict) -> dict:
    def g(a: float, b: float) -> float:
        d = a + 1 - b
        return 2 * a * (1 - b) / d if d > 0 else 0.0
    return {"g_miou": g(pos["miou"], neg["miou"]), "g_f": g(pos["f_score"], neg["f_score"]), "g_fpr": neg["fpr"]}


def binary_reference(updates: list[Update], protocol: str = "canonical", batch: int | None = None,
                     video_order: list[str] | None = None) -> dict:
    frames = binary_frames(updates)
    if video_order is None:
        video_order = []
        for u in updates:
            if u.video not in video_order:
                video_order.append(u.video)
    conds = []
    for u in updates:
        if u.condition not in conds:
            conds.append(u.condition)

    def agg(fr: list[FrameStats]) -> dict:
        return canonical(fr) if protocol == "canonical" else official(fr, video_order, batch)

    out: dict = {"conditions": {c: agg([f for f in frames if f.condition == c]) for c in conds}}
    neg_frames = [f for f in frames if f.condition in NEGATIVES]
    if neg_frames:
        if protocol == "canonical":
            out["negative"] = canonical(neg_frames)
        else:
            # pooled official: every (condition, batch) pair is one batch
            per = [out["conditions"][c] for c in NEGATIVES if c in out["conditions"]]
            out["negative"] = {k: sum(p[k] for p in per) / len(per) for k in ("miou", "f_score", "fpr")}
            out["negative"]["frames"] = len(neg_frames)
    if neg_frames and "positive" in out["conditions"]:
        out["global"] = g_metrics(out["conditions"]["positive"], out["negative"])
    cats: dict = {}
    for c in conds:
        for cat in sorted({f.category for f in frames if f.condition == c and f.category is not None}):
            cats.setdefault(c, {})[cat] = canonical([f for f in frames if f.condition == c and f.category == cat])
    out["breakdown"] = cats
    return out


# ----------------------------------------------------------------------------- semantic (AVSS)

@dataclass
class SemFrame:
    condition: str
    iou: list[float]
    f: list[float]
    union_pos: list[bool]
    fpr: float
    padded: bool


def semantic_frame(pred: np.ndarray, gt: np.ndarray) -> tuple[list[float], list[float], list[bool], float]:
    pl = pred.astype(np.int64).flatten().tolist()
    gl = gt.astype(np.int64).flatten().tolist()
    inter = [0] * NUM_CLASSES
    parea = [0] * NUM_CLASSES
    garea = [0] * NUM_CLASSES
    for a, b in zip(pl, gl):
        parea[a] += 1
        garea[b] += 1
        if a == b:
            inter[a] += 1
    ious, fs, pos = [], [], []
    for c in range(NUM_CLASSES):
        union = parea[c] + garea[c] - inter[c]
        ious.append(inter[c] / (union + 2.220446049250313e-16))
        prec = inter[c] / parea[c] if parea[c] else float("nan")
        rec = inter[c] / garea[c] if garea[c] else float("nan")
        if math.isnan(prec) or math.isnan(rec) or BETA2 * prec + rec == 0:
            f = 0.0
        else:
            f = (1 + BETA2) * prec * rec / (BETA2 * prec + rec)
        fs.append(f)
        pos.append(union > 0)
    fpr = sum(1 for a in pl if a != 0) / len(pl)
    return ious, fs, pos, fpr


def semantic_aggregate(frames: list[SemFrame], protocol: str = "official") -> dict:
    """Official: mean over all 71 classes (absent = 0); canonical: over the classes that occur (count > 0)."""
    iou_sum = [0.0] * NUM_CLASSES
    f_sum = [0.0] * NUM_CLASSES
    count = [0] * NUM_CLASSES
    for fr in frames:
        for c in range(NUM_CLASSES):
            iou_sum[c] += fr.iou[c]
            f_sum[c] += fr.f[c]
            count[c] += fr.union_pos[c]
    iou_c = [iou_sum[c] / count[c] if count[c] else 0.0 for c in range(NUM_CLASSES)]
    f_c = [f_sum[c] / count[c] if count[c] else 0.0 for c in range(NUM_CLASSES)]
    n = len(frames)
    classes = [c for c in range(NUM_CLASSES) if protocol == "official" or count[c] > 0]
    fg = [c for c in classes if c > 0]

    def mean(values: list[float], over: list[int]) -> float:
        return sum(values[c] for c in over) / len(over) if over else 0.0

    return {
        "miou": mean(iou_c, classes),
        "f_score": mean(f_c, classes),
        "miou_nobg_official": sum(iou_c[:-1]) / (NUM_CLASSES - 1),
        "f_score_nobg_official": sum(f_c[:-1]) / (NUM_CLASSES - 1),
        "miou_nobg": mean(iou_c, fg),
        "f_score_nobg": mean(f_c, fg),
        "fpr": sum(fr.fpr for fr in frames) / n if n else 0.0,
        "frames": n,
        "_iou_c": iou_c, "_f_c": f_c, "_count": count,
    }


def semantic_reference(updates: list[Update], protocol: str = "canonical") -> dict:
    frames: list[SemFrame] = []
    for u in updates:
        pred, gt = np.asarray(u.pred), np.asarray(u.gt)
        if pred.ndim == 2:
            pred, gt = pred[None], gt[None]
        for k in range(pred.shape[0]):
            padded = u.real_frames is not None and k >= u.real_frames
            if padded and protocol == "canonical":
                continue
            frames.append(SemFrame(u.condition, *semantic_frame(pred[k], gt[k]), padded=padded))
    conds = []
    for u in updates:
        if u.condition not in conds:
            conds.append(u.condition)
    out: dict = {"conditions": {c: semantic_aggregate([f for f in frames if f.condition == c], protocol)
                                for c in conds}}
    neg = [f for f in frames if f.condition in NEGATIVES]
    if neg:
        out["negative"] = semantic_aggregate(neg, protocol)
        if "positive" in out["conditions"]:
            out["global"] = g_metrics(out["conditions"]["positive"], out["negative"])
    return out
