"""Data shipped with the toolkit: build recipes and taxonomy (`builders/`), reference models (`reference/`).

Both folders sit at the repository top level; a wheel carries copies inside the package
(`avsbench_robust/_builders/`, `avsbench_robust/_reference/`, written by setup.py), so every command
works from an installed wheel as from a checkout. The packaged copy wins when both exist.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def shipped_dir(name: str) -> "Path | None":
    """The shipped data folder `name` ('builders' or 'reference'): in the package, else in the checkout."""
    for candidate in (PACKAGE / f"_{name}", CHECKOUT / name):
        if candidate.is_dir():
            return candidate
    return None


def reference_models() -> dict[str, Path]:
    """Name -> folder of every reference model shipped with the toolkit (`predict --checkpoint NAME`)."""
    folder = shipped_dir("reference")
    if folder is None:
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if (p / "checkpoint.json").is_file()}


def resolve_checkpoint(checkpoint: "str | Path") -> Path:
    """A run folder or weights file as given, else the shipped reference model of that name."""
    path = Path(checkpoint)
    if path.exists():
        return path
    shipped = reference_models()
    if str(checkpoint) in shipped:
        return shipped[str(checkpoint)]
    from .errors import InputFileError

    names = ", ".join(shipped) or "none shipped"
    raise InputFileError(path, f"no such run folder, and not a shipped reference model ({names})")
