"""Per-frame binary metrics (S4, MS3) exactly as SPEC §3 defines them, vectorised in numpy.

Every function is pure: arrays in, arrays out. The F curve is built from a histogram of
"how many thresholds does this pixel pass" per frame, so the 255 thresholds cost one
bincount instead of 255 passes over the image (the official loop).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Number of F-curve thresholds of the official `Eval_Fmeasure` (pr_num).
NUM_THRESHOLDS = 255
#: F-measure weight beta^2 of the official code.
BETA2 = 0.3
#: Division guard of the official `_eval_pr` (added to both denominators).
PR_EPS = 1e-20
#: Description stored in every results document.
THRESHOLDS_DESCRIPTION = "255 float32 thresholds torch.linspace(0, 1-1e-10, 255) (last = 1.0); foreground p >= t"


def f_thresholds() -> np.ndarray:
    """The official 255 thresholds, bit-identical to CPU `torch.linspace(0, 1-1e-10, 255)` (float32).

    Torch computes `start + step*i` for the first half and `end - step*(n-1-i)` for the second,
    each as one fused multiply-add in float32; float64 arithmetic is exact for these operands,
    so a single rounding to float32 reproduces it.
    """
    n = NUM_THRESHOLDS
    end = np.float32(1 - 1e-10)  # rounds to exactly 1.0 in float32
    step = np.float64(np.float32(end / np.float32(n - 1)))
    i = np.arange(n, dtype=np.float64)
    half = n // 2
    values = np.where(i < half, step * i, np.float64(end) - step * (n - 1 - i))
    return values.astype(np.float32)


THRESHOLDS: np.ndarray = f_thresholds()
THRESHOLDS.setflags(write=False)


def to_probability(pred: np.ndarray, logits: bool = False) -> np.ndarray:
    """Map a prediction to float32 probabilities the way the official torch code sees them.

    uint8 -> v/255 (float32 division); bool -> {0, 1}; float + `logits` -> float32 sigmoid;
    other floats are taken as probabilities already.
    """
    pred = np.asarray(pred)
    if pred.dtype == np.bool_:
        return pred.astype(np.float32)
    if pred.dtype == np.uint8:
        return pred.astype(np.float32) / np.float32(255.0)
    if logits:
        x = pred.astype(np.float32, copy=False)
        with np.errstate(over="ignore"):
            return np.float32(1.0) / (np.float32(1.0) + np.exp(-x))
    return pred.astype(np.float32, copy=False)


#: Low bits of the float32 pattern dropped to form a lookup bucket (2**10 consecutive floats each).
_LUT_SHIFT = 10
_AMBIGUOUS = np.uint16(0xFFFF)


@lru_cache(maxsize=1)
def _bits_lut() -> np.ndarray:
    """Threshold count per bucket of float32 bit patterns in [0, 1]; 0xFFFF where a threshold splits the bucket.

    Non-negative float32 values sort like their bit patterns, so a bucket's first and last
    value bound every count inside it. Only ~255 of the ~1M buckets are ambiguous.
    """
    top = int(np.float32(1.0).view(np.uint32)) >> _LUT_SHIFT
    first = np.arange(top + 1, dtype=np.uint32) << _LUT_SHIFT
    last = first | np.uint32((1 << _LUT_SHIFT) - 1)
    lo = np.searchsorted(THRESHOLDS, first.view(np.float32), side="right")
    hi = np.searchsorted(THRESHOLDS, last.view(np.float32), side="right")
    lut = np.where(lo == hi, lo, int(_AMBIGUOUS)).astype(np.uint16)
    lut.setflags(write=False)
    return lut


def threshold_counts(prob: np.ndarray) -> np.ndarray:
    """Per pixel, how many thresholds t satisfy p >= t (0..255), as uint16; p must lie in [0, 1].

    Equal to `searchsorted(THRESHOLDS, p, side="right")`, but one table lookup on the float32 bit
    pattern per pixel; the rare pixels in a bucket that a threshold splits get the exact search.
    """
    p = np.ascontiguousarray(prob, dtype=np.float32)
    p = p + np.float32(0.0)  # -0.0 -> +0.0, so the bit pattern is that of a non-negative float
    lut = _bits_lut()
    key = p.view(np.uint32) >> _LUT_SHIFT
    np.minimum(key, lut.size - 1, out=key)  # p >= 1 passes every threshold; keeps the index in range
    counts = lut[key]
    unsure = counts == _AMBIGUOUS
    if unsure.any():
        counts[unsure] = np.searchsorted(THRESHOLDS, p[unsure], side="right")
    return counts


_U8_COUNTS = np.searchsorted(THRESHOLDS, np.arange(256, dtype=np.float32) / np.float32(255.0),
                             side="right").astype(np.uint16)
#: Per threshold index i, the smallest byte v with more than i thresholds passed (256: none). The
#: counts grow with v, so "pixels passing threshold i" is a tail sum of the byte histogram from there.
U8_FIRST_ABOVE = np.searchsorted(_U8_COUNTS, np.arange(NUM_THRESHOLDS), side="right").astype(np.int64)
U8_FIRST_ABOVE.setflags(write=False)


@dataclass(frozen=True)
class BinaryFrameStats:
    """Per-frame quantities from which every binary metric and protocol follows.

    iou, fpr: [T] float64; gt_area: [T] int64 (0 = empty GT, skipped for F);
    f_curve: [T, 255] float64 F at every threshold (rows of empty-GT frames are 0).
    """

    iou: np.ndarray
    fpr: np.ndarray
    gt_area: np.ndarray
    f_curve: np.ndarray

    @property
    def nonempty(self) -> np.ndarray:
        return self.gt_area > 0


def f_curve_from_counts(tp: np.ndarray, pp: np.ndarray, gt_area: np.ndarray) -> np.ndarray:
    """F (beta^2 = 0.3) per threshold from true-positive and predicted-positive counts, NaN -> 0."""
    tp = tp.astype(np.float64)
    prec = tp / (pp.astype(np.float64) + PR_EPS)
    rec = tp / (gt_area.astype(np.float64)[..., None] + PR_EPS)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (1 + BETA2) * prec * rec / (BETA2 * prec + rec)
    f[~np.isfinite(f)] = 0.0
    f[gt_area == 0] = 0.0
    return f


def _reverse_cumsum_tail(hist: np.ndarray) -> np.ndarray:
    """From a [T, 256] histogram of threshold counts, pixels with count > i for i in 0..254."""
    tail = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]
    return tail[:, 1:]


def _byte_tails(values: np.ndarray) -> np.ndarray:
    """[..., 257] tail sums of a [..., 256] byte histogram: entry v = pixels with byte >= v (entry 256 = 0)."""
    tail = np.zeros((*values.shape[:-1], 257), dtype=np.int64)
    np.cumsum(values[..., ::-1], axis=-1, out=tail[..., 255::-1])
    return tail


#: Frames per bincount call: 8 x 512 bins stay in L1 cache, which is ~3x faster than one huge call.
_HIST_CHUNK = 8


def _joint_histogram(counts: np.ndarray, obj: np.ndarray) -> np.ndarray:
    """[T, 2, 256] histogram of `counts` (threshold counts, or raw bytes), split by GT background (0) / object (1).

    Bin = frame_in_chunk * 512 + is_object * 256 + count, as uint16, one bincount per chunk of frames.
    """
    t = counts.shape[0]
    bins = 2 * (NUM_THRESHOLDS + 1)
    out = np.empty((t, bins), dtype=np.int64)
    offsets = (np.arange(_HIST_CHUNK, dtype=np.uint16) * np.uint16(bins))[:, None, None]
    for s in range(0, t, _HIST_CHUNK):
        n = min(_HIST_CHUNK, t - s)
        idx = obj[s:s + n].view(np.uint8).astype(np.uint16) << np.uint16(8)
        idx |= counts[s:s + n]
        idx += offsets[:n]
        out[s:s + n] = np.bincount(idx.reshape(-1), minlength=n * bins).reshape(n, bins)
    return out.reshape(t, 2, NUM_THRESHOLDS + 1)


def binary_frame_stats(pred: np.ndarray, gt: np.ndarray, logits: bool = False) -> BinaryFrameStats:
    """All per-frame binary metrics of `pred` ([T,H,W] or [H,W]) against `gt` (non-zero = object)."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim == 2:
        pred, gt = pred[None], gt[None]
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f"prediction shape {pred.shape} does not match ground truth shape {gt.shape}")
    t, h, w = pred.shape
    pixels = h * w
    obj = gt != 0
    if pred.dtype == np.bool_:
        pred = pred.view(np.uint8) * np.uint8(255)  # p in {0, 1} exactly as bytes 0 / 255
    if pred.dtype == np.uint8:
        # One pass over the pixels: a histogram of the raw bytes split by GT. Its tail sums give the
        # pixels passing each threshold and the p > 0.5 areas (v/255 > 0.5 <=> v >= 128).
        tails = _byte_tails(_joint_histogram(pred, obj))  # [T, 2, 257]
        tp = tails[:, 1, U8_FIRST_ABOVE]
        pp = tails[:, 0, U8_FIRST_ABOVE] + tp
        inter = tails[:, 1, 128]
        pred_area = tails[:, 0, 128] + inter
        gt_area = tails[:, 1, 0]
    else:
        prob = to_probability(pred, logits=logits)
        hist = _joint_histogram(threshold_counts(prob), obj)
        fg = prob > np.float32(0.5)
        gt_area = obj.sum(axis=(1, 2), dtype=np.int64)
        pred_area = fg.sum(axis=(1, 2), dtype=np.int64)
        inter = (fg & obj).sum(axis=(1, 2), dtype=np.int64)
        tp_hist = hist[:, 1]
        pp = _reverse_cumsum_tail(hist[:, 0] + tp_hist)
        tp = _reverse_cumsum_tail(tp_hist)
    union = pred_area + gt_area - inter
    empty = gt_area == 0
    # official mask_iou: empty GT scores the true-negative fraction (inter_no_obj / num_pixels)
    true_neg = pixels - union
    num = np.where(empty, true_neg, inter).astype(np.float64)
    den = np.where(empty, pixels, union).astype(np.float64)
    iou = num / (den + 1e-7)
    fpr = pred_area / float(pixels)
    return BinaryFrameStats(iou=iou, fpr=fpr, gt_area=gt_area, f_curve=f_curve_from_counts(tp, pp, gt_area))
