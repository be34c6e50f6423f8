"""The embedded default dataset: a synthetic AVSBench tree generated once into a cache folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import click

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


def synthetic_root() -> Path:
    """Path of the embedded synthetic dataset, generating it on first use (atomically: temp dir + rename)."""
    target = home() / CACHE_NAME
    if (target / synthetic.MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(target.parent, f".{CACHE_NAME}.")
    try:
        synthetic.generate(tmp, "all", synthetic.DEFAULT_VIDEOS, DEFAULT_SEED)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / synthetic.MARKER).is_file():  # a concurrent run finished first otherwise
                raise
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


def dataset_kind(root: "str | Path") -> str:
    """'synthetic' for a tree written by the toolkit's generator (it leaves its marker file), else 'avsbench'."""
    return "synthetic" if (Path(root) / synthetic.MARKER).is_file() else "avsbench"


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
