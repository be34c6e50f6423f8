"""Paper Table 1 (S4, MS3) and Table 2 (AVSS) rebuilt from the `source: paper` entries (pure).

Printed numbers are reproduced verbatim (same digits, same bold). Beside them: the G-metrics
recomputed from the printed columns, and whether the printed G-value is reachable at all given the
rounding of those columns (an interval check, so a rounding difference is never called a mismatch).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..errors import ValidationError
from ..types import Subset
from .paper import TABLE1_COLUMNS, TABLE2_COLUMNS, to_fraction
from .rows import BoardRow, g_metric
from .text import latex, md

TEST_SET = {Subset.S4: "AVSBench-S4", Subset.MS3: "AVSBench-MS3", Subset.AVSS: "AVSBench-Semantic"}
HEADERS = {
    "g_miou": "G-mIoU↑", "g_f": "G-F↑", "g_fpr": "G-FPR↓", "pos_miou": "mIoU↑", "pos_f": "F-score↑",
    "unseen_miou": "mIoU↓", "unseen_f": "F-score↓", "unseen_fpr": "FPR↓",
}
LATEX_HEADERS = {
    "g_miou": r"G-mIoU$\uparrow$", "g_f": r"G-F$\uparrow$", "g_fpr": r"G-FPR$\downarrow$",
    "pos_miou": r"mIoU$\uparrow$", "pos_f": r"F-score$\uparrow$", "unseen_miou": r"mIoU$\downarrow$",
    "unseen_f": r"F-score$\downarrow$", "unseen_fpr": r"FPR$\downarrow$",
}


@dataclass(frozen=True)
class AddedRow:
    """A user's scored result placed under the paper's rows, printed with the paper's precision.

    `unseen` is the condition shown in the 'Unseen Audio' columns (the paper's single negative condition,
    filed under `unseen` when the results have it, else `offscreen`); its G-metrics are the results' own
    (over the pooled negatives)."""

    subset: Subset
    label: str
    printed: dict[str, str]
    unseen: str | None


def added_row(results: dict, name: str, table: str, dataset: str) -> AddedRow:
    """Format a results document (fractions) as a Table 1 / Table 2 row; ValidationError if it does not fit."""
    subset = Subset.parse(results.get("subset", ""))
    want = (Subset.S4, Subset.MS3) if table == "1" else (Subset.AVSS,)
    glob = results.get("global")
    problems = []
    if subset not in want:
        problems.append(f"{name}: a {subset.value} result belongs in Table {'2' if table == '1' else '1'}")
    if not glob:
        problems.append(f"{name}: no global metrics (score positive and negative conditions)")
    conds = results.get("conditions") or {}
    unseen = next((c for c in ("unseen", "offscreen") if c in conds), None)
    if table == "1" and (unseen is None or "positive" not in conds):
        problems.append(f"{name}: Table 1 needs the positive and the offscreen (or unseen) conditions")
    if problems:
        raise ValidationError(f"Table {table} --add", problems)
    if table == "2":
        printed = {"g_miou": f"{100 * glob['g_miou']:.2f}", "g_f": f"{100 * glob['g_f']:.2f}",
                   "g_fpr": f"{glob['g_fpr']:.3f}"}
    else:
        pos, neg = conds["positive"], conds[unseen]
        printed = {"g_miou": f"{100 * glob['g_miou']:.3f}", "g_f": f"{100 * glob['g_f']:.3f}",
                   "g_fpr": f"{glob['g_fpr']:.3f}", "pos_miou": f"{100 * pos['miou']:.1f}",
                   "pos_f": f"{100 * pos['f_score']:.1f}", "unseen_miou": f"{100 * neg['miou']:.2f}",
                   "unseen_f": f"{100 * neg['f_score']:.2f}", "unseen_fpr": f"{100 * neg['fpr']:.2f}"}
    where = "synthetic set, not comparable" if dataset.startswith("synthetic") else "scored"
    return AddedRow(subset, f"{name} ({where})", printed, unseen if table == "1" else None)


@dataclass(frozen=True)
class Recomputed:
    g_miou: float
    g_f: float
    g_fpr: float
    g_miou_reachable: bool
    g_f_reachable: bool


def _bounds(printed: str, unit: str) -> tuple[float, float]:
    """The interval a printed value stands for: +/- half a unit in its last printed digit."""
    d = Decimal(printed)
    half = Decimal(1).scaleb(d.as_tuple().exponent) / 2
    lo, hi = str(max(d - half, Decimal(0))), str(d + half)
    return to_fraction(lo, unit), to_fraction(hi, unit)


def _reachable(printed_g: str, pos: str, neg: str) -> bool:
    """Can any pair of values that round to the printed columns give a G that rounds to the printed G?"""
    p_lo, p_hi = _bounds(pos, "percent")
    n_lo, n_hi = _bounds(neg, "percent")
    g_lo, g_hi = g_metric(p_lo, n_hi), g_metric(p_hi, min(n_lo, 1.0))  # G rises with pos, falls with neg
    t_lo, t_hi = _bounds(printed_g, "percent")
    return g_lo is not None and g_hi is not None and g_lo <= t_hi + 1e-12 and t_lo <= g_hi + 1e-12


def recompute(printed: dict[str, str]) -> Recomputed | None:
    """G-metrics from Table 1's printed positive and unseen columns (None for Table 2: no columns)."""
    if "pos_miou" not in printed:
        return None
    f = {k: to_fraction(v, unit) for (k, unit) in TABLE1_COLUMNS for v in [printed[k]]}
    return Recomputed(
        g_miou=g_metric(f["pos_miou"], f["unseen_miou"]) or 0.0,
        g_f=g_metric(f["pos_f"], f["unseen_f"]) or 0.0,
        g_fpr=f["unseen_fpr"],
        g_miou_reachable=_reachable(printed["g_miou"], printed["pos_miou"], printed["unseen_miou"]),
        g_f_reachable=_reachable(printed["g_f"], printed["pos_f"], printed["unseen_f"]),
    )


