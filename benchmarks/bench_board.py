"""Time the leaderboard pipeline on the committed submissions: load+validate, render, full `ci`.

Usage: .venv/bin/python benchmarks/bench_board.py [submissions/] [leaderboard/]
Prints seconds per stage (best of 3). Re-scoring uses the embedded synthetic set (generated once).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from avsbench_robust.board.ci import run_ci
from avsbench_robust.board.entries import load_entries
from avsbench_robust.board.leaderboard import render_all
from avsbench_robust.board.rows import row_from_entry
from avsbench_robust.data.default import synthetic_root


def best(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    subs = Path(sys.argv[1] if len(sys.argv) > 1 else "submissions")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "leaderboard")
    root = synthetic_root()
    report = load_entries(subs)
    rows = [row_from_entry(e) for e in report.entries]
    print(f"entries: {len(report.entries)} ok, {len(report.problems)} broken")
    print(f"load+validate  {best(lambda: load_entries(subs)):.3f} s")
    print(f"render 3 files {best(lambda: render_all(rows)):.3f} s")
    print(f"ci (no rescore){best(lambda: run_ci(subs, out, lambda d: root, rescore=False)):.3f} s")
    print(f"ci (full)      {best(lambda: run_ci(subs, out, lambda d: root)):.3f} s")


if __name__ == "__main__":
    main()
