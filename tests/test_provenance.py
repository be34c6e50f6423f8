"""Provenance without machine paths: results, run records and submission commands can be published."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from avsbench_robust.board.entries import check_entry
from avsbench_robust.cli import main
from avsbench_robust.provenance import machine_paths, portable_command, portable_path

REPO = Path(__file__).resolve().parents[1]


def test_portable_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AVSB_ROBUST_HOME", str(tmp_path / "home"))
    assert portable_path(tmp_path / "out" / "pred") == "out/pred" and portable_path("rel/x") == "rel/x"
    assert portable_path(tmp_path) == "."
    assert portable_path(tmp_path / "home" / "synthetic-v1") == "<synthetic>/synthetic-v1"
    assert portable_path("/data/AVSBench") == "<AVSBench>" and portable_path(None) is None
    assert not list(machine_paths({"a": [portable_path(p) for p in ("/x/y", tmp_path / "z", "/")]}))


def test_portable_command() -> None:
    cmd = "/home/alice/.venv/bin/avsb-robust score /data/pred --subset s4 --json results.json; python3 x.py a/b"
    assert portable_command(cmd) == "avsb-robust score <pred> --subset s4 --json results.json; python3 x.py a/b"
    assert portable_command("avsb-robust ci") == "avsb-robust ci"


def test_machine_paths_finds_absolute_paths_only() -> None:
    doc = {"command": "avsb-robust score P --root /home/bob/AVSBench", "ok": ["a/b", "G-F / G-FPR", "p = v/255"],
           "links": {"paper": "https://arxiv.org/abs/2502.00358"}, "win": "C:\\Users\\bob", "home": "~/data",
           "nested": [{"pred_dir": "/tmp/p"}]}
    found = list(machine_paths(doc))
    assert [f.split(":")[0] for f in found] == ["command", "win", "home", "nested[0].pred_dir"]


def test_score_json_has_no_machine_paths(synth_root: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    main(["baselines", str(tmp_path / "b"), "--subset", "s4", "--root", str(synth_root), "--which", "empty",
          "--no-score"])
    monkeypatch.chdir(tmp_path)
    main(["score", "b/empty", "--subset", "s4", "--root", str(synth_root), "--json", "r.json", "--no-progress"])
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["provenance"]["pred_dir"] == "b/empty" and doc["provenance"]["gt_root"] == f"<{synth_root.name}>"
    assert "path_base" in doc["provenance"] and not list(machine_paths(doc))


@pytest.mark.skipif(not (REPO / "submissions").is_dir(), reason="needs the checkout's submissions/")
def test_ci_refuses_entries_with_machine_paths(tmp_path: Path) -> None:
    src = next(p for p in sorted((REPO / "submissions").iterdir()) if p.name.startswith("reference-"))
    entry = tmp_path / src.name
    shutil.copytree(src, entry)
    assert check_entry(entry)[1] == []
    meta = json.loads((entry / "metadata.json").read_text())
    meta["command"] = "/home/alice/venv/bin/avsb-robust score P --subset s4"
    (entry / "metadata.json").write_text(json.dumps(meta))
    problems = check_entry(entry)[1]
    assert len(problems) == 1 and "absolute machine path in metadata.json command" in problems[0]
    shutil.copy(src / "metadata.json", entry / "metadata.json")
    res = json.loads((entry / "results.json").read_text())
    res["provenance"]["pred_dir"] = os.path.abspath("/root/pred")
    (entry / "results.json").write_text(json.dumps(res))
    assert "results.json provenance.pred_dir" in check_entry(entry)[1][0]


@pytest.mark.skipif(not (REPO / "submissions").is_dir(), reason="needs the checkout's files")
def test_committed_files_carry_no_machine_paths() -> None:
    found = []
    for top in ("submissions", "reference", "leaderboard"):
        for path in (REPO / top).rglob("*"):
            if path.suffix in (".json", ".csv", ".md", ".html"):
                text = path.read_text(encoding="utf-8")
                found += [f"{path.relative_to(REPO)}: {m}" for m in ('"/root/', '"/home/', '"/tmp/', '"/work/')
                          if m in text]
                if path.suffix == ".json":
                    found += [f"{path.relative_to(REPO)}: {m}" for m in machine_paths(json.loads(text))]
    assert not found, found[:5]