def _paper_rows(rows: list[BoardRow], table: str) -> list[tuple[int, BoardRow]]:
    """(row position, row) in the paper's order; a row printed twice appears twice."""
    subsets = (Subset.S4, Subset.MS3) if table == "1" else (Subset.AVSS,)
    out = []
    for subset in subsets:
        mine = [r for r in rows if r.transcription and r.transcription["table"] == table and r.subset is subset]
        placed = sorted((pos, r.name, r) for r in mine for pos in r.transcription["rows"])
        positions = [p for p, _, _ in placed]
        if len(set(positions)) != len(positions):
            raise ValidationError(f"Table {table}", [f"two paper entries claim the same row of {subset.value}"])
        out += [(p, r) for p, _, r in placed]
    if not out:
        raise ValidationError(f"Table {table}", ["no `source: paper` entries for this table in the submissions"])
    return out


def _check(ok: bool) -> str:
    return "yes" if ok else "NO"


def table1_markdown(rows: list[BoardRow], added: tuple[AddedRow, ...] = ()) -> str:
    cols = [k for k, _ in TABLE1_COLUMNS]
    head = ["Test set", "Model", *(HEADERS[k] for k in cols), "G-mIoU (recomp.)", "G-F (recomp.)",
            "unseen FPR as fraction", "G-mIoU reachable?", "G-F reachable?"]
    lines = [
        "Table 1 as printed in the paper (Global metric | Positive audio input | Unseen Audio), then the",
        "G-metrics recomputed from the printed columns (SPEC §5: the authors aggregated by hand; neither is",
        "corrected). 'Unseen Audio' is ONE negative condition (off-screen sound from classes outside",
        "AVSBench), so the printed G-FPR (mean over three conditions) differs from its FPR. 'reachable?' =",
        "could columns that round to the printed ones give the printed G at all.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * 2 + "---:|" * (len(head) - 2),
    ]
    placed = _paper_rows(rows, "1")
    for subset in (Subset.S4, Subset.MS3):
        first = True
        for _, row in [(p, r) for p, r in placed if r.subset is subset]:
            printed = row.transcription["printed"]
            bold = set(row.transcription["bold"])
            rec = recompute(printed)
            cells = [md(TEST_SET[subset]) if first else "", md(row.transcription["label"])]
            cells += [f"**{md(printed[k])}**" if k in bold else md(printed[k]) for k in cols]
            cells += [f"{100 * rec.g_miou:.3f}", f"{100 * rec.g_f:.3f}", f"{rec.g_fpr:.4f}",
                      _check(rec.g_miou_reachable), _check(rec.g_f_reachable)]
            first = False
            lines.append("| " + " | ".join(cells) + " |")
        for row in (a for a in added if a.subset is subset):
            rec = recompute(row.printed)
            cells = [md(TEST_SET[subset]) if first else "", f"*{md(row.label)}*"]
            cells += [md(row.printed[k]) for k in cols]
            cells += [f"{100 * rec.g_miou:.3f}", f"{100 * rec.g_f:.3f}", f"{rec.g_fpr:.4f}", "–", "–"]
            first = False
            lines.append("| " + " | ".join(cells) + " |")
    if added:
        lines += ["", _added_note(added)]
    return "\n".join(lines) + "\n"


def _added_note(added: tuple[AddedRow, ...]) -> str:
    unseen = sorted({a.unseen for a in added if a.unseen})
    text = ("Rows in italics were added with --add: scored by avsb-robust, printed with the paper's precision; "
            "their G-metrics are over the pooled negatives N (every negative condition scored)")
    if unseen:
        text += f", their 'Unseen Audio' columns show our {' / '.join(unseen)} condition"
    return text + "."


