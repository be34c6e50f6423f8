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

from .results import Metrics, Results
from .types import NEGATIVE_CONDITIONS, Condition

FORMATS: tuple[str, ...] = ("table", "markdown", "csv", "latex")


@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[Results], "float | None"]
    percent: bool = True
    lower_is_better: bool = False


def _cond(cond: Condition, attr: str) -> Callable[[Results], "float | None"]:
    def get(r: Results) -> "float | None":
        m: Metrics | None = r.conditions.get(cond)
        return None if m is None else getattr(m, attr)
    return get


def _neg(attr: str) -> Callable[[Results], "float | None"]:
    return lambda r: None if r.negative is None else getattr(r.negative, attr)


def _glob(attr: str) -> Callable[[Results], "float | None"]:
    return lambda r: None if r.global_ is None else getattr(r.global_, attr)


def columns(results: Sequence[Results]) -> list[Column]:
    """Paper columns first; per-condition and fused columns only when some result has them."""
    cols = [
        Column("G-mIoU", _glob("g_miou")), Column("G-F", _glob("g_f")),
        Column("G-FPR", _glob("g_fpr"), percent=False, lower_is_better=True),
        Column("mIoU (pos)", _cond(Condition.POSITIVE, "miou")), Column("F (pos)", _cond(Condition.POSITIVE, "f_score")),
        Column("mIoU (neg)", _neg("miou"), lower_is_better=True), Column("F (neg)", _neg("f_score"), lower_is_better=True),
        Column("FPR (neg)", _neg("fpr"), lower_is_better=True),
    ]
    present = {c for r in results for c in r.conditions}
    for cond in NEGATIVE_CONDITIONS:
        if cond in present:
            cols += [Column(f"mIoU ({cond.value})", _cond(cond, "miou"), lower_is_better=True),
                     Column(f"F ({cond.value})", _cond(cond, "f_score"), lower_is_better=True),
                     Column(f"FPR ({cond.value})", _cond(cond, "fpr"), lower_is_better=True)]
    if Condition.FUSED in present:
        cols += [Column("mIoU (fused)", _cond(Condition.FUSED, "miou")),
                 Column("F (fused)", _cond(Condition.FUSED, "f_score"))]
    return cols


def _fmt(value: "float | None", col: Column, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.{digits}f}" if col.percent else f"{value:.{digits + 1}f}"


def table_data(results: Sequence[Results], names: Sequence[str] | None = None, digits: int = 2
               ) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted rows (first column: the row name)."""
    names = list(names) if names is not None else [_default_name(r) for r in results]
    if len(names) != len(results):
        raise ValueError("one name per result is needed")
    cols = columns(results)
    headers = ["model"] + [c.header for c in cols]
    rows = [[name] + [_fmt(c.get(r), c, digits) for c in cols] for name, r in zip(names, results)]
    return headers, rows


def _default_name(r: Results) -> str:
    batch = f" B={r.batch_size}" if r.batch_size else ""
    return f"{r.subset.value} {r.split or ''} {r.protocol}{batch}".replace("  ", " ").strip()


def render(results: "Results | Sequence[Results]", fmt: str = "table", names: Sequence[str] | None = None,
           digits: int = 2) -> str:
    """Render one or several Results in `fmt` (table, markdown, csv, latex)."""
    items = [results] if isinstance(results, Results) else list(results)
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    headers, rows = table_data(items, names, digits=4 if fmt == "csv" else digits)
    return {"table": _plain, "markdown": _markdown, "csv": _csv, "latex": _latex}[fmt](headers, rows)


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
