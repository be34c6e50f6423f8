"""A real killed build resumed to identical bytes, and the leak audit on the result (AVSS, all splits, both durations)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from avsbench_robust.build.audit import MIN_CLIPS_TO_JUDGE, audit, binomial_p, cv_accuracy, verdict
from avsbench_robust.build.layout import JOURNAL_DIR, MANIFEST_NAME
from avsbench_robust.build.manifest import read_manifest, verify
from avsbench_robust.build.run import build
from avsbench_robust.cli import main
from avsbench_robust.types import Condition

REPO = Path(__file__).resolve().parents[1]


def tree_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def avss_built(synth_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("avss") / "ref"
    build("avss", root=synth_root, out=out, split="all", progress=False)
    return out


@pytest.mark.slow
def test_killed_build_resumes_to_identical_bytes(synth_root, avss_built, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "avsbench_robust.cli", "build", "--subset", "avss", "--split", "all",
           "--root", str(synth_root), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = out / JOURNAL_DIR / "clips"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_dir() and len(list(journal.glob("*.json"))) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the build ended before it could be killed: {proc.stderr.read().decode()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / MANIFEST_NAME).exists()
    done = len(list(journal.glob("*.json")))
    n = len(read_manifest(avss_built)["clips"])
    assert 3 <= done < n
    result = build("avss", root=synth_root, out=out, split="all", progress=False)
    assert result.reused >= done and result.built == n - result.reused
    assert tree_files(out) == tree_files(avss_built)
    assert verify(out) == []


def test_avss_shapes_and_pairing_by_duration(avss_built):
    m = read_manifest(avss_built)
    labels = {c["label"] for c in m["clips"]}
    assert {"v1s", "v1m", "v2"} <= labels
    by = {(c["split"], c["video"]): c for c in m["clips"]}
    for c in m["clips"]:
        n = 10 if c["label"] == "v2" else 5
        assert all(o["features_shape"] == [n, 1, 96, 64] for o in c["outputs"].values())
        assert c["outputs"]["noise"]["seconds"] == float(n)
        src = by[(c["split"], c["outputs"]["offscreen"]["source_video"])]
        assert src["seconds"] == c["seconds"]
        assert np.load(avss_built / c["outputs"]["positive"]["features"]).shape[0] == n


def test_audit_separates_content_not_pipeline(avss_built):
    rows = {r.condition: r for r in audit(avss_built, folds=5, simulate_authors=True)}
    assert rows["silence"].accuracy >= 0.95 and rows["noise"].accuracy >= 0.95
    off = rows["offscreen"]
    assert off.clips >= MIN_CLIPS_TO_JUDGE and off.decisions == 2 * off.clips
    assert off.p_value >= 0.01 and off.verdict.startswith("consistent with chance")  # seen: 0.355, p = 0.06
    assert rows["offscreen (authors' pipeline, simulated)"].accuracy >= 0.9


def test_audit_command_prints_the_table(avss_built, capsys):
    main(["audit", str(avss_built)])
    out = capsys.readouterr().out
    assert "offscreen" in out and "separable by content" in out and "chance = 0.50" in out
    assert "exact two-sided binomial" in out and "verdicts need >= 20 clips" in out


def test_cv_accuracy_detects_a_shift_and_not_noise():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 8))
    assert cv_accuracy(a, rng.normal(size=(40, 8)) + 2.0)[0] > 0.95
    assert abs(cv_accuracy(a, rng.normal(size=(40, 8)))[0] - 0.5) < 0.2


def test_verdict_is_two_sided_with_a_minimum_sample():
    # exact binomial, two-sided: 13/40 right is as far from chance as 27/40
    assert binomial_p(13, 40) == pytest.approx(binomial_p(27, 40)) == pytest.approx(0.0385, abs=1e-4)
    assert binomial_p(10, 40) < 0.01
    below = verdict(Condition.OFFSCREEN, 10 / 40, 20, binomial_p(10, 40))
    assert below.startswith("BELOW chance") and "not a pass" in below  # 0.25 is not "near chance"
    assert verdict(Condition.OFFSCREEN, 30 / 40, 20, binomial_p(30, 40)).startswith("LEAK")
    assert verdict(Condition.OFFSCREEN, 0.33, 2, 1.0).startswith("no verdict: too few clips")  # 2 clips judged nothing
    assert verdict(Condition.OFFSCREEN, 22 / 40, 20, binomial_p(22, 40)).startswith("consistent with chance")
