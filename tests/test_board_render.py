"""Paper tables, leaderboard rendering, escaping and determinism (pure functions over real entries)."""
from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import pytest

from avsbench_robust.board import paper
from avsbench_robust.board.entries import Entry
from avsbench_robust.board.html import render_html
from avsbench_robust.board.leaderboard import render_all, render_csv, render_markdown
from avsbench_robust.board.rows import g_metric, row_from_entry
from avsbench_robust.board.tables import recompute, render_table
from avsbench_robust.board.text import csv_cell, latex, md

HOSTILE = "<script>alert(1)</script>"


def _paper_rows():
    rows = []
    for r in paper.PAPER_ROWS:
        entry = Entry(name=paper.entry_name(r), path=Path("."), metadata=paper.metadata_for(r),
                      results=paper.results_for(r))
        rows.append(row_from_entry(entry))
    return rows


def test_fractions_are_exact_conversions() -> None:
    assert paper.to_fraction("78.7", "percent") == 0.787
    assert paper.to_fraction("0.186", "fraction") == 0.186
    doc = paper.results_for(paper.PAPER_ROWS[0])
    assert doc["conditions"]["unseen"] == {"miou": 0.7822, "f_score": 0.8752, "fpr": 0.1869}
    assert "offscreen" not in doc["conditions"]  # the paper's Unseen Audio is its own condition
    assert doc["global"] == {"g_miou": 0.35032, "g_f": 0.21479, "g_fpr": 0.186}


def test_table1_prints_every_paper_number() -> None:
    text = render_table(_paper_rows(), "1", "markdown")
    for r in paper.PAPER_ROWS:
        if r.table != "1":
            continue
        printed = " | ".join(f"**{v}**" if k in r.bold else v for (k, _), v in zip(paper.TABLE1_COLUMNS, r.printed))
        assert f"| {md(r.label)} | {printed} |" in text, r.label
    assert text.count("| CAVP (Chen et al. 2024) | 33.526") == 2  # printed twice in the paper's S4 block
    assert "**87.672**" in text and "**86.2**" in text  # bold kept


def test_table1_recomputes_beside_printed() -> None:
    tpavi = dict(zip([k for k, _ in paper.TABLE1_COLUMNS], paper.PAPER_ROWS[0].printed))
    rec = recompute(tpavi)
    assert rec.g_miou == pytest.approx(g_metric(0.787, 0.7822))
    assert rec.g_miou == pytest.approx(0.34118, abs=1e-5)  # printed 35.032: does not follow
    assert not rec.g_miou_reachable
    cavp = dict(zip([k for k, _ in paper.TABLE1_COLUMNS], paper.PAPER_ROWS[4].printed))
    assert recompute(cavp).g_miou_reachable and recompute(cavp).g_f_reachable


def test_table2_and_latex() -> None:
    rows = _paper_rows()
    t2 = render_table(rows, "2", "markdown")
    assert "| Stepping-Stones (Ma et al. 2024) | 49.10 | 48.03 | 0.184 |" in t2
    lx = render_table(rows, "1", "latex")
    assert r"\multirow{11}{*}{AVSBench-S4}" in lx and r"\textbf{87.672}" in lx and r"\multirow{9}{*}{AVSBench-MS3}" in lx


def test_escaping_everywhere() -> None:
    assert "<" not in md(HOSTILE) and "&lt;script&gt;" in md(HOSTILE)
    assert md("a|b") == r"a\|b"
    assert latex("50% & $x_1$") == r"50\% \& \$x\_1\$"
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("@SUM") == "'@SUM" and csv_cell(0.5) == 0.5
    row = dataclasses.replace(_paper_rows()[0], model=HOSTILE, name="evil", backbone="=cmd|' /C calc'!A0",
                              notes=HOSTILE)
    page = render_html([row])
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # only the page's own script
    assert HOSTILE not in render_markdown([row])
    cells = list(csv.reader(io.StringIO(render_csv([row]))))[1]
    assert "'=cmd|' /C calc'!A0" in cells


def test_html_is_self_contained() -> None:
    import re

    page = render_html(_paper_rows())
    # links to papers and code are the only URLs: plain <a href>, nothing the page would load
    stripped = re.sub(r'<a href="https?://[^"]+" rel="noopener noreferrer">', "", page)
    stripped = stripped.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for needle in ("http://", "https://", "src=", "@import", "url("):
        assert needle not in stripped, needle
    assert page.count('rel="noopener noreferrer"') >= len({r.code for r in paper.PAPER_ROWS if r.code})
    assert "Content-Security-Policy" in page and "<svg" in page and 'id="submit"' in page


def test_page_is_compact_ranked_and_marks_status() -> None:
    import re

    rows = _paper_rows()
    scored = dataclasses.replace(rows[0], name="copied-synthetic", source="scored", protocol="canonical",
                                 model="Copied", has_predictions=False, g_miou=0.99)
    page = render_html(rows + [scored])
    s4 = page.split('id="sec-s4-avsbench"')[1].split("</section>")[0]
    main_table = s4.split('id="t-s4-avsbench"')[1].split("</table>")[0]
    self_table = s4.split('id="t-s4-avsbench-self"')[1].split("</table>")[0]
    assert "copied-synthetic" not in main_table and "copied-synthetic" in self_table  # never ranked with verified
    assert "Self-reported (no predictions shipped, not re-scored by ci)" in s4
    heads = re.findall(r"<th [^>]*>(?:<button type=\"button\">)?([^<]+)", main_table)
    assert heads == ["#", "Model", "Backbone", "G-mIoU %", "G-F %", "G-FPR", "pos mIoU %", "pos F %", "Date",
                     "Status", "More"]
    assert '<a href="https://arxiv.org/abs/2502.00358" rel="noopener noreferrer">TPAVI (CGSL' in main_table
    # the AVSS paper rows print no positive mIoU: no chart rather than an empty one
    avss = page.split('id="sec-avss-avsbench"')[1].split("</section>")[0]
    assert "<svg" not in avss and "<table" in avss


def test_output_is_deterministic_and_sorted() -> None:
    rows = _paper_rows()
    a, b = render_all(rows), render_all(list(reversed(rows)))
    assert a == b
    md_text = a["README.md"].decode()
    s4 = md_text.split("## S4")[1].split("##")[0]
    firsts = [ln.split(" | ")[0] for ln in s4.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert firsts == [f"| {i}" for i in range(1, 11)]
    assert s4.index("paper-s4-tpavi-ours") < s4.index("paper-s4-sama-avs") < s4.index("paper-s4-vct")
