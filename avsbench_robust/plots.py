"""Figures of one or several results (matplotlib, the optional extra `plot`: pip install 'matplotlib>=3.8').

bars        per condition, grouped bars of mIoU, F and FPR, one bar per result, 95% intervals as whiskers
scatter     positive mIoU against pooled negative FPR, one labelled point per result (labels placed so
            that they overlap neither each other nor the points); the ideal model sits bottom right
curves      F over the 255 thresholds, one panel per condition, one line per result (max marked)
similarity  CGSL similarity of positive vs negative audio-visual pairs (the paper's Fig. 4), from the
            `.avsb-similarity.csv` that `predict` writes for a CGSL checkpoint

Object-oriented matplotlib only (no pyplot, no global state, no display needed); the file type follows
the suffix of the output (png, pdf, svg) and the bytes are written atomically, without timestamps.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputFileError, MissingDependencyError, ValidationError
from .io_utils import atomic_write_bytes
from .metrics.binary import THRESHOLDS
from .results import Results
from .types import NEGATIVE_CONDITIONS, Condition

KINDS: tuple[str, ...] = ("bars", "scatter", "curves", "similarity")
FORMATS: tuple[str, ...] = ("png", "pdf", "svg")
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
METRIC_LABEL = {"miou": "mIoU (%)", "f_score": "F-score (%)", "fpr": "FPR (fraction of pixels)"}


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError("plot needs matplotlib, which is not installed: "
                                     "pip install 'matplotlib>=3.8'") from None
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)  # a renderer without pyplot or a display, to measure label boxes
    return fig


def _style(ax: Any) -> None:
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _value(r: Results, group: str, metric: str) -> "tuple[float, list[float] | None] | None":
    m = r.negative if group == "negative" else r.conditions.get(Condition(group))
    if m is None:
        return None
    iv = None
    if r.intervals:
        block = r.intervals.get("negative") if group == "negative" else r.intervals["conditions"].get(group)
        iv = (block or {}).get(metric)
    return float(getattr(m, metric)), iv


def _groups(results: Sequence[Results]) -> list[str]:
    present = {c for r in results for c in r.conditions}
    groups = [c.value for c in (Condition.POSITIVE, *NEGATIVE_CONDITIONS, Condition.FUSED) if c in present]
    if any(r.negative is not None for r in results):
        groups.insert(1 + sum(c in present for c in NEGATIVE_CONDITIONS), "negative")
    return groups


def bars(results: Sequence[Results], names: Sequence[str]) -> Any:
    groups = _groups(results)
    fig = _figure(min(20.0, 3.0 + 0.45 * len(groups) * (len(results) + 1) * 1.5), 4.2)
    axes = fig.subplots(1, 3)
    width = 0.8 / len(results)
    x = np.arange(len(groups))
    for ax, metric in zip(axes, ("miou", "f_score", "fpr")):
        scale = 1.0 if metric == "fpr" else 100.0
        for i, (r, name) in enumerate(zip(results, names)):
            vals, lo, hi = [], [], []
            for g in groups:
                got = _value(r, g, metric)
                v, iv = (np.nan, None) if got is None else got
                vals.append(v * scale)
                lo.append(0.0 if iv is None else max(0.0, (v - iv[0]) * scale))
                hi.append(0.0 if iv is None else max(0.0, (iv[1] - v) * scale))
            pos = x - 0.4 + width * (i + 0.5)
            ax.bar(pos, vals, width * 0.92, color=COLOURS[i % len(COLOURS)], label=name,
                   yerr=[lo, hi], error_kw={"elinewidth": 0.9, "capsize": 2, "ecolor": "#333333"})
        ax.set_xticks(x, [g if g != "negative" else "neg.\n(pooled)" for g in groups], rotation=0, fontsize=9)
        ax.set_ylabel(METRIC_LABEL[metric])
        ax.set_title({"miou": "mIoU", "f_score": "F-score", "fpr": "FPR"}[metric]
                     + ("  (higher is better on positive)" if metric != "fpr" else "  (lower is better on negatives)"),
                     fontsize=10)
        if metric != "fpr":
            ax.set_ylim(0, 105)
        _style(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 5), frameon=False)
    if any(r.intervals for r in results):
        fig.supxlabel("whiskers: 95% bootstrap intervals over videos; a missing bar is a value of 0",
                      fontsize=8, color="#555555")
    return fig


def _place_labels(ax: Any, xy: list[tuple[float, float]], labels: Sequence[str]) -> None:
    """Greedy label placement: for each point try offsets on growing rings and keep the first whose box
    overlaps no placed label, no point and stays inside the axes."""
    from matplotlib.text import Text

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    to_px = ax.transData.transform
    pts = np.array([to_px(p) for p in xy]) if xy else np.zeros((0, 2))
    box_ax = ax.get_window_extent(renderer)
    placed: list[Any] = []
    angles = np.deg2rad([45, -45, 135, -135, 0, 180, 90, -90, 22, -22, 158, -158, 68, -68, 112, -112])
    directions = [(float(np.cos(a)), float(np.sin(a))) for a in angles]
    for (x, y), label in zip(xy, labels):
        text = None
        for radius in (8, 16, 26, 38, 52, 70, 92, 118, 150, 190):
            for dx, dy in directions:
                dx, dy = (0.0 if abs(dx) < 1e-9 else dx), (0.0 if abs(dy) < 1e-9 else dy)
                ha = "left" if dx > 0 else "right" if dx < 0 else "center"
                va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
                cand = ax.annotate(label, (x, y), xytext=(dx * radius, dy * radius), textcoords="offset pixels",
                                   ha=ha, va=va, fontsize=9,
                                   arrowprops={"arrowstyle": "-", "color": "#888888", "lw": 0.6} if radius > 16 else None)
                cand.update_positions(renderer)
                bb = Text.get_window_extent(cand, renderer).expanded(1.05, 1.15)  # the text, not its leader line
                inside = (bb.x0 >= box_ax.x0 and bb.x1 <= box_ax.x1 and bb.y0 >= box_ax.y0 and bb.y1 <= box_ax.y1)
                clash = any(bb.overlaps(o) for o in placed) or any(
                    bb.x0 - 5 <= qx <= bb.x1 + 5 and bb.y0 - 5 <= qy <= bb.y1 + 5 for qx, qy in pts)
                if inside and not clash:
                    text = cand
                    placed.append(bb)
                    break
                cand.remove()
            if text is not None:
                break
        if text is None:  # crowded: fall back to the first position, still readable next to its point
            text = ax.annotate(label, (x, y), xytext=(8, 8), textcoords="offset pixels", fontsize=9)
            placed.append(text.get_window_extent(renderer))


def scatter(results: Sequence[Results], names: Sequence[str]) -> Any:
    fig = _figure(7.2, 5.4)
    ax = fig.subplots()
    xy, labels = [], []
    top = 0.05
    for i, (r, name) in enumerate(zip(results, names)):
        pos = _value(r, "positive", "miou")
        neg = _value(r, "negative", "fpr")
        if pos is None or neg is None:
            continue
        x, y = 100 * pos[0], neg[0]
        xerr = None if pos[1] is None else [[max(0.0, x - 100 * pos[1][0])], [max(0.0, 100 * pos[1][1] - x)]]
        yerr = None if neg[1] is None else [[max(0.0, y - neg[1][0])], [max(0.0, neg[1][1] - y)]]
        ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="o", ms=7, color=COLOURS[i % len(COLOURS)],
                    ecolor="#999999", elinewidth=0.9, capsize=2, zorder=3)
        xy.append((x, y))
        labels.append(name)
        top = max(top, y if neg[1] is None else neg[1][1])
    if not xy:
        raise ValidationError("plot", ["no result has both positive and pooled negative metrics"])
    ax.set_xlim(-2, 105)
    ax.set_ylim(-0.06 * top * 1.25, top * 1.25)
    ax.set_xlabel("positive-audio mIoU (%)  →  better")
    ax.set_ylabel("negative-audio FPR (pooled)  ↓  better")
    ax.set_title("Segment when it sounds, stay silent when it does not", fontsize=10)
    ax.plot([100], [0], marker="*", ms=13, color="#2ca02c", zorder=2, ls="none", label="ideal (100 %, 0)")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    _style(ax)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.8)
    _place_labels(ax, xy, labels)
    return fig


def curves(results: Sequence[Results], names: Sequence[str]) -> Any:
    have = [(r, n) for r, n in zip(results, names) if r.curves]
    if not have:
        raise ValidationError("plot", ["no result carries F curves (AVSS results have none; older files neither)"])
    groups = [g for g in _groups([r for r, _ in have]) if g != "fused" and any(g in r.curves for r, _ in have)]
    cols = min(len(groups), 3)
    rows = -(-len(groups) // cols)
    fig = _figure(4.0 * cols, 3.2 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    t = THRESHOLDS.astype(float)
    for ax, group in zip(axes, groups):
        for i, (r, name) in enumerate(have):
            if group not in r.curves:
                continue
            f = 100 * np.asarray(r.curves[group]["f"])
            colour = COLOURS[i % len(COLOURS)]
            ax.plot(t, f, color=colour, lw=1.6, label=name, ls=("-", "--", ":", "-.")[i % 4])
            k = int(np.argmax(f))
            ax.plot([t[k]], [f[k]], "o", color=colour, ms=4)
        ax.set_title(group if group != "negative" else "negatives pooled", fontsize=10)
        ax.set_ylim(0, 105)
        _style(ax)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    for k, ax in enumerate(axes[:len(groups)]):
        ax.set_xlim(0, 1)
        if k + cols >= len(groups):  # nothing below this panel
            ax.set_xlabel("threshold on p")
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("F-score (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 5), frameon=False)
    fig.supxlabel("dot: the threshold of max F (the reported F)", fontsize=8, color="#555555")
    return fig


def read_similarities(path: "str | Path") -> dict[str, np.ndarray]:
    """condition -> cosine similarities from `predict`'s CSV (a file, or a PRED folder holding it)."""
    path = Path(path)
    files = sorted(path.glob(".avsb-similarity*.csv")) if path.is_dir() else [path]
    if not files:
        raise InputFileError(path, "no .avsb-similarity.csv (predict writes it for CGSL checkpoints only)")
    out: dict[str, list[float]] = {}
    for f in files:
        try:
            with open(f, newline="", encoding="utf-8") as fp:
                for row in csv.DictReader(fp):
                    out.setdefault(Condition.parse(row["condition"]).value, []).append(float(row["similarity"]))
        except (OSError, KeyError, ValueError, UnicodeDecodeError) as exc:
            raise InputFileError(f, f"not a similarity CSV ({exc})") from None
    return {c: np.asarray(v) for c, v in out.items()}


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(similarity of a positive pair > that of a negative pair), ties count half (Mann-Whitney)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def similarity(sims: dict[str, np.ndarray], title: str = "") -> Any:
    pos = sims.get(Condition.POSITIVE.value)
    negs = [c.value for c in NEGATIVE_CONDITIONS if c.value in sims]
    if pos is None or not negs:
        raise ValidationError("plot", ["the similarity file needs the positive and at least one negative condition"])
    neg = np.concatenate([sims[c] for c in negs])
    fig = _figure(7.2, 4.4)
    ax = fig.subplots()
    lo, hi = min(pos.min(), neg.min()), max(pos.max(), neg.max())
    pad = 0.05 * max(hi - lo, 1e-3)
    edges = np.linspace(lo - pad, hi + pad, 41)
    def share(x: np.ndarray) -> np.ndarray:
        return np.full(len(x), 1.0 / len(x))

    ax.hist(pos, bins=edges, weights=share(pos), color="#1f77b4", alpha=0.55, label=f"positive pairs (n={len(pos)})")
    ax.hist(neg, bins=edges, weights=share(neg), color="#d62728", alpha=0.45,
            label=f"negative pairs: {', '.join(negs)} (n={len(neg)})")
    for c, style in zip(negs, (":", "--", "-.")):
        ax.hist(sims[c], bins=edges, weights=share(sims[c]), histtype="step", color="#7f0000", ls=style, lw=1.1,
                label=f"  {c} only")
    ax.set_xlabel("audio-visual cosine similarity s (CGSL head)")
    ax.set_ylabel("fraction of the pairs")
    ax.set_title((title + ": " if title else "") + f"positive vs negative pairs, AUC = {_auc(pos, neg):.3f}",
                 fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    _style(ax)
    return fig


def figure_bytes(fig: Any, fmt: str) -> bytes:
    """The figure as bytes without creation dates or tool versions (same figure -> same bytes)."""
    import matplotlib

    meta = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None, "Creator": None},
            "svg": {"Date": None, "Creator": None}}[fmt]
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "avsb-robust", "pdf.compression": 6}):
        fig.savefig(buf, format=fmt, metadata=meta, dpi=150 if fmt == "png" else "figure")
    return buf.getvalue()


def plot(kind: str, out: "str | Path", results: Sequence[Results] = (), names: Sequence[str] = (),
         similarities: "str | Path | None" = None) -> Path:
    """Draw `kind` and write it to `out` (.png, .pdf or .svg)."""
    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    problems = []
    if kind not in KINDS:
        problems.append(f"unknown plot kind {kind!r} (expected one of: {', '.join(KINDS)})")
    if fmt not in FORMATS:
        problems.append(f"{out}: the output must end in .png, .pdf or .svg")
    if kind == "similarity" and similarities is None:
        problems.append("the similarity plot needs --similarity (a PRED folder or its .avsb-similarity.csv)")
    if kind != "similarity" and not results:
        problems.append(f"the {kind} plot needs at least one results JSON")
    if problems:
        raise ValidationError("plot", problems)
    if kind == "similarity":
        fig = similarity(read_similarities(similarities), names[0] if names else "")
    else:
        fig = {"bars": bars, "scatter": scatter, "curves": curves}[kind](list(results), list(names))
    atomic_write_bytes(out, figure_bytes(fig, fmt))
    return out
