"""Per-frame semantic metrics (AVSS) as the official `calc_color_miou_fscore`, vectorised in numpy.

Per frame and class: intersection, predicted and GT areas by one bincount each; IoU and F follow
from them. Sums over frames and the per-class frame count (union > 0) are all a protocol needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .binary import BETA2, frame_stack

#: AVSS classes including background (index 0).
NUM_CLASSES = 71
#: Division guard of the official IoU (float64 machine epsilon).
IOU_EPS = 2.220446049250313e-16


@dataclass(frozen=True)
class SemanticFrameStats:
    """Per-frame, per-class results: iou, f [T, C] float64; present [T, C] bool (union > 0); fpr [T]."""

    iou: np.ndarray
    f: np.ndarray
    present: np.ndarray
    fpr: np.ndarray


def class_areas(pred: np.ndarray, gt: np.ndarray, num_classes: int = NUM_CLASSES) -> tuple[np.ndarray, ...]:
    """(inter, pred_area, gt_area) per frame and class, each [T, C] int64, by bincount."""
    t = pred.shape[0]
    offsets = (np.arange(t, dtype=np.intp) * num_classes)[:, None, None]
    p = pred.astype(np.intp) + offsets
    g = gt.astype(np.intp) + offsets
    size = t * num_classes
    pred_area = np.bincount(p.reshape(-1), minlength=size).reshape(t, num_classes)
    gt_area = np.bincount(g.reshape(-1), minlength=size).reshape(t, num_classes)
    hit = (pred == gt).reshape(-1)
    inter = np.bincount(g.reshape(-1)[hit], minlength=size).reshape(t, num_classes)
    return inter, pred_area, gt_area


def scores_from_areas(inter: np.ndarray, pred_area: np.ndarray, gt_area: np.ndarray) -> tuple[np.ndarray, ...]:
    """(iou, f, present) from class areas, with the official guards (2.22e-16 on IoU, NaN -> 0 on F)."""
    inter_f = inter.astype(np.float64)
    union = pred_area + gt_area - inter
    iou = inter_f / (union.astype(np.float64) + IOU_EPS)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = inter_f / pred_area
        recall = inter_f / gt_area
        f = (1 + BETA2) * precision * recall / (BETA2 * precision + recall)
    f[~np.isfinite(f)] = 0.0
    return iou, f, union > 0


def check_class_map(arr: np.ndarray, what: str, num_classes: int = NUM_CLASSES) -> None:
    """Raise ValueError when a class map holds non-integers or indices outside 0..num_classes-1."""
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f"{what} must be an integer class map, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(f"{what} holds class indices outside 0..{num_classes - 1} "
                         f"(min {arr.min()}, max {arr.max()})")


def semantic_frame_stats(pred: np.ndarray, gt: np.ndarray, num_classes: int = NUM_CLASSES) -> SemanticFrameStats:
    """All per-frame AVSS metrics of class map `pred` ([T,H,W] or [H,W]) against class map `gt`."""
    pred, gt = frame_stack(pred, gt)
    check_class_map(pred, "prediction", num_classes)
    check_class_map(gt, "ground truth", num_classes)
    inter, pred_area, gt_area = class_areas(pred, gt, num_classes)
    iou, f, present = scores_from_areas(inter, pred_area, gt_area)
    pixels = pred.shape[1] * pred.shape[2]
    fpr = (pixels - pred_area[:, 0]) / float(pixels)  # any non-background class counts as a detection
    return SemanticFrameStats(iou=iou, f=f, present=present, fpr=fpr)
