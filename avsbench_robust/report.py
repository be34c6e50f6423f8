"""Results as tables: terminal, Markdown, CSV and LaTeX, in the column order of the paper's Table 1.

Table 1 order: G-mIoU, G-F, G-FPR | positive mIoU, F | negative (pooled "unseen audio") mIoU, F, FPR;
then our extra columns: each negative condition's mIoU, F, FPR and the fused control's mIoU, F.
mIoU, F and FPR print in percent; G-FPR prints as a fraction, as the paper does.
No table library: the formats are small and fixed, and a dependency would buy nothing here.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Callable, Sequence

from .provenance import LEAKY_LABEL, LEAKY_NEGATIVE_FEATURES
from .results import Metrics, Results
from .types import NEGATIVE_CONDITIONS, Condition

FORMATS: tuple[str, ...] = ("table", "markdown", "csv", "latex")


@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[Results], "float | None"]
    percent: bool = True
    lower_is_better: bool = False
    key: str = ""  # "<group>/<metric>", where the interval of the value is found

    def interval(self, r: Results) -> "list[float] | None":
        if not r.intervals or not self.key:
            return None
        group, metric = self.key.split("/")
        block = r.intervals["conditions"].get(group) if group not in ("negative", "global") else r.intervals.get(group)
        return None if not block else block.get(metric)


def _cond(cond: Condition, attr: str) -> Callable[[Results], "float | None"]:
    def get(r: Results) -> "float | None":
        m: Metrics | None = r.conditions.get(cond)
        return None if m is None else getattr(m, attr)
    return get


def _neg(attr: str) -> Callable[[Results], "float | None"]:
    return lambda r: None if r.negative is None else getattr(r.negative, attr)


def _glob(attr: str) -> Callable[[Results], "float | None"]:
    return lambda r: None if r.global_ is None else getattr(r.global_, attr)


def _col(header: str, group: str, attr: str, **kw) -> Column:
    get = _glob(attr) if group == "global" else _neg(attr) if group == "negative" else _cond(Condition(group), attr)
    return Column(header, get, key=f"{group}/{attr}", **kw)


def columns(results: Sequence[Results]) -> list[Column]:
    """Paper columns first; per-condition and fused columns only when some result has them."""
    low = {"lower_is_better": True}
    cols = [
        _col("G-mIoU", "global", "g_miou"), _col("G-F", "global", "g_f"),
        _col("G-FPR", "global", "g_fpr", percent=False, **low),
        _col("mIoU (pos)", "positive", "miou"), _col("F (pos)", "positive", "f_score"),
        _col("mIoU (neg)", "negative", "miou", **low), _col("F (neg)", "negative", "f_score", **low),
        _col("FPR (neg)", "negative", "fpr", **low),
    ]
    present = {c for r in results for c in r.conditions}
    for cond in NEGATIVE_CONDITIONS:
        if cond in present:
            cols += [_col(f"mIoU ({cond.value})", cond.value, "miou", **low),
                     _col(f"F ({cond.value})", cond.value, "f_score", **low),
                     _col(f"FPR ({cond.value})", cond.value, "fpr", **low)]
    if Condition.FUSED in present:
        cols += [_col("mIoU (fused)", "fused", "miou"), _col("F (fused)", "fused", "f_score")]
    return cols


def _fmt(value: "float | None", col: Column, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.{digits}f}" if col.percent else f"{value:.{digits + 1}f}"


def _cell(r: Results, col: Column, digits: int, intervals: bool) -> str:
    text = _fmt(col.get(r), col, digits)
    iv = col.interval(r) if intervals else None
    if iv is None or text == "-":
        return text
    return f"{text} [{_fmt(iv[0], col, digits)}, {_fmt(iv[1], col, digits)}]"


def table_data(results: Sequence[Results], names: Sequence[str] | None = None, digits: int = 2,
               intervals: bool = False) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted rows (first column: the row name); `intervals` adds "[low, high]" to each cell."""
    names = list(names) if names is not None else [_default_name(r) for r in results]
    if len(names) != len(results):
        raise ValueError("one name per result is needed")
    cols = columns(results)
    headers = ["model"] + [c.header for c in cols]
    rows = [[name + (f" [{LEAKY_LABEL}]" if is_leaky(r) else "")] + [_cell(r, c, digits, intervals) for c in cols]
            for name, r in zip(names, results)]
    return headers, rows


