"""The per-frame metrics of binary.py / semantic.py on torch tensors, computed on the tensor's device.

torch is optional for the package: this module imports it lazily, so numpy scoring never needs it.
Only per-frame summaries ([T, 255] or [T, 71]) are produced; whole images never leave the device.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .binary import BETA2, NUM_THRESHOLDS, PR_EPS, THRESHOLDS, U8_FIRST_ABOVE, BinaryFrameStats
from .semantic import IOU_EPS, NUM_CLASSES, SemanticFrameStats

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("torch tensors need PyTorch: pip install torch==2.13.0") from exc
    return torch


def is_tensor(x: object) -> bool:
    """True for a torch.Tensor, without importing torch when it is not loaded already."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _as_3d(pred: "torch.Tensor", gt: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
    if pred.dim() == 2:
        pred, gt = pred.unsqueeze(0), gt.unsqueeze(0)
    if tuple(pred.shape) != tuple(gt.shape) or pred.dim() != 3:
        raise ValueError(f"prediction shape {tuple(pred.shape)} does not match ground truth shape {tuple(gt.shape)}")
    return pred, gt.to(pred.device)


def to_probability_torch(pred: "torch.Tensor", logits: bool = False) -> "torch.Tensor":
    """float32 probabilities as the official code sees them (uint8 -> v/255, logits -> sigmoid)."""
    torch = _torch()
    if pred.dtype == torch.bool:
        return pred.float()
    if pred.dtype == torch.uint8:
        return pred.float() / 255.0
    x = pred.float()
    return torch.sigmoid(x) if logits else x


def threshold_counts_torch(prob: "torch.Tensor") -> "torch.Tensor":
    """Per pixel, how many of the 255 thresholds satisfy p >= t (same arithmetic as the numpy path).

    A guess from p * 254 is off by at most one; two comparisons against the neighbouring thresholds
    fix it. int32 indices and `index_select` on a flat index: int64 temporaries and advanced
    indexing (`thr[idx]`) are each several times slower on the CPU. Returns int32.
    """
    torch = _torch()
    thr = torch.from_numpy(np.append(THRESHOLDS, np.float32(np.inf))).to(prob.device)
    flat = prob.reshape(-1)
    guess = (flat * float(NUM_THRESHOLDS - 1)).clamp_(0, NUM_THRESHOLDS - 2).int()
    above = guess + 1
    count = above + (flat >= thr.index_select(0, above)).int()
    count -= (flat < thr.index_select(0, guess)).int()
    return count.view(prob.shape)


#: Bins of the joint per-frame histogram: threshold count (0..255) x GT object (2) x p > 0.5 (2).
_JOINT_BINS = 4 * (NUM_THRESHOLDS + 1)


def _frame_histogram(index: "torch.Tensor", bins: int) -> "torch.Tensor":
    """[T, bins] counts of `index` ([T, ...] values in 0..bins-1) per frame: one bincount over all frames.

    A single bincount on frame-offset indices, no boolean masking (masked_select is the slow part on
    the CPU); on CUDA the same call is one kernel.
    """
    torch = _torch()
    t = index.shape[0]
    offsets = torch.arange(t, device=index.device, dtype=index.dtype).mul_(bins).view(t, *([1] * (index.dim() - 1)))
    return torch.bincount((index + offsets).reshape(-1), minlength=t * bins).view(t, bins)


def binary_frame_counts_torch(pred: "torch.Tensor", gt: "torch.Tensor", logits: bool = False) -> dict[str, "torch.Tensor"]:
    """Per-frame integer counts on the device: tp/pp [T,255], gt_area, pred_area, inter [T].

    uint8 and bool predictions take one histogram of the raw byte values split by GT, whose tail sums
    give every threshold and p > 0.5 (as in the numpy path); floats one histogram of
    (threshold count, GT, p > 0.5).
    """
    torch = _torch()
    pred, gt = _as_3d(pred, gt)
    t, h, w = pred.shape
    bins = NUM_THRESHOLDS + 1
    obj = (gt != 0).int()  # int32 indices throughout: int64 temporaries dominate the CPU time
    if pred.dtype in (torch.uint8, torch.bool):
        byte = pred.int() * 255 if pred.dtype == torch.bool else pred.int()  # bool p in {0, 1} = bytes 0/255
        values = _frame_histogram(byte + obj * 256, 2 * 256).view(t, 2, 256)
        tails = torch.nn.functional.pad(values.flip(2).cumsum(2).flip(2), (0, 1))  # [T, 2, 257]: bytes >= v
        first = torch.from_numpy(U8_FIRST_ABOVE.copy()).to(pred.device)
        tp = tails[:, 1].index_select(1, first)
        pp = tails[:, 0].index_select(1, first) + tp
        inter = tails[:, 1, 128]
        return _counts(tp, pp, tails[:, 1, 0], tails[:, 0, 128] + inter, inter, h * w)
    prob = to_probability_torch(pred, logits)
    joint = threshold_counts_torch(prob) + obj * bins + (prob > 0.5).int() * (2 * bins)
    hist4 = _frame_histogram(joint, _JOINT_BINS).view(t, 2, 2, bins)  # [T, fg, obj, count]
    hist = hist4.sum(dim=1)
    tp_hist = hist[:, 1]
    pp = (hist[:, 0] + tp_hist).flip(1).cumsum(1).flip(1)[:, 1:]
    tp = tp_hist.flip(1).cumsum(1).flip(1)[:, 1:]
    inter = hist4[:, 1, 1].sum(dim=1)
    return _counts(tp, pp, tp_hist.sum(dim=1), hist4[:, 1].sum(dim=(1, 2)), inter, h * w)


