"""Load leaderboard entries safely: entries are data from strangers.

No pickles, no code, no network. Every file an entry may hold is named by an allow-list, every path
stays inside its entry folder (no `..`, no absolute paths, no symlinks, no special files), every
file and every array is size-capped before it is read, and JSON is parsed strictly (no NaN, no
duplicate keys). Problems are collected per entry so `ci` can print one line for each broken entry.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import numpy as np

from ..errors import ValidationError
from ..predictions.bounded import (
    ArrayProblem,
    NpyHeader,
    check_size,
    member_problem,
    open_npz,
    read_member,
    read_npy_header,
)
from ..safetext import safe_text
from ..schemas import load_schema
from ..types import SCORED_CONDITIONS, Condition

METADATA = "metadata.json"
RESULTS = "results.json"
ENTRY_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
SUBMISSIONS_README = "README.md"  # the only plain file allowed at the top of submissions/
ALLOWED_ARRAY_KINDS = {"b": "bool", "u": "unsigned int", "f": "float"}


@dataclass(frozen=True)
class Limits:
    """Size caps; generous for real AVSBench test predictions, small enough to keep a repo sane."""

    metadata_bytes: int = 64 * 1024
    results_bytes: int = 2 * 1024 * 1024
    npz_bytes: int = 48 * 1024 * 1024
    entry_bytes: int = 160 * 1024 * 1024
    npz_members: int = 20_000
    npz_uncompressed_bytes: int = 768 * 1024 * 1024
    array_bytes: int = 64 * 1024 * 1024
    max_frames: int = 10
    max_side: int = 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Entry:
    """A validated entry: its folder name, parsed metadata and results, and prediction files by condition."""

    name: str
    path: Path
    metadata: dict
    results: dict
    predictions: dict[Condition, Path] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.metadata["source"]


@dataclass
class LoadReport:
    """All entries that loaded, and the problems of those that did not (entry name -> problems)."""

    entries: list[Entry]
    problems: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------- schemas


def submission_schema() -> dict:
    return load_schema("submission.schema.json")


def _schema_problems(doc: Any, schema: dict, what: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        problems.append(f"{what}: {where}: {_short(err.message)}")
    return problems


def metadata_problems(doc: Any) -> list[str]:
    return _schema_problems(doc, submission_schema(), METADATA)


def transcribed_results_problems(doc: Any) -> list[str]:
    full = submission_schema()
    schema = {**full["$defs"]["transcribed_results"], "$defs": full["$defs"]}
    return _schema_problems(doc, schema, RESULTS)


def scored_results_problems(doc: Any) -> list[str]:
    """Check against the scorer's results schema, plus the keys the board reads."""
    problems = _schema_problems(doc, load_schema("results.schema.json"), RESULTS)
    if not isinstance(doc, dict):
        return problems or [f"{RESULTS}: not a JSON object"]
    if doc.get("transcribed"):
        problems.append(f"{RESULTS}: marked as transcribed but the entry's source is not 'paper'")
    for key in ("subset", "split", "protocol", "conditions", "negative", "global"):
        if key not in doc:
            problems.append(f"{RESULTS}: missing '{key}'")
    conds = doc.get("conditions")
    if isinstance(conds, dict):
        for c in (n.value for n in SCORED_CONDITIONS):  # unseen is optional: scored only where built
            if not isinstance(conds.get(c), dict):
                problems.append(f"{RESULTS}: conditions.{c} missing")
    problems += _numbers_problems(doc)
    return _dedupe(problems)


def _numbers_problems(doc: dict) -> list[str]:
    """The fields the board displays must be finite fractions in [0, 1]."""
    problems = []
    for path in _board_number_paths(doc):
        value = _get(doc, path)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or not 0 <= value <= 1:
            problems.append(f"{RESULTS}: {'.'.join(path)} must be a fraction in [0, 1], got {_short(repr(value))}")
    return problems


