"""`ci` end to end: passes on good submissions, fails (exit 2, one line per entry) on each kind of breakage."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from avsbench_robust.baselines import Baseline
from avsbench_robust.board.ci import run_ci
from avsbench_robust.board.paper import write_paper_entries
from avsbench_robust.board.rescore import npz_bytes
from avsbench_robust.board.sanity import sanity_entry_files
from avsbench_robust.cli import cli, main
from avsbench_robust.types import Subset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def entry_files(synth_root: Path) -> dict[str, bytes]:
    return sanity_entry_files(synth_root, Subset.S4, Baseline.AV_ORACLE)


@pytest.fixture()
def board(tmp_path: Path, entry_files: dict[str, bytes], synth_root: Path):
    """A submissions folder (paper rows + one scored entry with predictions) and its fresh leaderboard."""
    subs, out = tmp_path / "submissions", tmp_path / "leaderboard"
    write_paper_entries(subs)
    for rel, data in entry_files.items():
        (subs / "s4-oracle" / rel).parent.mkdir(parents=True, exist_ok=True)
        (subs / "s4-oracle" / rel).write_bytes(data)
    result = CliRunner().invoke(cli, ["leaderboard", "--submissions", str(subs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return subs, out, (lambda dataset: synth_root)


def test_ci_passes_and_rescores(board) -> None:
    subs, out, root_for = board
    report = run_ci(subs, out, root_for)
    assert report.ok, report.problems
    assert report.rescored == ["s4-oracle"] and report.checked == 24


def test_results_mismatch_fails(board) -> None:
    subs, out, root_for = board
    path = subs / "s4-oracle" / "results.json"
    doc = json.loads(path.read_text())
    doc["conditions"]["silence"]["fpr"] += 2e-6  # not part of any G-metric: only re-scoring can see it
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    report = run_ci(subs, out, root_for)
    msg = " ".join(report.problems["s4-oracle"])
    assert "re-scored results differ" in msg and "conditions.silence.fpr" in msg


def test_changed_predictions_fail(board, synth_root: Path) -> None:
    subs, out, root_for = board
    pred = subs / "s4-oracle" / "predictions" / "noise.npz"
    with np.load(pred) as z:
        arrays = {k: z[k].copy() for k in z.files}
    first = min(arrays)
    arrays[first][0, :3, :3] = 255  # a few false positives under noise
    pred.write_bytes(npz_bytes(arrays))
    assert "conditions.noise.fpr" in " ".join(run_ci(subs, out, root_for).problems["s4-oracle"])


def test_inconsistent_global_fails(board) -> None:
    subs, out, root_for = board
    path = subs / "s4-oracle" / "results.json"
    doc = json.loads(path.read_text())
    doc["global"]["g_miou"] = 0.5
    path.write_text(json.dumps(doc))
    report = run_ci(subs, out, root_for, rescore=False)
    assert "global.g_miou = 0.5 but its columns give" in " ".join(report.problems["s4-oracle"])


def test_stale_leaderboard_fails(board) -> None:
    subs, out, root_for = board
    (out / "index.html").write_text("<p>hand edited</p>")
    report = run_ci(subs, out, root_for, rescore=False)
    assert any("stale or missing: index.html" in p for p in report.problems[str(out)])
    (out / "README.md").unlink()
    assert "README.md" in " ".join(run_ci(subs, out, root_for, rescore=False).problems[str(out)])


def test_paper_drift_fails(board) -> None:
    subs, out, root_for = board
    path = subs / "paper-s4-tpavi" / "results.json"
    path.write_text(path.read_text().replace("0.35032", "0.45032"))
    report = run_ci(subs, out, root_for, rescore=False)
    assert "differs from the transcription" in " ".join(report.problems["paper-s4-tpavi"])


def test_cli_exit_code_and_one_line_per_entry(board, capsys: pytest.CaptureFixture[str]) -> None:
    subs, out, _ = board
    shutil.copytree(subs / "s4-oracle", subs / "s4-oracle-dup")
    meta = json.loads((subs / "s4-oracle" / "metadata.json").read_text())
    meta["model"] = "<script>alert(1)</script>"
    meta["predictions"]["positive"] = "../paper-s4-tpavi/results.npz"
    (subs / "s4-oracle" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit) as exc:
        main(["ci", str(subs), "--leaderboard", str(out), "--no-rescore"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    fail_lines = [ln for ln in err.splitlines() if ln.startswith("FAIL ")]
    assert any(ln.startswith("FAIL s4-oracle: ") and "'..'" in ln for ln in fail_lines)
    assert len([ln for ln in fail_lines if ln.startswith("FAIL s4-oracle:")]) == 1
    assert err.strip().splitlines()[-1].startswith("error: ci: ")


def test_leaderboard_command_refuses_broken_entries(board) -> None:
    subs, out, _ = board
    (subs / "s4-oracle" / "results.json").unlink()
    before = (out / "README.md").read_bytes()
    result = CliRunner().invoke(cli, ["leaderboard", "--submissions", str(subs), "--out", str(out)])
    assert result.exit_code != 0 and "missing results.json" in str(result.exception)
    assert (out / "README.md").read_bytes() == before  # nothing half-written


def test_table1_cli_from_entries(board) -> None:
    subs, _, _ = board
    result = CliRunner().invoke(cli, ["table1", "--submissions", str(subs)])
    assert result.exit_code == 0, result.output
    assert "| AVSBench-MS3 | TPAVI (Zhou et al. 2022) | 59.468 | 51.036 | 0.072 | 54.0 | 64.5 | 42.24 | 62.16 | 9.53 |" \
        in result.output


@pytest.mark.slow
def test_ci_passes_on_committed_submissions() -> None:
    if not (REPO / "submissions").is_dir() or not (REPO / "leaderboard").is_dir():
        pytest.skip("committed submissions/ or leaderboard/ not present")
    result = CliRunner().invoke(cli, ["ci", str(REPO / "submissions"), "--leaderboard", str(REPO / "leaderboard")])
    assert result.exit_code == 0, result.output
    assert "re-scored within 1e-6" in result.output
