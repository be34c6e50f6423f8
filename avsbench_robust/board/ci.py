"""`avsb-robust ci`: everything a maintainer checks before merging a submission, as one function.

1. every entry loads (schema, required files, sizes, safe paths, no pickles, unique names);
2. the paper's rows equal the transcription in `paper.py` byte for byte;
3. scored/reference entries are internally consistent (G-metrics follow from their columns);
4. entries that ship predictions re-score to their results.json within 1e-6;
5. the generated leaderboard files equal what `avsb-robust leaderboard` would write now.
Problems are collected per entry (one line each), never raised one at a time.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AVSBRobustError
from ..safetext import safe_text
from .entries import DEFAULT_LIMITS, Entry, Limits, load_entries
from .leaderboard import OUTPUT_FILES, render_all
from .paper import PAPER_PREFIX, paper_documents
from .rows import consistency_problems, row_from_entry

TOLERANCE = 1e-6


@dataclass
class CIReport:
    checked: int = 0
    entry_names: set[str] = field(default_factory=set)
    rescored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, problem: str) -> None:
        self.problems.setdefault(name, []).append(problem)

    @property
    def ok(self) -> bool:
        return not self.problems


def _paper_drift(submissions: Path, report: CIReport) -> None:
    for name, files in sorted(paper_documents().items()):
        folder = submissions / name
        if not folder.is_dir():
            report.add(name, "paper entry missing (restore it with `python -m avsbench_robust.board.paper submissions/`)")
            continue
        for fname, text in sorted(files.items()):
            path = folder / fname
            if path.is_file() and not path.is_symlink() and path.read_bytes() != text.encode("utf-8"):
                report.add(name, f"{fname} differs from the transcription in avsbench_robust/board/paper.py")
    for folder in sorted(submissions.glob(PAPER_PREFIX + "*")):
        if folder.name not in paper_documents():
            report.add(folder.name, f"the '{PAPER_PREFIX}' prefix is reserved for the transcribed paper rows")


def _rescore(entry: Entry, root_for: Callable[[str], Path | None], limits: Limits, report: CIReport) -> None:
    from .rescore import compare_results, rescore_entry  # the scorer stack loads only when needed

    root = root_for(entry.metadata["dataset"])
    if root is None:
        report.skipped.append(f"{safe_text(entry.name)}: ships predictions on AVSBench; pass --root to re-score them")
        return
    try:
        fresh = rescore_entry(entry, root, limits)
    except AVSBRobustError as exc:
        report.add(entry.name, f"re-scoring failed: {exc}")
        return
    diffs = compare_results(entry.results, fresh, TOLERANCE)
    if diffs:
        more = f" (+{len(diffs) - 3} more)" if len(diffs) > 3 else ""
        report.add(entry.name, f"re-scored results differ from results.json by more than {TOLERANCE}: "
                               f"{'; '.join(diffs[:3])}{more}")
    else:
        report.rescored.append(entry.name)


def stale_files(entries: list[Entry], out: Path) -> list[str]:
    """Generated files that are missing or differ from what the current entries give."""
    rendered = render_all([row_from_entry(e) for e in entries])
    stale = []
    for fname in OUTPUT_FILES:
        path = out / fname
        if not path.is_file() or path.is_symlink() or path.read_bytes() != rendered[fname]:
            stale.append(fname)
    return stale


def run_ci(submissions: Path, leaderboard_dir: Path, root_for: Callable[[str], Path | None],
           rescore: bool = True, limits: Limits = DEFAULT_LIMITS) -> CIReport:
    """All checks; `root_for(dataset)` gives the GT root to re-score against (None: cannot re-score)."""
    report = CIReport()
    loaded = load_entries(submissions, limits)
    report.entry_names = {e.name for e in loaded.entries} | set(loaded.problems) | set(paper_documents())
    # a paper entry that is missing is still an entry CI checked (and found broken)
    report.checked = len(report.entry_names)
    for name, errs in loaded.problems.items():
        for err in errs:
            report.add(name, err)
    _paper_drift(submissions, report)
    for entry in loaded.entries:
        try:
            for problem in consistency_problems(row_from_entry(entry), TOLERANCE):
                report.add(entry.name, problem)
            if rescore and entry.predictions and entry.name not in report.problems:
                _rescore(entry, root_for, limits, report)
        except Exception as exc:  # hostile content must give this entry a FAIL line, not end the run
            report.add(entry.name, f"check crashed ({type(exc).__name__}: {safe_text(exc, 200)})")
    if loaded.problems:
        report.add("leaderboard", "not checked for staleness: fix the broken entries first")
    else:
        stale = stale_files(loaded.entries, leaderboard_dir)
        if stale:
            report.add(str(leaderboard_dir), f"stale or missing: {', '.join(stale)}; regenerate with "
                                             f"`avsb-robust leaderboard --submissions {submissions} --out {leaderboard_dir}`")
    return report
