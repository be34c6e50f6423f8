"""Additive per-video sums and the two aggregation protocols (SPEC §3), as pure functions.

State is kept per video (rows in metadata order) because the official protocol batches videos;
every other number is a sum over rows, so merging shards is concatenation plus addition.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .binary import NUM_THRESHOLDS, BinaryFrameStats
from .semantic import NUM_CLASSES, SemanticFrameStats

#: Columns of a binary per-video table: name -> trailing shape.
BINARY_COLUMNS: dict[str, tuple[int, ...]] = {
    "frames": (), "nonempty": (), "iou_sum": (), "fpr_sum": (), "f_sum": (NUM_THRESHOLDS,),
    "p_sum": (NUM_THRESHOLDS,), "r_sum": (NUM_THRESHOLDS,),
}
#: Columns of a semantic per-video table.
SEMANTIC_COLUMNS: dict[str, tuple[int, ...]] = {
    "frames": (), "fpr_sum": (), "iou_sum": (NUM_CLASSES,), "f_sum": (NUM_CLASSES,), "count": (NUM_CLASSES,),
}


def empty_table(columns: dict[str, tuple[int, ...]], rows: int = 0) -> dict[str, np.ndarray]:
    """A table of `rows` zero rows (float64 throughout: counts stay exact far beyond any dataset)."""
    return {name: np.zeros((rows, *shape), dtype=np.float64) for name, shape in columns.items()}


def binary_row(stats: BinaryFrameStats, keep: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Sum one video's frames into a single table row (`keep` masks frames out)."""
    sel = slice(None) if keep is None else keep
    ne = stats.nonempty[sel]
    return {
        "frames": np.float64(stats.iou[sel].size),
        "nonempty": np.float64(ne.sum()),
        "iou_sum": stats.iou[sel].sum(),
        "fpr_sum": stats.fpr[sel].sum(),
        "f_sum": stats.f_curve[sel][ne].sum(axis=0),
        "p_sum": stats.precision[sel][ne].sum(axis=0),
        "r_sum": stats.recall[sel][ne].sum(axis=0),
    }