def is_leaky(r: Results) -> bool:
    """Scored on negatives from the authors' feature pipeline (separable by statistics alone, SPEC)."""
    return (r.provenance or {}).get("negative_features") == LEAKY_NEGATIVE_FEATURES


def _default_name(r: Results) -> str:
    batch = f" B={r.batch_size}" if r.batch_size else ""
    return f"{r.subset.value} {r.split or ''} {r.protocol}{batch}".replace("  ", " ").strip()


def render(results: "Results | Sequence[Results]", fmt: str = "table", names: Sequence[str] | None = None,
           digits: int = 2, intervals: bool = False) -> str:
    """Render one or several Results side by side in `fmt` (table, markdown, csv, latex).

    `intervals`: each cell also shows its bootstrap interval "[low, high]" (results that carry them);
    the interval settings are stated once below the table (as a comment line in csv and latex).
    """
    items = [results] if isinstance(results, Results) else list(results)
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    headers, rows = table_data(items, names, digits=4 if fmt == "csv" else digits, intervals=intervals)
    text = {"table": _plain, "markdown": _markdown, "csv": _csv, "latex": _latex}[fmt](headers, rows)
    note = interval_note(items) if intervals else ""
    if note:
        text += {"table": "", "markdown": "\n", "csv": "# ", "latex": "% "}[fmt] + note + "\n"
    return text


def interval_note(results: Sequence[Results]) -> str:
    """One sentence stating how the intervals were obtained (or that some results have none)."""
    settings = {(iv["level"], iv["unit"], iv["resamples"], iv["seed"]) for r in results if (iv := r.intervals)}
    missing = sum(1 for r in results if not r.intervals)
    parts = [f"{100 * level:g}% percentile bootstrap intervals over {unit}s ({n} resamples, seed {seed})"
             for level, unit, n, seed in sorted(settings)]
    if missing:
        parts.append(f"{missing} result(s) carry no intervals")
    return "; ".join(parts)


def _widths(headers: list[str], rows: list[list[str]]) -> list[int]:
    return [max(len(x) for x in col) for col in zip(headers, *rows)]


def _plain(headers: list[str], rows: list[list[str]]) -> str:
    w = _widths(headers, rows)
    line = lambda cells: "  ".join(c.ljust(w[0]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(cells))  # noqa: E731
    return "\n".join([line(headers), "  ".join("-" * x for x in w), *map(line, rows)]) + "\n"


def _markdown(headers: list[str], rows: list[list[str]]) -> str:
    w = _widths(headers, rows)
    cell = lambda cells: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cells)) + " |"  # noqa: E731
    rule = "|" + "|".join((":" + "-" * (x + 1)) if i == 0 else ("-" * (x + 1) + ":") for i, x in enumerate(w)) + "|"
    return "\n".join([cell(headers), rule, *map(cell, rows)]) + "\n"


def _csv(headers: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([[("" if c == "-" else c) for c in r] for r in rows])
    return buf.getvalue()


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def _latex(headers: list[str], rows: list[list[str]]) -> str:
    spec = "l" + "r" * (len(headers) - 1)
    out = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule", " & ".join(map(_tex, headers)) + r" \\", "\\midrule"]
    out += [" & ".join(map(_tex, r)) + r" \\" for r in rows]
    out += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(out) + "\n"


def render_frames(results: Sequence[Results], names: Sequence[str], level: str, fmt: str = "table",
                  digits: int = 2) -> str:
    """`Results.to_dataframe(level)` of several results stacked (first column: the name), in `fmt`.

    mIoU and F in percent, FPR as a fraction (csv: fractions, full precision)."""
    import pandas as pd

    frames = []
    for name, r in zip(names, results):
        df = r.to_dataframe(level).reset_index()
        df.insert(0, "model", name)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    if fmt == "csv":
        return df.to_csv(index=False, lineterminator="\n")

    def cell(col: str, v: object) -> str:
        if isinstance(v, float):
            if v != v:  # NaN: e.g. F of a video without a non-empty GT frame
                return "-"
            if col.startswith(("miou", "f_score")):
                return f"{100 * v:.{digits}f}"
            return f"{v:.{digits + 2}f}"
        return str(v)

    headers = [str(c) for c in df.columns]
    rows = [[cell(c, v) for c, v in zip(headers, row)] for row in df.itertuples(index=False)]
    return {"table": _plain, "markdown": _markdown, "latex": _latex}[fmt](headers, rows)
