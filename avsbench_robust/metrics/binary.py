"""Per-frame binary metrics (S4, MS3) exactly as SPEC §3 defines them, vectorised in numpy.

Every function is pure: arrays in, arrays out. The F curve is built from a histogram of
"how many thresholds does this pixel pass" per frame, so the 255 thresholds cost one
bincount instead of 255 passes over the image (the official loop).
"""
from __future__ import annotations

from dataclasses import dataclass

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


#: Thresholds below / above guess g = round(254 p), as 256-entry float32 lookup tables (index 255 unused
#: below; +inf above, so that p = 1 never passes a 256th threshold).
_T_BELOW = np.append(THRESHOLDS, np.float32(np.inf)).astype(np.float32)
_T_ABOVE = np.append(THRESHOLDS[1:], [np.float32(np.inf)] * 2).astype(np.float32)


#: Pixels per pass of the float path: its byte and float32 temporaries then stay in the L2 cache,
#: which is ~3x faster than whole-array passes through main memory.
_CHUNK_PIXELS = 1 << 16


def threshold_counts(prob: np.ndarray) -> np.ndarray:
    """Per pixel, how many thresholds t satisfy p >= t (0..255), as uint8; p must lie in [0, 1].

    Equal to `searchsorted(THRESHOLDS, p, side="right")`. The thresholds are ~i/254, so
    g = round(254 p) is within one of the last threshold passed; comparing p with the thresholds at
    g and g + 1 (256-entry lookup tables) makes it exact. OpenCV/NumPy byte operations on cache-sized
    chunks: no int64 index array, no gather from a large table.
    """
    import cv2  # a package dependency already (resizing); imported here to keep this module light

    p = np.ascontiguousarray(prob, dtype=np.float32)
    flat = p.reshape(1, -1)
    out = np.empty(flat.shape, np.uint8)
    for s in range(0, flat.shape[1], _CHUNK_PIXELS):
        seg = flat[:, s:s + _CHUNK_PIXELS]
        g = cv2.convertScaleAbs(seg, alpha=float(NUM_THRESHOLDS - 1))  # round(|254 p|), saturated to 0..255
        counts = out[:, s:s + _CHUNK_PIXELS]
        np.add(g, np.uint8(1), out=counts)
        counts += (seg >= cv2.LUT(g, _T_ABOVE)).view(np.uint8)
        counts -= (seg < cv2.LUT(g, _T_BELOW)).view(np.uint8)
    return out.reshape(p.shape)


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
    f_curve, precision, recall: [T, 255] float64 at every threshold (rows of empty-GT frames are 0).
    """

    iou: np.ndarray
    fpr: np.ndarray
    gt_area: np.ndarray
    f_curve: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @property
    def nonempty(self) -> np.ndarray:
        return self.gt_area > 0


def pr_curves_from_counts(tp: np.ndarray, pp: np.ndarray, gt_area: np.ndarray) -> tuple[np.ndarray, ...]:
    """(precision, recall, F) per threshold from true-positive and predicted-positive counts, as the
    official `_eval_pr` (1e-20 guards, F with beta^2 = 0.3, NaN -> 0); empty-GT rows are 0."""
    tp = tp.astype(np.float64)
    prec = tp / (pp.astype(np.float64) + PR_EPS)
    rec = tp / (gt_area.astype(np.float64)[..., None] + PR_EPS)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (1 + BETA2) * prec * rec / (BETA2 * prec + rec)
    f[~np.isfinite(f)] = 0.0
    empty = gt_area == 0
    for arr in (prec, rec, f):
        arr[empty] = 0.0
    return prec, rec, f


def f_curve_from_counts(tp: np.ndarray, pp: np.ndarray, gt_area: np.ndarray) -> np.ndarray:
    """F (beta^2 = 0.3) per threshold from true-positive and predicted-positive counts, NaN -> 0."""
    return pr_curves_from_counts(tp, pp, gt_area)[2]


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
#: Largest frame whose histogram OpenCV's float32 counts hold exactly (every integer up to 2**24 is a float32).
_CV_EXACT_PIXELS = 1 << 24


def _joint_histogram(counts: np.ndarray, obj: np.ndarray) -> np.ndarray:
    """[T, 2, 256] histogram of uint8 `counts` (threshold counts 0..255, or raw bytes), split by GT background / object.

    One OpenCV 2-D `calcHist` per frame (~2.5x faster than bincount, which widens every index to
    int64); frames too large for its float32 counts take chunked bincounts of combined uint16 indices.
    """
    t, h, w = counts.shape
    if h * w <= _CV_EXACT_PIXELS:
        return _joint_histogram_cv2(counts, obj)
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


def _joint_histogram_cv2(values: np.ndarray, obj: np.ndarray) -> np.ndarray:
    import cv2  # a package dependency already (resizing); imported here to keep this module light

    v = np.ascontiguousarray(values)
    o = np.ascontiguousarray(obj).view(np.uint8)
    out = np.empty((v.shape[0], 256, 2), dtype=np.float32)
    for i in range(v.shape[0]):  # per frame: one C pass each
        out[i] = cv2.calcHist([v[i], o[i]], [0, 1], None, [256, 2], [0, 256, 0, 2])
    return out.transpose(0, 2, 1).astype(np.int64)


def _float_histogram(prob: np.ndarray, obj: np.ndarray) -> np.ndarray:
    """[T, 2, 256] histogram of threshold counts by GT object, a few frames at a time (cache-sized passes)."""
    t, h, w = prob.shape
    step = max(1, _CHUNK_PIXELS // max(h * w, 1))
    out = np.empty((t, 2, NUM_THRESHOLDS + 1), dtype=np.int64)
    for s in range(0, t, step):
        out[s:s + step] = _joint_histogram(threshold_counts(prob[s:s + step]), obj[s:s + step])
    return out


#: Threshold count of p = 0.5: THRESHOLDS[127] is exactly 0.5, so p >= 0.5 <=> count >= 128, and
#: the IoU/FPR foreground p > 0.5 is that minus the pixels exactly at 0.5.
_HALF_COUNT = int(np.searchsorted(THRESHOLDS, np.float32(0.5), side="right"))
if THRESHOLDS[_HALF_COUNT - 1] != np.float32(0.5):  # pragma: no cover - a property of the fixed thresholds
    raise RuntimeError("the F-curve thresholds no longer contain 0.5 exactly")


def frame_stack(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`pred` and `gt` as matching `[T, H, W]` arrays (a single `[H, W]` frame gets T = 1)."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim == 2:
        pred, gt = pred[None], gt[None]
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f"prediction shape {pred.shape} does not match ground truth shape {gt.shape}")
    return pred, gt


def binary_frame_stats(pred: np.ndarray, gt: np.ndarray, logits: bool = False) -> BinaryFrameStats:
    """All per-frame binary metrics of `pred` ([T,H,W] or [H,W]) against `gt` (non-zero = object)."""
    pred, gt = frame_stack(pred, gt)
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
        hist = _float_histogram(prob, obj)
        gt_area = hist[:, 1].sum(axis=1)
        above = hist[:, :, _HALF_COUNT:].sum(axis=2)  # [T, bg/obj] pixels with p >= 0.5
        at_half = prob == np.float32(0.5)
        if at_half.any():  # rare in real outputs; p > 0.5 excludes them
            on_obj = (at_half & obj).sum(axis=(1, 2))
            above -= np.stack([at_half.sum(axis=(1, 2)) - on_obj, on_obj], axis=1)
        pred_area = above.sum(axis=1)
        inter = above[:, 1]
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
    prec, rec, f = pr_curves_from_counts(tp, pp, gt_area)
    return BinaryFrameStats(iou=iou, fpr=fpr, gt_area=gt_area, f_curve=f, precision=prec, recall=rec)
