"""The embedded default dataset: a synthetic AVSBench tree generated once into a cache folder."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Iterator

import click

from ..errors import InputFileError
from ..io_utils import make_temp_dir
from . import synthetic

DEFAULT_SEED = 0


def home() -> Path:
    """`$AVSB_ROBUST_HOME`, else the user's cache folder (`$XDG_CACHE_HOME` or ~/.cache)."""
    env = os.environ.get("AVSB_ROBUST_HOME")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "avsbench-robust"


@contextlib.contextmanager
def _generation_lock(folder: Path, name: str) -> Iterator[None]:
    """One generating process at a time per cached tree (an advisory lock the OS drops if we are killed)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, and so no clean-up of other runs' temp folders either
        yield
        return
    with open(folder / f".{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def stale_temps(folder: Path, name: str) -> list[Path]:
    """Temp folders an interrupted first-run generation left behind (only safe to delete under the lock)."""
    return sorted(p for p in folder.glob(f".{name}.*") if p.is_dir() and not p.is_symlink())


def synthetic_root(seed: int = DEFAULT_SEED, videos: int = synthetic.DEFAULT_VIDEOS, binary_only: bool = False) -> Path:
    """Path of the embedded synthetic dataset (or of the seed/videos one a dataset name asks for, see
    `dataset_root`), generating it on first use (atomically: temp dir + rename). `binary_only` writes
    S4 and MS3 only (their clips are the same bytes either way), for the trees reference entries use.

    Generation holds a lock, so concurrent first runs generate once; whoever holds it first removes
    the temp folders of runs that were killed half-way, so none stays in the cache for ever.
    """
    name = f"synthetic-v1-seed{seed}-videos{videos}" + ("-s4-ms3" if binary_only else "")
    target = home() / name
    if (target / synthetic.MARKER).is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(target.parent, f"cannot create the cache folder ({exc.strerror or exc}); "
                                            "set AVSB_ROBUST_HOME to a writable folder") from None
    with _generation_lock(target.parent, name):
        if (target / synthetic.MARKER).is_file():  # a concurrent run finished while we waited
            return target
        for stale in stale_temps(target.parent, name):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = make_temp_dir(target.parent, f".{name}.")
        try:
            synthetic.generate(tmp, ["s4", "ms3"] if binary_only else "all", videos, seed)
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


SYNTHETIC_DATASET = re.compile(r"synthetic(?:-seed(\d{1,6})-videos(\d{1,3}))?")


def synthetic_dataset_name(seed: int, videos: int) -> str:
    """The entry `dataset` of a synthetic tree: "synthetic" (the embedded default) or synthetic-seedS-videosN."""
    return "synthetic" if (seed, videos) == (DEFAULT_SEED, synthetic.DEFAULT_VIDEOS) else f"synthetic-seed{seed}-videos{videos}"


def dataset_root(dataset: str) -> Path | None:
    """The generated tree a synthetic entry was scored on (same seed -> same bytes); None for other datasets.
    Named trees are written with S4 and MS3 only (reference entries are binary), which keeps `ci` quick."""
    m = SYNTHETIC_DATASET.fullmatch(dataset)
    if m is None:
        return None
    if m.group(1) is None:
        return synthetic_root()
    return synthetic_root(int(m.group(1)), int(m.group(2)), binary_only=True)  # entries are S4/MS3 only


def dataset_kind(root: "str | Path") -> str:
    """The entry `dataset` of a GT root: a tree written by the toolkit's generator (it leaves its marker file
    with seed and videos) is `synthetic_dataset_name(seed, videos)`, anything else 'avsbench'."""
    marker = Path(root) / synthetic.MARKER
    if not marker.is_file():
        return "avsbench"
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
        return synthetic_dataset_name(int(info["seed"]), int(info["videos"]))
    except (OSError, ValueError, KeyError, TypeError):
        return "synthetic"


def recorded_root(value: "str | None") -> "Path | None":
    """The GT root a results document records (`provenance.gt_root`), when it names a folder here: a path
    relative to the working directory, or `<synthetic>/NAME` under the toolkit's cache; None otherwise."""
    if not value:
        return None
    if value.startswith("<synthetic>"):
        path = home() / value[len("<synthetic>"):].lstrip("/")
    elif value.startswith("<"):
        return None  # recorded by folder name only
    else:
        path = Path(value)
    return path.resolve() if path.is_dir() else None
