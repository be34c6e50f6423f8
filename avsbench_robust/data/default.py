"""The embedded default dataset: a synthetic AVSBench tree generated once into a cache folder."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator

import click

from ..errors import InputFileError
from ..io_utils import make_temp_dir
from . import synthetic

DEFAULT_SEED = 0
CACHE_NAME = f"synthetic-v1-seed{DEFAULT_SEED}-videos{synthetic.DEFAULT_VIDEOS}"


def home() -> Path:
    """`$AVSB_ROBUST_HOME`, else the user's cache folder (`$XDG_CACHE_HOME` or ~/.cache)."""
    env = os.environ.get("AVSB_ROBUST_HOME")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "avsbench-robust"


@contextlib.contextmanager
def _generation_lock(folder: Path) -> Iterator[None]:
    """One generating process at a time per cache folder (an advisory lock the OS drops if we are killed)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, and so no clean-up of other runs' temp folders either
        yield
        return
    with open(folder / f".{CACHE_NAME}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def stale_temps(folder: Path) -> list[Path]:
    """Temp folders an interrupted first-run generation left behind (only safe to delete under the lock)."""
    return sorted(p for p in folder.glob(f".{CACHE_NAME}.*") if p.is_dir() and not p.is_symlink())


def synthetic_root() -> Path:
    """Path of the embedded synthetic dataset, generating it on first use (atomically: temp dir + rename).

    Generation holds a lock, so concurrent first runs generate once; whoever holds it first removes
    the temp folders of runs that were killed half-way, so none stays in the cache for ever.
    """
    target = home() / CACHE_NAME
    if (target / synthetic.MARKER).is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(target.parent, f"cannot create the cache folder ({exc.strerror or exc}); "
                                            "set AVSB_ROBUST_HOME to a writable folder") from None
    with _generation_lock(target.parent):
        if (target / synthetic.MARKER).is_file():  # a concurrent run finished while we waited
            return target
        for stale in stale_temps(target.parent):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = make_temp_dir(target.parent, f".{CACHE_NAME}.")
        try:
            synthetic.generate(tmp, "all", synthetic.DEFAULT_VIDEOS, DEFAULT_SEED)
            if target.exists():  # an incomplete tree (no marker) from an older toolkit: replace it
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_root(root: "str | Path | None", announce: bool = True) -> Path:
    """`root` itself, or the embedded synthetic dataset (saying so on stderr) when none is given."""
    if root is not None:
        return Path(root).expanduser().resolve()
    path = synthetic_root()
    if announce:
        click.echo(f"note: no --root given; using the embedded synthetic AVSBench dataset at {path}", err=True)
    return path
