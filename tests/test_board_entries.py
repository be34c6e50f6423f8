"""Every kind of broken entry is rejected with a clear, entry-named problem (real files, no mocks)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from avsbench_robust.baselines import Baseline
from avsbench_robust.board.entries import (
    DEFAULT_LIMITS,
    Limits,
    check_entry,
    load_entries,
    npz_problems,
    parse_json_bytes,
)
from avsbench_robust.board.sanity import sanity_entry_files
from avsbench_robust.types import Subset


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def entry_files(synth_root: Path) -> dict[str, bytes]:
    """A real scored entry (MS3 visual-prior oracle on the tiny synthetic set, with predictions)."""
    return sanity_entry_files(synth_root, Subset.MS3, Baseline.VISUAL_PRIOR)


@pytest.fixture()
def subs(tmp_path: Path, entry_files: dict[str, bytes]) -> Path:
    root = tmp_path / "submissions"
    _write(root / "good-entry", entry_files)
    return root


def _meta(folder: Path) -> dict:
    return json.loads((folder / "metadata.json").read_text())


def _set_meta(folder: Path, meta: dict) -> None:
    (folder / "metadata.json").write_text(json.dumps(meta))


def _problems(subs: Path, name: str = "good-entry", limits: Limits = DEFAULT_LIMITS) -> str:
    report = load_entries(subs, limits)
    assert name in report.problems, f"expected a problem for {name}, got {report.problems}"
    return " | ".join(report.problems[name])


def test_valid_entry_loads(subs: Path) -> None:
    report = load_entries(subs)
    assert report.ok, report.problems
    (entry,) = report.entries
    assert {c.value for c in entry.predictions} == {"positive", "silence", "noise", "offscreen"}


def test_bad_schema_missing_field(subs: Path) -> None:
    meta = _meta(subs / "good-entry")
    del meta["model"]
    meta["source"] = "bribe"
    _set_meta(subs / "good-entry", meta)
    msg = _problems(subs)
    assert "'model' is a required property" in msg and "source" in msg


def test_javascript_link_rejected(subs: Path) -> None:
    meta = _meta(subs / "good-entry")
    meta["links"]["paper"] = "javascript:alert(1)"
    _set_meta(subs / "good-entry", meta)
    assert "links/paper" in _problems(subs)


def test_missing_results_file(subs: Path) -> None:
    (subs / "good-entry" / "results.json").unlink()
    assert "missing results.json" in _problems(subs)


def test_oversized_files(subs: Path) -> None:
    meta = _meta(subs / "good-entry")
    meta["notes"] = "x" * 900
    _set_meta(subs / "good-entry", meta)
    assert "over the 512-byte limit" in _problems(subs, limits=Limits(metadata_bytes=512))
    assert "over the 1000-byte limit" in _problems(subs, limits=Limits(npz_bytes=1000))


def test_oversized_array_declared_in_npz(tmp_path: Path) -> None:
    path = tmp_path / "big.npz"
    np.savez_compressed(path, v=np.zeros((5, 2000, 2000), np.uint8))  # compresses to almost nothing
    assert "at most 10 frames of 1024x1024" in " ".join(npz_problems(path))
    assert "uncompressed" in " ".join(npz_problems(path, Limits(npz_uncompressed_bytes=1_000_000)))


def test_duplicate_entry(subs: Path) -> None:
    shutil.copytree(subs / "good-entry", subs / "good-entry-copy")
    assert "duplicate of entry 'good-entry'" in _problems(subs, "good-entry-copy")


def test_bad_folder_name(subs: Path) -> None:
    (subs / "good-entry").rename(subs / "Good Entry")
    assert "folder name" in _problems(subs, "Good Entry")


@pytest.mark.parametrize("bad", ["../other/positive.npz", "/etc/positive.npz", "predictions/../../x.npz",
                                 "predictions//positive.npz"])
def test_path_traversal(subs: Path, bad: str) -> None:
    meta = _meta(subs / "good-entry")
    meta["predictions"]["positive"] = bad
    _set_meta(subs / "good-entry", meta)
    msg = _problems(subs)
    assert "predictions.positive" in msg and ("not allowed" in msg)


def test_symlinked_file(subs: Path, tmp_path: Path) -> None:
    target = subs / "good-entry" / "predictions" / "noise.npz"
    outside = tmp_path / "outside.npz"
    shutil.move(target, outside)
    os.symlink(outside, target)
    assert "predictions/noise.npz: symlinks are not allowed" in _problems(subs)


def test_symlinked_entry_folder(subs: Path, tmp_path: Path) -> None:
    shutil.move(subs / "good-entry", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", subs / "linked")
    assert "symlink" in _problems(subs, "linked")


def test_pickle_in_npz(subs: Path) -> None:
    path = subs / "good-entry" / "predictions" / "silence.npz"
    np.savez_compressed(path, v=np.array([{"evil": 1}], dtype=object))
    assert "object array (a pickle)" in _problems(subs)


def test_not_a_zip(subs: Path) -> None:
    (subs / "good-entry" / "predictions" / "silence.npz").write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    assert "not a valid .npz" in _problems(subs)


def test_unexpected_file(subs: Path) -> None:
    (subs / "good-entry" / "model.pkl").write_bytes(b"\x80\x04.")
    assert "model.pkl: unexpected file" in _problems(subs)


def test_strict_json(subs: Path) -> None:
    with pytest.raises(ValueError, match="duplicate key"):
        parse_json_bytes(b'{"a": 1, "a": 2}')
    with pytest.raises(ValueError, match="NaN is not allowed"):
        parse_json_bytes(b'{"a": NaN}')
    (subs / "good-entry" / "results.json").write_bytes(b'{"global": Infinity}')
    assert "results.json: Infinity is not allowed" in _problems(subs)


def test_results_disagree_with_metadata(subs: Path) -> None:
    meta = _meta(subs / "good-entry")
    meta["subset"] = "s4"
    _set_meta(subs / "good-entry", meta)
    assert "subset is 'ms3' but metadata.json says 's4'" in _problems(subs)


def test_paper_entry_cannot_ship_predictions(subs: Path) -> None:
    meta = _meta(subs / "good-entry")
    meta.update(source="paper", protocol="paper")
    _set_meta(subs / "good-entry", meta)
    entry, problems = check_entry(subs / "good-entry")
    assert entry is None and any("predictions" in p or "protocol" in p or "results.json" in p for p in problems)
