"""Uncertainty of a result and of a difference between two results, by bootstrap over videos.

`bootstrap_intervals(per_video, ...)` gives the block stored in every results JSON (`intervals`):
a percentile interval for every per-condition, pooled-negative and global metric. `paired_bootstrap(a, b)`
resamples the SAME videos for both results and gives the interval of each difference b - a, which is
what a claim such as "CGSL beats the baseline" needs. Both are pure functions of the per-video sums a
results document carries (`Results.per_video`); metrics/bootstrap.py does the arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ValidationError
from .metrics import bootstrap as bs
from .metrics.aggregate import BINARY_COLUMNS, SEMANTIC_COLUMNS
from .results import PerVideo, Results
from .types import NEGATIVE_CONDITIONS, Condition, Subset

NEGATIVES = [c.value for c in NEGATIVE_CONDITIONS]


def _class_mean(protocol: str) -> str:
    return "present" if protocol == "canonical" else "all"


def unit_name(subset: Subset, protocol: str) -> str:
    return "batch" if protocol == "official" and not subset.is_semantic else "video"


def _prepared(per_video: PerVideo, subset: Subset, protocol: str, batch_size: int | None,
              units: list[str] | None = None) -> tuple[int, Any]:
    """(number of units, a function weights -> replicates) for one result."""
    tables = {c.value: per_video.tables[c] for c in per_video.videos}
    if unit_name(subset, protocol) == "batch":
        batches = bs.batch_values(tables, int(batch_size or 1))
        return bs.units_of(batches), lambda w: bs.batched_replicates(batches, NEGATIVES, w)
    cols = SEMANTIC_COLUMNS if subset.is_semantic else BINARY_COLUMNS
    cols = {k: v for k, v in cols.items() if k in next(iter(tables.values()))}
    order, aligned = bs.align({c.value: (per_video.videos[c], per_video.tables[c]) for c in per_video.videos}, cols)
    # units in name order, so the replicates do not depend on the order videos were fed in; a paired
    # comparison passes the other result's units
    units = sorted(order) if units is None else units
    pos = {v: i for i, v in enumerate(order)}
    aligned = {c: {k: a[[pos[v] for v in units]] for k, a in t.items()} for c, t in aligned.items()}
    order = units
    over = _class_mean(protocol)
    return len(order), lambda w: bs.pooled_replicates(aligned, NEGATIVES, w, semantic=subset.is_semantic, over=over)


def _units(per_video: PerVideo) -> list[str]:
    seen: dict[str, None] = {}
    for videos in per_video.videos.values():
        seen.update(dict.fromkeys(videos))
    return list(seen)


def bootstrap_intervals(per_video: PerVideo, subset: "Subset | str", protocol: str, batch_size: int | None = None, *,
                        resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                        level: float = bs.DEFAULT_LEVEL) -> dict[str, Any]:
    """The `intervals` block of a results document: settings, then [low, high] per metric."""
    subset = Subset.parse(subset)
    n, replicate = _prepared(per_video, subset, protocol, batch_size)
    samples = replicate(bs.resample_counts(n, resamples, seed))
    block: dict[str, Any] = {"method": bs.METHOD, "unit": unit_name(subset, protocol), "units": n,
                             "resamples": resamples, "seed": seed, "level": level,
                             "conditions": {}, "negative": None, "global": None}
    for key, values in sorted(samples.items()):
        group, metric = key.split("/")
        interval = list(bs.percentile_interval(values, level))
        if group == "negative":
            block["negative"] = {**(block["negative"] or {}), metric: interval}
        elif group == "global":
            block["global"] = {**(block["global"] or {}), metric: interval}
        else:
            block["conditions"].setdefault(group, {})[metric] = interval
    return block


@dataclass(frozen=True)
class Difference:
    """One metric of a paired comparison: b - a, its interval, and a two-sided bootstrap p-value."""

    metric: str
    a: float
    b: float
    diff: float
    low: float
    high: float
    p_value: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Comparison:
    unit: str
    units: int
    resamples: int
    seed: int
    level: float
    rows: list[Difference]

    def row(self, metric: str) -> Difference:
        return next(r for r in self.rows if r.metric == metric)


def _check_pairable(a: Results, b: Results) -> None:
    problems = []
    for label, r in (("A", a), ("B", b)):
        if r.per_video is None:
            problems.append(f"{label} carries no per-video sums (score it again with this toolkit version)")
    if (a.subset, a.protocol, a.batch_size) != (b.subset, b.protocol, b.batch_size):
        problems.append(f"subset/protocol/batch size differ: {a.subset.value}/{a.protocol}/{a.batch_size} vs "
                        f"{b.subset.value}/{b.protocol}/{b.batch_size}")
    if problems:
        raise ValidationError("compare", problems)
    pa, pb = a.per_video, b.per_video
    if set(pa.videos) != set(pb.videos):
        problems.append(f"conditions differ: {sorted(c.value for c in pa.videos)} vs {sorted(c.value for c in pb.videos)}")
    for cond in sorted(set(pa.videos) & set(pb.videos), key=list(Condition).index):
        va, vb = pa.videos[cond], pb.videos[cond]
        if set(va) != set(vb):
            only_a, only_b = sorted(set(va) - set(vb)), sorted(set(vb) - set(va))
            problems.append(f"{cond.value}: not the same videos ({len(only_a)} only in A, e.g. {only_a[:3]}; "
                            f"{len(only_b)} only in B, e.g. {only_b[:3]})")
        elif unit_name(a.subset, a.protocol) == "batch" and va != vb:
            problems.append(f"{cond.value}: same videos in another order, so the official batches differ")
    if problems:
        raise ValidationError("compare", ["a paired comparison needs both results on the same videos"] + problems)


def paired_bootstrap(a: Results, b: Results, *, resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                     level: float = bs.DEFAULT_LEVEL) -> Comparison:
    """Paired bootstrap of b - a for every metric both results have: the same resampled videos (or
    official batches) enter both, so video difficulty cancels. Raises ValidationError unless both were
    scored on the same videos with the same subset, protocol and batch size."""
    _check_pairable(a, b)
    units = sorted(_units(a.per_video))
    n, rep_a = _prepared(a.per_video, a.subset, a.protocol, a.batch_size, units)
    _, rep_b = _prepared(b.per_video, b.subset, b.protocol, b.batch_size, units)
    w = bs.resample_counts(n, resamples, seed)
    ones = np.ones((1, n))
    sa, sb = rep_a(w), rep_b(w)
    pa, pb = rep_a(ones), rep_b(ones)
    rows = []
    for key in _ordered(set(sa) & set(sb)):
        d = sb[key] - sa[key]
        lo, hi = bs.percentile_interval(d, level)
        p = min(1.0, 2 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))
        rows.append(Difference(key, float(pa[key][0]), float(pb[key][0]), float(pb[key][0] - pa[key][0]), lo, hi, p))
    return Comparison(unit_name(a.subset, a.protocol), n, resamples, seed, level, rows)


def _ordered(keys: set[str]) -> list[str]:
    groups = ["global", "positive", "negative", *NEGATIVES, "fused"]
    metrics = ["g_miou", "g_f", "g_fpr", "miou", "f_score", "fpr"]
    return sorted(keys, key=lambda k: (groups.index(k.split("/")[0]), metrics.index(k.split("/")[1])))


def render_comparison(cmp: Comparison, names: tuple[str, str] = ("A", "B")) -> str:
    """A plain table: metric, A, B, B - A, the interval and whether it excludes 0 (values in percent)."""
    pct = f"{100 * cmp.level:g}%"
    head = ["metric", names[0], names[1], f"{names[1]} - {names[0]}", f"{pct} interval", "excludes 0", "p"]
    rows = []
    for r in cmp.rows:
        scale, digits = (1, 4) if r.metric.endswith("fpr") else (100, 2)
        f = lambda v, scale=scale, digits=digits: f"{scale * v:.{digits}f}"  # noqa: E731
        rows.append([r.metric, f(r.a), f(r.b), f"{scale * r.diff:+.{digits}f}", f"[{f(r.low)}, {f(r.high)}]",
                     "yes" if r.excludes_zero else "no", f"{r.p_value:.3f}"])
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])  # noqa: E731
                                   for i, c in enumerate(cells))
    note = (f"paired bootstrap over {cmp.units} {cmp.unit}s, {cmp.resamples} resamples, seed {cmp.seed}; "
            f"mIoU/F in percent, FPR as a fraction; lower is better for negative mIoU/F/FPR and G-FPR")
    return "\n".join([line(head), "  ".join("-" * w for w in widths), *map(line, rows), note]) + "\n"