def _board_number_paths(doc: dict) -> Iterator[tuple[str, ...]]:
    for key in ("g_miou", "g_f", "g_fpr"):
        yield ("global", key)
    for key in ("miou", "f_score", "fpr"):
        yield ("negative", key)
    conds = doc.get("conditions")
    if isinstance(conds, dict):
        for c in sorted(k for k in conds if isinstance(k, str)):
            for key in ("miou", "f_score", "fpr"):
                yield ("conditions", c, key)


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


# ---------------------------------------------------------------- strict JSON


class _JSONProblem(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _JSONProblem(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> None:
    raise _JSONProblem(f"{name} is not allowed (use null)")


#: Digits an integer in an entry's JSON may have (counts and sizes need far fewer; Python refuses > 4,300).
MAX_INT_DIGITS = 30


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _JSONProblem(f"integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JSONProblem(f"number {text[:40]} overflows a float")
    return value


def parse_json_bytes(data: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys, no huge numbers; raises _JSONProblem with the reason."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _JSONProblem(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants,
                          parse_int=_bounded_int, parse_float=_finite_float)
    except _JSONProblem:
        raise
    except json.JSONDecodeError as exc:
        raise _JSONProblem(f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise _JSONProblem("JSON nested too deeply") from None
    except ValueError as exc:  # anything else the decoder refuses (its own integer-size limit among them)
        raise _JSONProblem(f"invalid JSON ({_short(str(exc))})") from None


def _read_json(path: Path, cap: int, label: str, problems: list[str]) -> Any:
    size = path.lstat().st_size
    if size > cap:
        problems.append(f"{label}: {size} bytes, over the {cap}-byte limit")
        return None
    try:
        return parse_json_bytes(path.read_bytes())
    except _JSONProblem as exc:
        problems.append(f"{label}: {exc}")
        return None


# ---------------------------------------------------------------- paths


def relative_path_problem(rel: str) -> str | None:
    """Why a path written in an entry cannot be used (None when it is a plain relative path)."""
    if not isinstance(rel, str) or not rel:
        return "empty path"
    if "\\" in rel or "\x00" in rel:
        return "backslashes and NUL are not allowed in paths"
    p = PurePosixPath(rel)
    if p.is_absolute() or re.match(r"^[A-Za-z]:", rel):
        return "absolute paths are not allowed"
    if any(part in ("..", ".") for part in rel.split("/")) or "//" in rel or rel.endswith("/"):
        return "'..', '.' and empty path segments are not allowed"
    return None


def _walk_tree(entry_dir: Path, limits: Limits, problems: list[str]) -> dict[str, int]:
    """Relative POSIX path -> size of every regular file; symlinks and special files are problems."""
    files: dict[str, int] = {}
    stack = [entry_dir]
    while stack:
        folder = stack.pop()
        try:
            children = sorted(os.scandir(folder), key=lambda d: d.name)
        except OSError as exc:
            problems.append(f"{folder.relative_to(entry_dir).as_posix() or '.'}: unreadable folder ({exc.strerror})")
            continue
        for child in children:
            rel = Path(child.path).relative_to(entry_dir).as_posix()
            st = os.lstat(child.path)
            if stat.S_ISLNK(st.st_mode):
                problems.append(f"{rel}: symlinks are not allowed")
            elif stat.S_ISDIR(st.st_mode):
                stack.append(Path(child.path))
            elif stat.S_ISREG(st.st_mode):
                files[rel] = st.st_size
            else:
                problems.append(f"{rel}: not a regular file")
    total = sum(files.values())
    if total > limits.entry_bytes:
        problems.append(f"entry holds {total} bytes, over the {limits.entry_bytes}-byte limit")
    return files


# ---------------------------------------------------------------- predictions (.npz)


def npz_problems(path: Path, limits: Limits = DEFAULT_LIMITS, label: str | None = None) -> list[str]:
    """Inspect a .npz without unpickling or decompressing it wholesale: members, headers, sizes, dtypes."""
    label = label or path.name
    size = path.lstat().st_size
    if size > limits.npz_bytes:
        return [f"{label}: {size} bytes, over the {limits.npz_bytes}-byte limit"]
    problems: list[str] = []
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if not infos:
                return [f"{label}: holds no arrays"]
            if len(infos) > limits.npz_members:
                return [f"{label}: {len(infos)} arrays, over the {limits.npz_members}-array limit"]
            names = [i.filename for i in infos]
            if len(set(names)) != len(names):
                return [f"{label}: the archive holds two members with the same name"]
            declared = sum(i.file_size for i in infos)
            if declared > limits.npz_uncompressed_bytes:
                return [f"{label}: {declared} bytes uncompressed, over the {limits.npz_uncompressed_bytes}-byte limit"]
            for info in infos:
                problems += _member_problems(zf, info, limits, label)
                if len(problems) >= 5:
                    break
    except zipfile.BadZipFile as exc:
        return [f"{label}: not a valid .npz/zip archive ({_short(str(exc))})"]
    except Exception as exc:  # a hostile archive must give a problem line, whatever zipfile raises
        return [f"{label}: unreadable ({type(exc).__name__}: {_short(str(exc))})"]
    return problems


def _member_problems(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, label: str) -> list[str]:
    name = info.filename
    if info.is_dir() or not name.endswith(".npy") or "/" in name or "\\" in name or name.startswith("."):
        return [f"{label}: member {_short(repr(name))} is not a plain .npy array (np.savez_compressed writes only those)"]
    key = name[:-4]
    if info.file_size > limits.array_bytes:
        return [f"{label}: array {key!r} is {info.file_size} bytes, over the {limits.array_bytes}-byte limit"]
    why = member_problem(info)
    if why:
        return [f"{label}: array {key!r} {why}"]
    try:
        with zf.open(info) as fp:
            header = read_npy_header(fp)
            header_len = fp.tell()
    except ArrayProblem as exc:
        return [f"{label}: array {key!r}: {_short(str(exc))}"]
    except Exception as exc:  # zipfile/zlib raise many types for a damaged member
        return [f"{label}: array {key!r} is unreadable ({type(exc).__name__}: {_short(str(exc))})"]
    dtype, shape = header.dtype, header.shape
    if dtype.kind not in ALLOWED_ARRAY_KINDS or dtype.itemsize > 4:
        return [f"{label}: array {key!r} has dtype {dtype}; use uint8, bool, float16 or float32"]
    if len(shape) != 3:
        return [f"{label}: array {key!r} has shape {shape}; expected [T, H, W]"]
    t, h, w = shape
    if not 1 <= t <= limits.max_frames or not (1 <= h <= limits.max_side and 1 <= w <= limits.max_side):
        return [(f"{label}: array {key!r} has shape {shape}; at most {limits.max_frames} frames of "
                f"{limits.max_side}x{limits.max_side}")]
    if info.file_size != header_len + header.nbytes:  # the data itself is checked again when it is read
        return [f"{label}: array {key!r}: header says shape {list(shape)} {dtype} ({header.nbytes} bytes) but the "
                f"member holds {info.file_size - header_len} bytes of data"]
    return []


def _entry_array_check(limits: Limits) -> "Callable[[NpyHeader], None]":
    def check(header: NpyHeader) -> None:
        if header.dtype.kind not in ALLOWED_ARRAY_KINDS or len(header.shape) != 3:
            raise ArrayProblem(f"shape {list(header.shape)} {header.dtype}; expected [T, H, W] bool/uint8/float")
        check_size(header, limits.array_bytes)

    return check


def iter_npz(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (key, array) of a .npz that passed `npz_problems`; one bounded array in memory at a time, never a pickle.

    The data is read through the same bounded reader as the scorer's: a member whose data disagrees
    with its header is a ValidationError naming it, whatever the archive claims.
    """
    try:
        zf = open_npz(str(path), limits.npz_members)
        with zf:
            infos = sorted((i for i in zf.infolist() if i.filename.endswith(".npy")), key=lambda i: i.filename)
            for info in infos:
                yield info.filename[:-4], read_member(zf, info, _entry_array_check(limits))
    except ArrayProblem as exc:
        raise ValidationError(str(path), [str(exc)]) from None


# ---------------------------------------------------------------- one entry


def check_entry(entry_dir: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[Entry | None, list[str]]:
    """Validate one entry folder; returns (entry or None, problems). Never raises on bad content."""
    name = entry_dir.name
    problems: list[str] = []
    if not ENTRY_NAME.match(name):
        problems.append("folder name must be lowercase letters, digits, '.', '_' or '-' (at most 80, "
                        "starting with a letter or digit)")
    if entry_dir.is_symlink():
        return None, problems + ["the entry folder is a symlink"]
    files = _walk_tree(entry_dir, limits, problems)
    for required in (METADATA, RESULTS):
        if required not in files and not (entry_dir / required).is_symlink():
            problems.append(f"missing {required}")
    if problems:
        return None, problems
    meta = _read_json(entry_dir / METADATA, limits.metadata_bytes, METADATA, problems)
    results = _read_json(entry_dir / RESULTS, limits.results_bytes, RESULTS, problems)
    if problems:
        return None, problems
    problems += metadata_problems(meta)
    if problems:
        return None, problems
    source = meta["source"]
    problems += transcribed_results_problems(results) if source == "paper" else scored_results_problems(results)
    if problems:
        return None, problems
    problems += _agreement_problems(meta, results)
    problems += _machine_path_problems(meta, results)
    predictions = _prediction_paths(entry_dir, meta, files, limits, problems)
    allowed = {METADATA, RESULTS, *(p.relative_to(entry_dir).as_posix() for p in predictions.values())}
    for rel in sorted(set(files) - allowed):
        problems.append(f"{rel}: unexpected file (allowed: {METADATA}, {RESULTS} and the .npz files listed "
                        f"in metadata.predictions)")
    if problems:
        return None, problems
    return Entry(name=name, path=entry_dir, metadata=meta, results=results, predictions=predictions), []


def _machine_path_problems(meta: dict, results: dict) -> list[str]:
    """Published provenance names no machine: absolute paths (users' home folders) are refused."""
    from ..provenance import machine_paths

    found = [f"{fname} {hit}" for fname, doc in ((METADATA, meta), (RESULTS, results)) for hit in machine_paths(doc)]
    return [f"absolute machine path in {hit} (write paths relative to the run, or `avsb-robust` / placeholders)"
            for hit in found[:3]]


def _agreement_problems(meta: dict, results: dict) -> list[str]:
    problems = []
    for key in ("subset", "split", "protocol"):
        if str(results.get(key)) != str(meta[key]):
            problems.append(f"{RESULTS}: {key} is {_short(repr(results.get(key)))} but {METADATA} says {meta[key]!r}")
    if meta["source"] != "paper":
        if results.get("toolkit_version") is not None and results.get("toolkit_version") != meta["toolkit_version"]:
            problems.append(f"{RESULTS}: toolkit_version {_short(repr(results.get('toolkit_version')))} but "
                            f"{METADATA} says {meta['toolkit_version']!r}")
        if meta.get("batch_size") is not None and results.get("batch_size") != meta["batch_size"]:
            problems.append(f"{RESULTS}: batch_size {_short(repr(results.get('batch_size')))} but {METADATA} "
                            f"says {meta['batch_size']!r}")
        prov = results.get("provenance")
        scored_on = prov.get("dataset") if isinstance(prov, dict) else None
        if scored_on is not None and scored_on != meta["dataset"]:  # e.g. synthetic numbers relabelled as AVSBench
            problems.append(f"{RESULTS}: scored on the {_short(repr(scored_on))} dataset but {METADATA} says "
                            f"{meta['dataset']!r}")
    return problems


def _prediction_paths(entry_dir: Path, meta: dict, files: dict[str, int], limits: Limits,
                      problems: list[str]) -> dict[Condition, Path]:
    out: dict[Condition, Path] = {}
    root = entry_dir.resolve()
    for cond_name, rel in sorted((meta.get("predictions") or {}).items()):
        label = f"{METADATA}: predictions.{cond_name}"
        why = relative_path_problem(rel)
        if why:
            problems.append(f"{label}: {_short(repr(rel))}: {why}")
            continue
        full = entry_dir / rel
        if rel not in files:
            problems.append(f"{label}: {rel} does not exist in the entry (or is not a regular file)")
            continue
        if not full.resolve().is_relative_to(root):  # belt and braces after the symlink walk
            problems.append(f"{label}: {rel} leaves the entry folder")
            continue
        problems += npz_problems(full, limits, label=rel)
        out[Condition.parse(cond_name)] = full
    if len(set(out.values())) != len(out):
        problems.append(f"{METADATA}: predictions: two conditions point at the same file")
    return out


# ---------------------------------------------------------------- all entries


def identity(meta: dict) -> tuple[str, ...]:
    """What makes two entries the same row: normalised case and whitespace."""
    def norm(v: Any) -> str:
        return " ".join(str(v or "").split()).casefold()

    return tuple(norm(meta.get(k)) for k in ("subset", "split", "dataset", "model", "variant", "backbone", "source",
                                              "protocol"))


def load_entries(submissions: Path, limits: Limits = DEFAULT_LIMITS) -> LoadReport:
    """Every entry folder under `submissions`; a missing folder is an error, a broken entry is a problem."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValidationError(str(submissions), ["submissions folder not found"])
    entries: list[Entry] = []
    problems: dict[str, list[str]] = {}
    for child in sorted(submissions.iterdir(), key=lambda p: p.name):
        if child.name == SUBMISSIONS_README and child.is_file() and not child.is_symlink():
            continue
        if child.is_symlink() or not child.is_dir():
            problems[child.name] = ["not an entry folder (symlink or stray file)"]
            continue
        entry, errs = _checked(child, limits)
        if errs:
            problems[child.name] = errs
        elif entry is not None:
            entries.append(entry)
    seen: dict[tuple[str, ...], str] = {}
    for entry in entries:
        key = identity(entry.metadata)
        if key in seen:
            problems.setdefault(entry.name, []).append(
                f"duplicate of entry '{seen[key]}' (same subset, split, dataset, model, variant, backbone, source, "
                f"protocol); update that entry instead")
        else:
            seen[key] = entry.name
    good = [e for e in entries if e.name not in problems]
    return LoadReport(entries=good, problems=problems)


def _checked(entry_dir: Path, limits: Limits) -> tuple[Entry | None, list[str]]:
    """`check_entry`, with anything it raises on hostile content turned into a problem of that entry."""
    try:
        return check_entry(entry_dir, limits)
    except RecursionError:
        return None, ["content nested too deeply to check"]
    except Exception as exc:  # every entry gets a FAIL line, never a traceback that hides the others
        return None, [f"could not be checked ({type(exc).__name__}: {_short(str(exc))})"]


def require_entries(submissions: Path, limits: Limits = DEFAULT_LIMITS) -> list[Entry]:
    """Like `load_entries` but any broken entry is an error (for commands that render the board)."""
    report = load_entries(submissions, limits)
    if report.problems:
        raise ValidationError(str(submissions), format_problems(report.problems))
    return report.entries


def format_problems(problems: dict[str, list[str]]) -> list[str]:
    """One line per broken entry: `<entry>: problem; problem`."""
    return [f"{safe_text(name)}: {'; '.join(safe_text(e, 600) for e in errs)}" for name, errs in sorted(problems.items())]


def _short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
