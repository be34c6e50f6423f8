"""Errors the CLI turns into one clear line and a non-zero exit (never `sys.exit` in library code).

Exit codes (README "Errors and exit codes"): 0 ok; 1 a runtime or I/O error (a missing or unreadable
file, a missing dependency); 2 invalid input or usage (bad options, problems found by validation).
"""
from __future__ import annotations

from pathlib import Path

from .safetext import safe_text


class AVSBRobustError(Exception):
    """Base class: anything the user can fix by changing input or options."""

    exit_code = 1


#: The install command for the pinned CPU torch (the `torch` extra pins the same version).
TORCH_HINT = "pip install torch==2.13.0"


class MissingDependencyError(AVSBRobustError):
    """An optional dependency (torch) is not installed; the message says how to install it."""


class DatasetLayoutError(AVSBRobustError):
    """The AVSBench root (or a file in it) is not shaped as SPEC §1 says: invalid input, exit 2."""

    exit_code = 2


class InputFileError(AVSBRobustError):
    """A specific file is missing, unreadable or has the wrong content: invalid input, exit 2."""

    exit_code = 2

    def __init__(self, path: "str | Path", problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{safe_text(path)}: {safe_text(problem, 2000)}")


class ValidationError(AVSBRobustError):
    """A set of problems found before computing anything (predictions, submissions, manifests)."""

    exit_code = 2

    def __init__(self, what: str, problems: list[str], shown: int = 20) -> None:
        self.problems = list(problems)
        # each problem is one line's worth of text: names in it cannot forge lines or flood the log
        head = "; ".join(safe_text(p, 600) for p in self.problems[:shown])
        more = f" (+{len(self.problems) - shown} more)" if len(self.problems) > shown else ""
        super().__init__(f"{safe_text(what)}: {len(self.problems)} problem(s): {head}{more}")