def table2_markdown(rows: list[BoardRow], added: tuple[AddedRow, ...] = ()) -> str:
    cols = [k for k, _ in TABLE2_COLUMNS]
    lines = [
        "Table 2 as printed in the paper (AVSBench-Semantic). Only global metrics are printed, so nothing",
        "can be recomputed from it.",
        "",
        "| Model | " + " | ".join(HEADERS[k] for k in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for _, row in _paper_rows(rows, "2"):
        printed, bold = row.transcription["printed"], set(row.transcription["bold"])
        cells = [md(row.transcription["label"])] + [f"**{md(printed[k])}**" if k in bold else md(printed[k])
                                                    for k in cols]
        lines.append("| " + " | ".join(cells) + " |")
    for row in added:
        lines.append("| " + " | ".join([f"*{md(row.label)}*"] + [md(row.printed[k]) for k in cols]) + " |")
    if added:
        lines += ["", _added_note(added)]
    return "\n".join(lines) + "\n"


def _lx(value: str, bold: bool) -> str:
    return rf"\textbf{{{latex(value)}}}" if bold else latex(value)


def table1_latex(rows: list[BoardRow], added: tuple[AddedRow, ...] = ()) -> str:
    cols = [k for k, _ in TABLE1_COLUMNS]
    placed = _paper_rows(rows, "1")
    out = [
        r"\begin{table*}[t]",
        r"\centering",
        r"\begin{tabular}{ll" + "r" * len(cols) + "|rrr}",
        r"\toprule",
        (r"Test set & Model & \multicolumn{3}{c}{Global metric} & \multicolumn{2}{c}{Positive audio input} & "
        r"\multicolumn{3}{c|}{Unseen Audio} & \multicolumn{3}{c}{Recomputed} \\"),
        " & & " + " & ".join(LATEX_HEADERS[k] for k in cols) + r" & G-mIoU & G-F & FPR \\",
        r"\midrule",
    ]
    for subset in (Subset.S4, Subset.MS3):
        block = [r for _, r in placed if r.subset is subset]
        extra = [a for a in added if a.subset is subset]
        for i, row in enumerate(block):
            printed, bold = row.transcription["printed"], set(row.transcription["bold"])
            rec = recompute(printed)
            first = rf"\multirow{{{len(block) + len(extra)}}}{{*}}{{{latex(TEST_SET[subset])}}}" if i == 0 else ""
            cells = [first, latex(row.transcription["label"])] + [_lx(printed[k], k in bold) for k in cols]
            cells += [f"{100 * rec.g_miou:.3f}", f"{100 * rec.g_f:.3f}", f"{rec.g_fpr:.4f}"]
            out.append(" & ".join(cells) + r" \\")
        for row in extra:
            rec = recompute(row.printed)
            cells = ["", rf"\textit{{{latex(row.label)}}}"] + [latex(row.printed[k]) for k in cols]
            cells += [f"{100 * rec.g_miou:.3f}", f"{100 * rec.g_f:.3f}", f"{rec.g_fpr:.4f}"]
            out.append(" & ".join(cells) + r" \\")
        out.append(r"\midrule" if subset is Subset.S4 else r"\bottomrule")
    out += [
        r"\end{tabular}",
        (r"\caption{Table 1 of the paper as printed; right: G-metrics recomputed from the printed columns. "
        r"Unseen Audio is one negative condition (off-screen sound from classes outside AVSBench).}"),
        r"\end{table*}",
    ]
    return "\n".join(out) + "\n"


def table2_latex(rows: list[BoardRow], added: tuple[AddedRow, ...] = ()) -> str:
    cols = [k for k, _ in TABLE2_COLUMNS]
    out = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * len(cols) + "}", r"\toprule",
           "Model & " + " & ".join(LATEX_HEADERS[k] for k in cols) + r" \\", r"\midrule"]
    for _, row in _paper_rows(rows, "2"):
        printed, bold = row.transcription["printed"], set(row.transcription["bold"])
        out.append(" & ".join([latex(row.transcription["label"])] + [_lx(printed[k], k in bold) for k in cols])
                   + r" \\")
    for row in added:
        out.append(" & ".join([rf"\textit{{{latex(row.label)}}}"] + [latex(row.printed[k]) for k in cols]) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}",
            r"\caption{Summary of AVSBench-Semantic (AVSS) performance, as printed in the paper.}", r"\end{table}"]
    return "\n".join(out) + "\n"


def render_table(rows: list[BoardRow], table: str, fmt: str, added: tuple[AddedRow, ...] = ()) -> str:
    renderers = {("1", "markdown"): table1_markdown, ("1", "latex"): table1_latex,
                 ("2", "markdown"): table2_markdown, ("2", "latex"): table2_latex}
    return renderers[(table, fmt)](rows, tuple(added))
