"""List a prediction folder without trusting it: symlinks must stay inside, only regular files count."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Listing:
    """Regular files under a folder as POSIX relpaths, plus what was refused and why."""

    files: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _resolve(path: Path) -> "Path | None":
    """The real path, or None for a symlink loop (RuntimeError before Python 3.13, OSError after)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return None


def scan_tree(folder: Path, root: Path) -> Listing:
    """Walk `folder` (which lies in `root`, already resolved), following symlinks only within `root`.

    Hidden entries (name starting with '.') are skipped: editors and file browsers leave them.
    """
    out = Listing()
    # Each entry carries the real paths of its ancestors: a link back up the tree is a loop,
    # while two links to one folder (e.g. silence/ -> positive/ for an audio-blind model) are fine.
    # The real path of a folder reached without a link is its parent's real path plus its name, so only
    # the top folder and symlinks are resolved (a few syscalls each, thousands of folders in a big PRED).
    stack: list[tuple[Path, str, frozenset[Path], "Path | None"]] = [(folder, "", frozenset(), _resolve(folder))]
    while stack:
        here, rel, ancestors, real = stack.pop()
        if real is None or real in ancestors:
            out.problems.append(f"{here}: symlink loop")
            continue
        ancestors = ancestors | {real}
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError as exc:
            out.problems.append(f"{here}: cannot list folder ({exc.strerror or exc})")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel_path = f"{rel}{entry.name}"
            target = real / entry.name
            if entry.is_symlink():
                target = _resolve(Path(entry.path))
                if target is None:
                    out.problems.append(f"{entry.path}: symlink loop (or a link that cannot be resolved)")
                    continue
                if not _inside(target, root):
                    out.problems.append(f"{entry.path}: symlink leaves the prediction folder (-> {target})")
                    continue
                if not target.exists():
                    out.problems.append(f"{entry.path}: broken symlink")
                    continue
            if entry.is_dir(follow_symlinks=True):
                stack.append((Path(entry.path), rel_path + "/", ancestors, target))
            elif entry.is_file(follow_symlinks=True):
                out.files.add(rel_path)
            else:
                out.problems.append(f"{entry.path}: not a regular file")
    return out
