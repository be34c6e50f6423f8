"""Tables follow the paper's Table 1 column order, in percent, in every format."""
from __future__ import annotations

import csv
import io

import pytest

from avsbench_robust.report import render
from avsbench_robust.results import GlobalMetrics, Metrics, Results
from avsbench_robust.types import Condition, Subset


def _results(with_negative=True) -> Results:
    conds = {Condition.POSITIVE: Metrics(0.787, 0.879, 0.2, 10)}
    neg = None
    glob = None
    if with_negative:
        conds[Condition.SILENCE] = Metrics(0.7822, 0.8752, 0.1869, 10)
        neg = Metrics(0.7822, 0.8752, 0.1869, 10)
        glob = GlobalMetrics(0.35032, 0.21479, 0.1869)
    return Results(subset=Subset.S4, protocol="canonical", batch_size=None, conditions=conds,
                   negative=neg, global_=glob, split="test")


def test_terminal_table_order_and_units():
    text = render(_results(), "table", names=["TPAVI"])
    header, _, row = text.splitlines()
    cols = header.split()
    assert cols[:4] == ["model", "G-mIoU", "G-F", "G-FPR"]
    assert header.index("mIoU (pos)") < header.index("F (pos)") < header.index("mIoU (neg)") \
        < header.index("F (neg)") < header.index("FPR (neg)") < header.index("mIoU (silence)")
    cells = row.split()
    assert cells[:9] == ["TPAVI", "35.03", "21.48", "0.187", "78.70", "87.90", "78.22", "87.52", "18.69"]


def test_markdown_csv_latex():
    res = [_results(), _results(with_negative=False)]
    md = render(res, "markdown", names=["a", "b"])
    assert md.splitlines()[1].startswith("|:") and md.count("\n") == 4
    rows = list(csv.reader(io.StringIO(render(res, "csv", names=["a", "b"]))))
    assert rows[0][1] == "G-mIoU" and rows[1][1] == "35.0320" and rows[2][1] == ""  # missing -> empty cell
    tex = render(res, "latex", names=["a_b", "c"])
    assert r"\toprule" in tex and r"a\_b" in tex and tex.count(r"\\") == 3
    with pytest.raises(ValueError, match="format"):
        render(res, "html")
