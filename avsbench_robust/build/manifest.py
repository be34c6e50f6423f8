"""The build manifest: schema-checked on write and on read, and `verify` that re-hashes every listed file.

The manifest is the tree's checksum list and provenance record: toolkit version, recipe, seed, and per
clip and condition the source clip (offscreen), fallback flag, duration, rate, input adjustments and
the sha256 of each file. It has no timestamps or absolute paths, so identical builds give identical bytes.
"""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ..errors import ValidationError
from ..io_utils import atomic_write_text, read_json, sha256_file
from ..schemas import schema_problems
from .layout import JOURNAL_DIR, MANIFEST_NAME

FORMAT = "avsbench-robust-build"
FORMAT_VERSION = 1
SCHEMA = "manifest.schema.json"


def dumps(manifest: dict) -> str:
    """Canonical text (sorted keys, fixed indent, trailing newline): equal content -> equal bytes."""
    return json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def consistency_problems(manifest: dict) -> list[str]:
    """What the schema cannot say: every clip has every condition, offscreen names a listed clip, no duplicates."""
    problems = []
    conditions = set(manifest["conditions"])
    seen: set[tuple[str, str]] = set()
    listed = {(c["split"], c["video"]) for c in manifest["clips"]}
    paths: set[str] = set()
    for clip in manifest["clips"]:
        key = (clip["split"], clip["video"])
        name = f"clip {clip['split']}/{clip['video']}"
        if key in seen:
            problems.append(f"{name} is listed twice")
        seen.add(key)
        if set(clip["outputs"]) != conditions:
            problems.append(f"{name} has conditions {sorted(clip['outputs'])}, expected {sorted(conditions)}")
        off = clip["outputs"].get("offscreen")
        if off is not None:
            if "source_video" not in off:
                problems.append(f"{name}: offscreen output has no source_video")
            elif (clip["split"], off["source_video"]) not in listed or off["source_video"] == clip["video"]:
                problems.append(f"{name}: offscreen source {off['source_video']!r} is not another listed clip")
        un = clip["outputs"].get("unseen")
        if un is not None and "pool_file" not in un:
            problems.append(f"{name}: unseen output has no pool_file")
        for out in clip["outputs"].values():
            for p in (out["wav"], out["features"], out.get("pkl")):
                if p is None:
                    continue
                if p in paths:
                    problems.append(f"{name}: file {p} is listed twice")
                paths.add(p)
        if bool(manifest["pkl"]) != all("pkl" in o for o in clip["outputs"].values()):
            problems.append(f"{name}: pkl files {'missing' if manifest['pkl'] else 'listed'} but pkl={manifest['pkl']}")
    return problems


def check_manifest(manifest: object, what: str) -> dict:
    problems = schema_problems(manifest, SCHEMA)
    if not problems:
        problems = consistency_problems(manifest)  # type: ignore[arg-type]
    if problems:
        raise ValidationError(what, problems)
    return manifest  # type: ignore[return-value]


def write_manifest(out: Path, manifest: dict) -> Path:
    path = Path(out) / MANIFEST_NAME
    check_manifest(manifest, f"manifest about to be written to {path}")
    atomic_write_text(path, dumps(manifest))
    return path


def read_manifest(out: str | Path) -> dict:
    path = Path(out) / MANIFEST_NAME
    doc = read_json(path, "no build manifest here (is this the OUT folder of `avsb-robust build`?)")
    return check_manifest(doc, str(path))


def listed_files(manifest: dict) -> Iterator[tuple[str, str]]:
    """(relative path, sha256) of every file the manifest lists."""
    for clip in manifest["clips"]:
        for out in clip["outputs"].values():
            yield out["wav"], out["wav_sha256"]
            yield out["features"], out["features_sha256"]
            if "pkl" in out:
                yield out["pkl"], out["pkl_sha256"]


def _walk(out: Path) -> tuple[dict[str, Path], list[str]]:
    """Every regular file under OUT (relative POSIX path -> path), never following a symlink; problems for
    symlinks, special files and unreadable folders anywhere in the tree."""
    files: dict[str, Path] = {}
    problems: list[str] = []

    def unreadable(exc: OSError) -> None:
        problems.append(f"unreadable folder {exc.filename} ({exc.strerror or exc})")

    for dirpath, dirs, names in os.walk(out, onerror=unreadable):
        here = Path(dirpath)
        if here == out and JOURNAL_DIR in dirs:
            dirs.remove(JOURNAL_DIR)  # reported below as an unfinished build
        for name in sorted(dirs + names):
            path = here / name
            rel = path.relative_to(out).as_posix()
            try:
                st = os.lstat(path)
            except OSError as exc:
                problems.append(f"unreadable {path} ({exc.strerror or exc})")
                continue
            if stat.S_ISLNK(st.st_mode):
                problems.append(f"symlink {path} (-> {os.readlink(path)}): a built tree holds only regular files")
            elif stat.S_ISREG(st.st_mode):
                files[rel] = path
            elif not stat.S_ISDIR(st.st_mode):
                problems.append(f"not a regular file: {path}")
    return files, problems


def verify(out: str | Path) -> list[str]:
    """Every problem of a built tree: missing, drifted (sha256) and unlisted files, symlinks and special
    files anywhere under OUT; empty when intact. Only files found inside OUT are ever hashed."""
    out = Path(out)
    manifest = read_manifest(out)
    listed = dict(listed_files(manifest))
    found, problems = _walk(out)
    for rel, digest in listed.items():
        path = found.get(rel)
        if path is None:
            if not (out / rel).is_symlink():  # a symlink in its place is already reported
                problems.append(f"missing {out / rel}")
        elif sha256_file(path) != digest:
            problems.append(f"drifted {path} (sha256 differs from the manifest)")
    for rel in sorted(set(found) - set(listed) - {MANIFEST_NAME}):
        problems.append(f"unlisted {found[rel]}")
    if (out / JOURNAL_DIR).exists():
        problems.append(f"unfinished build: {out / JOURNAL_DIR} is still there (rerun the build to complete it)")
    return problems
