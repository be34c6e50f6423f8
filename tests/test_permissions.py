"""Outputs get the permissions the umask allows (a lab sharing a build, a web server serving the page),
including files written through a temporary name and folders renamed into place."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from avsbench_robust.cli import main


@pytest.fixture
def umask():
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


def modes(top: Path) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {"file": set(), "dir": set()}
    for p in [top, *top.rglob("*")]:
        found["dir" if p.is_dir() else "file"].add(stat.S_IMODE(p.stat().st_mode))
    return found


@pytest.mark.parametrize("mask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_outputs_follow_the_umask(mask: int, file_mode: int, dir_mode: int, umask, synth_root: Path,
                                  tmp_path: Path) -> None:
    umask(mask)
    out = tmp_path / "out"
    main(["build", "--subset", "s4", "--root", str(synth_root), "--out", str(out / "build"), "--workers", "1",
          "--no-progress", "--conditions", "positive,silence"])
    main(["baselines", str(out / "baselines"), "--subset", "s4", "--root", str(synth_root), "--which", "empty",
          "--no-score"])
    main(["score", str(out / "baselines" / "empty"), "--subset", "s4", "--root", str(synth_root), "--json",
          str(out / "results" / "r.json"), "--csv", str(out / "results" / "r.csv"), "--no-progress"])
    repo = Path(__file__).resolve().parents[1]
    if (repo / "submissions").is_dir():
        main(["leaderboard", "--submissions", str(repo / "submissions"), "--out", str(out / "leaderboard")])
        assert (out / "leaderboard" / "index.html").is_file()
    assert (out / "build" / "manifest.json").is_file() and any((out / "baselines").rglob("*.png"))
    assert modes(out) == {"file": {file_mode}, "dir": {dir_mode}}


def test_embedded_dataset_cache_follows_the_umask(umask, tmp_path: Path, monkeypatch) -> None:
    from avsbench_robust.data import default, synthetic

    umask(0o022)
    monkeypatch.setenv("AVSB_ROBUST_HOME", str(tmp_path / "home"))
    real = synthetic.generate
    monkeypatch.setattr(synthetic, "generate", lambda out, subset, videos, seed, **kw: real(out, "s4", 1, seed))
    root = default.synthetic_root()
    assert root.parent == tmp_path / "home" and (root / synthetic.MARKER).is_file()
    assert modes(root) == {"file": {0o644}, "dir": {0o755}}
