"""Provenance that can be published: no machine paths in results, run records or submission commands.

A path is written relative to a stated base (the working directory of the run) when it lies inside it,
as `<synthetic>/NAME` for the embedded synthetic dataset, and otherwise as `<NAME>` (the folder's name
only; digests identify the content). Commands keep their arguments but lose the machine part of any
absolute path. `machine_paths` finds what slipped through, so `ci` can refuse it.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: What provenance paths are relative to (stated in the documents that carry them).
PATH_BASE = "working directory of the run; outside it only <folder name>; <synthetic> = the embedded dataset"
#: What `predict` leaves in PRED (hidden: the scorer ignores dotfiles; PRED holds only condition folders).
PREDICT_JSON = ".avsb-predict.json"
#: The front end of the negatives, as the build's manifest names it; "authors" marks every result "leaky".
LEAKY_NEGATIVE_FEATURES = "authors"
LEAKY_LABEL = "authors' pipeline (leaky)"
_RECORD_MAX_BYTES = 1 << 20


def negative_features_of(pred_dir: "str | Path") -> "str | None":
    """Which front end made the negatives `predict` was fed ("vggish" / "authors"), from PRED's own record.

    The record is plain JSON and only a hint: absent, oversized, a link or unreadable means unknown (None)."""
    record = Path(pred_dir) / PREDICT_JSON
    try:
        if record.is_symlink() or not record.is_file() or record.stat().st_size > _RECORD_MAX_BYTES:
            return None
        import json

        info = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    value = info.get("build_negative_features") if isinstance(info, dict) else None
    return value if value in ("vggish", LEAKY_NEGATIVE_FEATURES) else None

_ABSOLUTE = re.compile(r"(?:^|[\s=:;'\"(,])(?:/(?!/)[^\s;'\")]+|~/[^\s;'\")]*|[A-Za-z]:[\\/][^\s;'\")]*)")


def portable_path(path: "str | Path | None", base: "str | Path | None" = None) -> "str | None":
    """`path` as a string that names no machine: relative to `base` (default: cwd) or a placeholder."""
    if path is None:
        return None
    from .data.default import home

    p = Path(os.path.abspath(Path(path).expanduser()))
    for root, label in ((Path(os.path.abspath(home())), "<synthetic>"),):
        if p == root or root in p.parents:
            rel = p.relative_to(root).as_posix()
            return label if rel == "." else f"{label}/{rel}"
    base_p = Path(os.path.abspath(Path(base) if base is not None else Path.cwd()))
    if base_p != Path(base_p.anchor) and (p == base_p or base_p in p.parents):
        return p.relative_to(base_p).as_posix() or "."
    return f"<{p.name or 'root'}>"


def portable_command(command: str) -> str:
    """A shell command with every absolute path replaced: the CLI itself by `avsb-robust`, others by `<NAME>`."""
    def token(tok: str) -> str:
        if not _looks_absolute(tok):
            return tok
        name = Path(tok).name
        return name if name in ("avsb-robust", "python", "python3", "torchrun") else f"<{name}>"

    out = []
    for part in re.split(r"(\s+|;)", command):
        out.append(token(part) if part.strip() and part != ";" else part)
    return "".join(out)


def _looks_absolute(text: str) -> bool:
    return text.startswith(("/", "~/")) or bool(re.match(r"^[A-Za-z]:[\\/]", text))


def machine_paths(doc: Any, where: str = "") -> Iterator[str]:
    """`key: value` for every string in a JSON document that holds an absolute path (or ~/...)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from machine_paths(v, f"{where}.{k}" if where else str(k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from machine_paths(v, f"{where}[{i}]")
    elif isinstance(doc, str) and _ABSOLUTE.search(doc) and not _is_url_only(doc):
        yield f"{where}: {doc[:80]}"


def _is_url_only(text: str) -> bool:
    """URLs (https://...) are not machine paths; strip them and look again."""
    stripped = re.sub(r"[a-z][a-z0-9+.-]*://\S+", "", text)
    return not _ABSOLUTE.search(stripped)