def semantic_row(stats: SemanticFrameStats, keep: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Sum one video's frames into a single semantic table row (`keep` masks frames out)."""
    sel = slice(None) if keep is None else keep
    return {
        "frames": np.float64(stats.fpr[sel].size),
        "fpr_sum": stats.fpr[sel].sum(),
        "iou_sum": stats.iou[sel].sum(axis=0),
        "f_sum": stats.f[sel].sum(axis=0),
        "count": stats.present[sel].sum(axis=0).astype(np.float64),
    }


def concat_tables(tables: Sequence[dict[str, np.ndarray]], columns: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Rows of all tables; a column some table lacks (e.g. the curve sums p_sum/r_sum, which the protocol
    aggregates do not need) is left out rather than failing."""
    if not tables:
        return empty_table(columns)
    names = [name for name in columns if all(name in t for t in tables)]
    return {name: np.concatenate([t[name] for t in tables], axis=0) for name in names}


@dataclass(frozen=True)
class Aggregate:
    """mIoU, F and FPR of a set of frames (fractions), with the frame count behind them."""

    miou: float
    f_score: float
    fpr: float
    frames: int
    extra: dict[str, float] = field(default_factory=dict)


def _batch_starts(rows: int, batch_size: int | None) -> np.ndarray:
    step = rows if batch_size is None else batch_size
    return np.arange(0, rows, max(step, 1))


def binary_batches(table: dict[str, np.ndarray], batch_size: int | None) -> dict[str, np.ndarray]:
    """Per-batch mIoU, max-F and FPR for consecutive batches of `batch_size` videos (None = one batch).

    A batch without a non-empty GT frame gets F = 0, as the official `Eval_Fmeasure` returns
    its zero-initialised score there.
    """
    rows = table["frames"].shape[0]
    if rows == 0:
        return {k: np.zeros(0) for k in ("miou", "f_score", "fpr", "frames")}
    starts = _batch_starts(rows, batch_size)
    frames = np.add.reduceat(table["frames"], starts)
    nonempty = np.add.reduceat(table["nonempty"], starts)
    f_sum = np.add.reduceat(table["f_sum"], starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_curve = f_sum / nonempty[:, None]
    f_best = np.where(nonempty > 0, np.nan_to_num(mean_curve).max(axis=1), 0.0)
    safe = np.maximum(frames, 1)
    return {
        "miou": np.add.reduceat(table["iou_sum"], starts) / safe,
        "f_score": f_best,
        "fpr": np.add.reduceat(table["fpr_sum"], starts) / safe,
        "frames": frames,
    }


def aggregate_binary(tables: Sequence[dict[str, np.ndarray]], batch_size: int | None = None) -> Aggregate:
    """Aggregate one or several (pooled) binary tables.

    canonical (batch_size None): all frames of all tables form one set — per-frame means and the
    max of the mean F curve. official: each table (one condition's run) is cut into batches of
    `batch_size` videos in row order; the result is the mean over all batches of all tables.
    """
    if batch_size is None:
        merged = concat_tables(tables, BINARY_COLUMNS)
        per = binary_batches(merged, None)
    else:
        parts = [binary_batches(t, batch_size) for t in tables]
        per = {k: np.concatenate([p[k] for p in parts]) for k in ("miou", "f_score", "fpr", "frames")}
    frames = int(per["frames"].sum())
    if per["miou"].size == 0:
        return Aggregate(0.0, 0.0, 0.0, 0)
    return Aggregate(float(per["miou"].mean()), float(per["f_score"].mean()), float(per["fpr"].mean()), frames)


@dataclass(frozen=True)
class SemanticAggregate:
    """AVSS sums turned into the official per-class and mean numbers."""

    per_class_iou: np.ndarray
    per_class_f: np.ndarray
    class_count: np.ndarray
    overall: Aggregate


#: How the AVSS class mean is taken: over the classes that occur (in GT or prediction) in the scored
#: frames, as mmsegmentation does ("present", canonical), or over all 71 with absent classes as 0
#: (the official script, "all").
CLASS_MEANS: tuple[str, ...] = ("present", "all")


def class_mean(per_class: np.ndarray, count: np.ndarray, over: str) -> np.ndarray:
    """Mean over the last axis: all classes, or only those with count > 0 (0 when none occurs)."""
    if over == "all":
        return per_class.mean(axis=-1)
    present = count > 0
    n = present.sum(axis=-1)
    return np.where(n > 0, (per_class * present).sum(axis=-1) / np.maximum(n, 1), 0.0)


def aggregate_semantic(tables: Sequence[dict[str, np.ndarray]], over: str = "all") -> SemanticAggregate:
    """Pool AVSS tables: per class sum/count (NaN -> 0), then the class mean `over` (see CLASS_MEANS).

    extra holds `miou_nobg_official` / `f_score_nobg_official` (the official script drops the
    LAST class, not background, of the 71) and `miou_nobg` / `f_score_nobg` (the same class mean
    without background, class 0).
    """
    if over not in CLASS_MEANS:
        raise ValueError(f"unknown class mean {over!r} (expected one of: {', '.join(CLASS_MEANS)})")
    merged = concat_tables(tables, SEMANTIC_COLUMNS)
    iou_sum = merged["iou_sum"].sum(axis=0)
    f_sum = merged["f_sum"].sum(axis=0)
    count = merged["count"].sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou_c = np.nan_to_num(iou_sum / count, nan=0.0, posinf=0.0)
        f_c = np.nan_to_num(f_sum / count, nan=0.0, posinf=0.0)
    frames = float(merged["frames"].sum())
    fpr = float(merged["fpr_sum"].sum() / frames) if frames else 0.0
    extra = {
        "miou_nobg_official": float(iou_c[:-1].mean()),
        "f_score_nobg_official": float(f_c[:-1].mean()),
        "miou_nobg": float(class_mean(iou_c[1:], count[1:], over)),
        "f_score_nobg": float(class_mean(f_c[1:], count[1:], over)),
    }
    overall = Aggregate(float(class_mean(iou_c, count, over)), float(class_mean(f_c, count, over)), fpr,
                        int(frames), extra)
    return SemanticAggregate(iou_c, f_c, count, overall)


def mean_curves(tables: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-frame mean F / precision / recall curves [255] over the non-empty-GT frames of the pooled tables."""
    merged = concat_tables(tables, BINARY_COLUMNS)
    n = merged["nonempty"].sum()
    return {key: (merged[col].sum(axis=0) / n if n else np.zeros(NUM_THRESHOLDS))
            for key, col in (("f", "f_sum"), ("precision", "p_sum"), ("recall", "r_sum"))}


def g_metric(positive: float, negative: float) -> float:
    """Harmonic mean of the positive score and (1 - negative score): 2*P*(1-N)/(P+1-N), 0 when both vanish."""
    den = positive + 1.0 - negative
    return 0.0 if den <= 0 else 2.0 * positive * (1.0 - negative) / den


def g_metric_array(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """`g_metric` elementwise (bootstrap resamples)."""
    den = positive + 1.0 - negative
    return np.where(den > 0, 2.0 * positive * (1.0 - negative) / np.where(den > 0, den, 1.0), 0.0)