def _counts(tp: "torch.Tensor", pp: "torch.Tensor", gt_area: "torch.Tensor", pred_area: "torch.Tensor",
            inter: "torch.Tensor", pixels: int) -> dict[str, "torch.Tensor"]:
    torch = _torch()
    return {"tp": tp, "pp": pp, "gt_area": gt_area, "pred_area": pred_area, "inter": inter,
            "pixels": torch.tensor(pixels, device=tp.device)}


def binary_frame_stats_torch(pred: "torch.Tensor", gt: "torch.Tensor", logits: bool = False) -> dict[str, "torch.Tensor"]:
    """iou, fpr [T], gt_area [T] and f_curve / precision / recall [T,255] as float64 tensors on the input's device."""
    torch = _torch()
    c = binary_frame_counts_torch(pred, gt, logits)
    pixels = float(c["pixels"].item())
    gt_area = c["gt_area"]
    empty = gt_area == 0
    union = c["pred_area"] + gt_area - c["inter"]
    num = torch.where(empty, pixels - union, c["inter"]).double()
    den = torch.where(empty, torch.full_like(union, int(pixels)), union).double()
    iou = num / (den + 1e-7)
    fpr = c["pred_area"].double() / pixels
    tp = c["tp"].double()
    prec = tp / (c["pp"].double() + PR_EPS)
    rec = tp / (gt_area.double().unsqueeze(1) + PR_EPS)
    f = (1 + BETA2) * prec * rec / (BETA2 * prec + rec)
    f = torch.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)
    f[empty] = 0.0
    prec[empty] = 0.0
    rec[empty] = 0.0
    return {"iou": iou, "fpr": fpr, "gt_area": gt_area, "f_curve": f, "precision": prec, "recall": rec}


def semantic_frame_stats_torch(pred: "torch.Tensor", gt: "torch.Tensor", num_classes: int = NUM_CLASSES) -> dict[str, "torch.Tensor"]:
    """iou, f [T,C] float64, present [T,C] bool, fpr [T] on the input's device (class maps 0..C-1)."""
    torch = _torch()
    pred, gt = _as_3d(pred, gt)
    t, h, w = pred.shape
    offsets = (torch.arange(t, device=pred.device, dtype=torch.int32) * num_classes).view(t, 1, 1)
    p = (pred.int() + offsets).reshape(-1)  # int32: int64 temporaries dominate the CPU time
    g = (gt.int() + offsets).reshape(-1)
    size = t * num_classes
    pred_area = torch.bincount(p, minlength=size).view(t, num_classes)
    # GT class of pixels where pred == gt, misses moved past `size`: a bincount, no masked select
    both = torch.bincount(g + (p != g).int() * size, minlength=2 * size)
    gt_area = (both[:size] + both[size:]).view(t, num_classes)
    inter = both[:size].view(t, num_classes)
    inter_f = inter.double()
    union = pred_area + gt_area - inter
    iou = inter_f / (union.double() + IOU_EPS)
    precision = inter_f / pred_area.double()
    recall = inter_f / gt_area.double()
    f = (1 + BETA2) * precision * recall / (BETA2 * precision + recall)
    f = torch.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)
    pixels = h * w
    fpr = (pixels - pred_area[:, 0]).double() / pixels
    return {"iou": iou, "f": f, "present": union > 0, "fpr": fpr}


def to_numpy_binary(stats: dict[str, "torch.Tensor"]) -> BinaryFrameStats:
    """Move the small per-frame summaries to host memory (one transfer per update)."""
    return BinaryFrameStats(**{k: v.detach().cpu().numpy() for k, v in stats.items()})


def to_numpy_semantic(stats: dict[str, "torch.Tensor"]) -> SemanticFrameStats:
    return SemanticFrameStats(**{k: v.detach().cpu().numpy() for k, v in stats.items()})
