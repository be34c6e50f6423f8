"""The per-frame metrics of binary.py / semantic.py on torch tensors, computed on the tensor's device.

torch is optional for the package: this module imports it lazily, so numpy scoring never needs it.
Only per-frame summaries ([T, 255] or [T, 71]) are produced; whole images never leave the device.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .binary import BETA2, NUM_THRESHOLDS, PR_EPS, THRESHOLDS, BinaryFrameStats
from .semantic import IOU_EPS, NUM_CLASSES, SemanticFrameStats

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("torch tensors need PyTorch: pip install 'avsbench-robust[torch]'") from exc
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
    """Per pixel, how many of the 255 thresholds satisfy p >= t (same arithmetic as the numpy path)."""
    torch = _torch()
    thr = torch.from_numpy(np.append(THRESHOLDS, np.float32(np.inf))).to(prob.device)
    guess = (prob * float(NUM_THRESHOLDS - 1)).clamp(0, NUM_THRESHOLDS - 1).long()
    count = guess + 1
    count += (prob >= thr[guess + 1]).long()
    count -= (prob < thr[guess]).long()
    return count


def binary_frame_counts_torch(pred: "torch.Tensor", gt: "torch.Tensor", logits: bool = False) -> dict[str, "torch.Tensor"]:
    """Per-frame integer counts on the device: tp/pp [T,255], gt_area, pred_area, inter [T]."""
    torch = _torch()
    pred, gt = _as_3d(pred, gt)
    t, h, w = pred.shape
    obj = gt != 0
    prob = to_probability_torch(pred, logits)
    counts = threshold_counts_torch(prob)
    fg = prob > 0.5
    bins = NUM_THRESHOLDS + 1
    offsets = (torch.arange(t, device=pred.device) * bins).view(t, 1, 1)
    flat = (counts + offsets).reshape(-1)
    pp_hist = torch.bincount(flat, minlength=t * bins).view(t, bins)
    tp_hist = torch.bincount(flat[obj.reshape(-1)], minlength=t * bins).view(t, bins)
    pp = pp_hist.flip(1).cumsum(1).flip(1)[:, 1:]
    tp = tp_hist.flip(1).cumsum(1).flip(1)[:, 1:]
    return {
        "tp": tp, "pp": pp,
        "gt_area": obj.sum(dim=(1, 2)),
        "pred_area": fg.sum(dim=(1, 2)),
        "inter": (fg & obj).sum(dim=(1, 2)),
        "pixels": torch.tensor(h * w, device=pred.device),
    }


def binary_frame_stats_torch(pred: "torch.Tensor", gt: "torch.Tensor", logits: bool = False) -> dict[str, "torch.Tensor"]:
    """iou, fpr [T], gt_area [T] and f_curve [T,255] as float64 tensors on the input's device."""
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
    return {"iou": iou, "fpr": fpr, "gt_area": gt_area, "f_curve": f}


def semantic_frame_stats_torch(pred: "torch.Tensor", gt: "torch.Tensor", num_classes: int = NUM_CLASSES) -> dict[str, "torch.Tensor"]:
    """iou, f [T,C] float64, present [T,C] bool, fpr [T] on the input's device (class maps 0..C-1)."""
    torch = _torch()
    pred, gt = _as_3d(pred, gt)
    t, h, w = pred.shape
    offsets = (torch.arange(t, device=pred.device) * num_classes).view(t, 1, 1)
    p = (pred.long() + offsets).reshape(-1)
    g = (gt.long() + offsets).reshape(-1)
    size = t * num_classes
    pred_area = torch.bincount(p, minlength=size).view(t, num_classes)
    gt_area = torch.bincount(g, minlength=size).view(t, num_classes)
    inter = torch.bincount(g[(pred.long() == gt.long()).reshape(-1)], minlength=size).view(t, num_classes)
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
