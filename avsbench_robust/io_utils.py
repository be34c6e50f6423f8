"""Atomic file writes: a reader never sees half a file, and an interrupted run leaves only temp names."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from .errors import InputFileError


def check_target(path: "str | Path") -> Path:
    """Refuse to write over anything but a regular file: a rename would swap a FIFO, a device node or a
    symlink (and what it points at) for a plain file. Also refuses a parent that is not a folder."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # a parent that is a file is named below
        st = None
    except OSError as exc:
        raise InputFileError(path, f"cannot write there ({exc.strerror or exc})") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise InputFileError(path, "is a symlink; refusing to replace it (give the name of a regular file)")
        if stat.S_ISDIR(st.st_mode):
            raise InputFileError(path, "is a folder; expected a file name to write")
        if not stat.S_ISREG(st.st_mode):
            raise InputFileError(path, "is not a regular file (a FIFO, device or socket); refusing to replace it")
    for parent in path.parents:  # the nearest existing ancestor must be a folder
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise InputFileError(parent, "is not a folder; cannot write into it")
            break
    return path


def _temp_sibling(path: Path) -> Path:
    """A fresh temporary file beside `path`; the name is short, so any valid target name leaves room for it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputFileError(path.parent, "is not a folder; cannot write into it") from None
    except OSError as exc:
        raise InputFileError(path.parent, f"cannot create the folder ({exc.strerror or exc})") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:24]}.", suffix=".tmp" + path.suffix[:16], dir=path.parent)
    except OSError as exc:
        raise InputFileError(path, f"cannot write there ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; an output gets what the umask allows
    finally:
        os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: "str | Path") -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds."""
    path = check_target(path)
    tmp_path = _temp_sibling(path)
    try:
        yield tmp_path
        check_target(path)  # what is there may have changed while the block ran
        try:
            os.replace(tmp_path, path)
        except OSError as exc:
            raise InputFileError(path, f"cannot write there ({exc.strerror or exc})") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (os.umask is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def make_temp_dir(parent: "str | Path", prefix: str) -> Path:
    """A fresh temporary folder in `parent` (renamed into place later) with the umask's permissions, not 0700."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(tmp, 0o777 & ~current_umask())
    return tmp


def atomic_write_bytes(path: "str | Path", data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: "str | Path", text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def distinct_targets(paths: "Iterable[str | Path]") -> list[Path]:
    """Check each output path (`check_target`) and that no two name the same file; returns them as Paths."""
    out = [check_target(p) for p in paths]
    seen: dict[str, Path] = {}
    for p in out:
        key = os.path.realpath(p)
        if key in seen:
            raise InputFileError(p, f"is also given as another output ({seen[key]}); each output needs its own file")
        seen[key] = p
    return out


def check_writable(paths: "Iterable[str | Path]") -> list[Path]:
    """`distinct_targets`, plus a temp file created and removed beside each output whose folder exists,
    so an unwritable folder or an over-long name is found before any work is done."""
    out = distinct_targets(paths)
    for p in out:
        if p.parent.is_dir():
            _temp_sibling(p).unlink()
    return out


def atomic_write_many(files: "Mapping[str | Path, bytes]") -> None:
    """Write several files all-or-nothing: every temp file is written first, then all are renamed; if a
    rename fails, the ones already renamed are put back as they were (or removed when they were new)."""
    targets = distinct_targets(files)
    temps: list[Path] = []
    backups: dict[Path, "Path | None"] = {}
    committed: list[Path] = []
    try:
        for target, data in zip(targets, files.values()):
            tmp = _temp_sibling(target)
            temps.append(tmp)
            tmp.write_bytes(data)
        for target in targets:  # a hard link keeps the old content until every new file is in place
            check_target(target)
            backups[target] = None
            if target.exists():
                backup = _temp_sibling(target)
                backup.unlink()
                os.link(target, backup)
                backups[target] = backup
        try:
            for target, tmp in zip(targets, temps):
                os.replace(tmp, target)
                committed.append(target)
        except OSError as exc:
            for target in committed:
                old = backups.get(target)
                if old is not None:
                    os.replace(old, target)
                else:
                    target.unlink(missing_ok=True)
            raise InputFileError(targets[len(committed)], f"cannot write there ({exc.strerror or exc}); "
                                                          "no output was changed") from None
    except OSError as exc:
        raise InputFileError(targets[len(temps) - 1] if temps else targets[0],
                             f"cannot write there ({exc.strerror or exc})") from None
    finally:
        for path in [*temps, *(b for b in backups.values() if b is not None)]:
            if path.exists():
                path.unlink()


def sha256_file(path: "str | Path", chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def read_json(path: "str | Path", missing: str = "file not found") -> object:
    """A JSON file's content; a missing or malformed file is one InputFileError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, missing)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise InputFileError(path, "not valid JSON (nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or a number Python refuses to convert
        raise InputFileError(path, f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc.strerror or exc})") from None
