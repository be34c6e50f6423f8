"""The CLI run in-process, as the user would see it: exit code, stdout and stderr, never a traceback."""
from __future__ import annotations

import pytest

from avsbench_robust.cli import main


def run(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    """`avsb-robust ARGS` in-process: (exit code, stdout, stderr); an escaping exception fails the test."""
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    except BaseException as exc:  # what the user would see as a traceback
        pytest.fail(f"avsb-robust {' '.join(map(str, args))} raised {type(exc).__name__}: {exc}")
    out, err = capsys.readouterr()
    return code, out, err
