"""Bootstrap replicates of every metric from per-video sums (pure, vectorised).

A replicate draws the resampling units with replacement; it is a row of counts W[r, unit], and
every metric of that replicate follows from weighted sums `W @ column` (one matrix product per
column for all replicates at once, no Python loop over replicates or metrics):

- canonical binary (S4, MS3): unit = video; mIoU = sum(iou)/sum(frames), F = max over thresholds of
  sum(F curve)/sum(non-empty frames), FPR = sum(fpr)/sum(frames), exactly the Scorer's estimator;
- official binary: unit = batch of B videos (the protocol averages per-batch numbers, so the batch
  is what it samples); metric = weighted mean of the per-batch values;
- AVSS (both protocols pool sums): unit = video; per class sum(iou)/sum(count), then the class mean.

The same W is used for every condition, so the pairing of a video's positive and negative runs is
kept (they are the same frames). With W = 1 the functions give the point estimates.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .aggregate import BINARY_COLUMNS, SEMANTIC_COLUMNS, binary_batches, class_mean, g_metric_array

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95
METHOD = "percentile bootstrap"

Table = Mapping[str, np.ndarray]


def resample_counts(units: int, resamples: int, seed: int) -> np.ndarray:
    """[resamples, units] float64: how often each unit is drawn in each replicate (rows sum to `units`)."""
    if units < 1 or resamples < 1:
        raise ValueError(f"need at least one unit and one resample, got {units} and {resamples}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, units, size=(resamples, units))
    idx += (np.arange(resamples) * units)[:, None]
    return np.bincount(idx.ravel(), minlength=resamples * units).reshape(resamples, units).astype(np.float64)


def align(tables: Mapping[str, tuple[Sequence[str], Table]], columns: Mapping[str, tuple[int, ...]]
          ) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """Re-index each condition's (videos, table) onto the union of videos (first-seen order); absent rows are 0."""
    units: dict[str, int] = {}
    for videos, _ in tables.values():
        for v in videos:
            units.setdefault(v, len(units))
    out = {}
    for cond, (videos, table) in tables.items():
        pos = np.array([units[v] for v in videos], dtype=np.intp)
        full = {}
        for name, shape in columns.items():
            arr = np.zeros((len(units), *shape))
            arr[pos] = table[name]
            full[name] = arr
        out[cond] = full
    return list(units), out


def _binary_sums(w: np.ndarray, table: Table) -> dict[str, np.ndarray]:
    return {name: w @ table[name] for name in ("frames", "nonempty", "iou_sum", "fpr_sum", "f_sum")}


def _binary_from_sums(s: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    frames = np.maximum(s["frames"], 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = s["f_sum"] / s["nonempty"][:, None]
    f = np.where(s["nonempty"] > 0, np.nan_to_num(curve).max(axis=1), 0.0)
    return {"miou": s["iou_sum"] / frames, "f_score": f, "fpr": s["fpr_sum"] / frames}


def _semantic_from_sums(s: Mapping[str, np.ndarray], over: str) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        iou_c = np.nan_to_num(s["iou_sum"] / s["count"], nan=0.0, posinf=0.0)
        f_c = np.nan_to_num(s["f_sum"] / s["count"], nan=0.0, posinf=0.0)
    return {"miou": class_mean(iou_c, s["count"], over), "f_score": class_mean(f_c, s["count"], over),
            "fpr": s["fpr_sum"] / np.maximum(s["frames"], 1e-300)}


def _add_global(out: dict[str, np.ndarray], positive: str, negative: bool) -> None:
    if positive in {k.split("/")[0] for k in out} and negative:
        out["global/g_miou"] = g_metric_array(out[f"{positive}/miou"], out["negative/miou"])
        out["global/g_f"] = g_metric_array(out[f"{positive}/f_score"], out["negative/f_score"])
        out["global/g_fpr"] = out["negative/fpr"]


def pooled_replicates(aligned: Mapping[str, Table], negatives: Sequence[str], w: np.ndarray, *, semantic: bool,
                      over: str = "all", positive: str = "positive") -> dict[str, np.ndarray]:
    """Every metric ("<condition>/<metric>", "negative/<metric>", "global/<metric>") for each row of `w`.

    `aligned`: per condition a table whose rows are the units of `w` (canonical binary and AVSS).
    """
    sums = {}
    for cond, table in aligned.items():
        if semantic:
            sums[cond] = {name: w @ table[name] for name in SEMANTIC_COLUMNS}
        else:
            sums[cond] = _binary_sums(w, table)
    metric = (lambda s: _semantic_from_sums(s, over)) if semantic else _binary_from_sums
    out: dict[str, np.ndarray] = {}
    for cond, s in sums.items():
        for name, value in metric(s).items():
            out[f"{cond}/{name}"] = value
    negs = [c for c in negatives if c in sums]
    if negs:
        pooled = {name: sum(sums[c][name] for c in negs) for name in sums[negs[0]]}
        for name, value in metric(pooled).items():
            out[f"negative/{name}"] = value
    _add_global(out, positive, bool(negs))
    return out


def batch_values(tables: Mapping[str, Table], batch_size: int) -> dict[str, dict[str, np.ndarray]]:
    """Official binary protocol: per condition the per-batch mIoU, F and FPR (rows in scoring order)."""
    return {cond: binary_batches(dict(t), batch_size) for cond, t in tables.items()}


def batched_replicates(batches: Mapping[str, Mapping[str, np.ndarray]], negatives: Sequence[str], w: np.ndarray,
                       positive: str = "positive") -> dict[str, np.ndarray]:
    """Official binary protocol: weighted means of per-batch values; unit k of `w` is batch k of every condition."""
    out: dict[str, np.ndarray] = {}
    num: dict[str, dict[str, np.ndarray]] = {}
    den: dict[str, np.ndarray] = {}
    for cond, b in batches.items():
        n = b["miou"].shape[0]
        wc = w[:, :n]
        den[cond] = wc.sum(axis=1)
        num[cond] = {name: wc @ b[name] for name in ("miou", "f_score", "fpr")}
        for name, value in num[cond].items():
            out[f"{cond}/{name}"] = value / np.maximum(den[cond], 1e-300)
    negs = [c for c in negatives if c in batches]
    if negs:
        total = np.maximum(sum(den[c] for c in negs), 1e-300)
        for name in ("miou", "f_score", "fpr"):
            out[f"negative/{name}"] = sum(num[c][name] for c in negs) / total
    _add_global(out, positive, bool(negs))
    return out


def units_of(batches: Mapping[str, Mapping[str, np.ndarray]]) -> int:
    return max((b["miou"].shape[0] for b in batches.values()), default=0)


def percentile_interval(samples: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """The central `level` interval of the replicates (linear interpolation between order statistics)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"interval level must be in (0, 1), got {level}")
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


__all__ = ["BINARY_COLUMNS", "SEMANTIC_COLUMNS", "DEFAULT_LEVEL", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "METHOD",
           "align", "batch_values", "batched_replicates", "percentile_interval", "pooled_replicates",
           "resample_counts", "units_of"]
