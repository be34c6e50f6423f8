"""`avsb-robust submit` and `table1/table2 --add` on real folders: baseline PNG predictions on the synthetic
tree, scored by the CLI, packed into an entry that re-scores exactly as `ci` does."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_score_cli import run_cli

from avsbench_robust.board.entries import check_entry
from avsbench_robust.board.rescore import compare_results, rescore_entry


@pytest.fixture(scope="module")
def scored(tmp_path_factory, synth_root) -> dict[str, Path]:
    from avsbench_robust.cli import main

    out = tmp_path_factory.mktemp("submit")

    def cli(*args):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            assert exc.code in (0, None), args

    for subset in ("s4", "avss"):
        cli("baselines", out / subset, "--subset", subset, "--root", synth_root, "--no-score", "--which", "av-oracle",
            "--which", "empty")
        for b in ("av-oracle", "empty"):
            cli("score", out / subset / b, "--subset", subset, "--root", synth_root, "--json",
                out / f"{subset}-{b}.json", "--workers", "1")
    return {"dir": out, **{p.stem: p for p in out.glob("*.json")}}


def test_submit_writes_an_entry_that_rescores(scored, synth_root, tmp_path, capsys):
    entry_dir = tmp_path / "submissions" / "my-oracle-s4"
    code, _, err = run_cli(["submit", scored["s4-av-oracle"], scored["dir"] / "s4" / "av-oracle", "--out", entry_dir,
                            "--model", "My oracle", "--backbone", "none", "--paper", "https://example.org/paper",
                            "--root", synth_root, "--workers", "1"], capsys)
    assert code == 0, err
    entry, problems = check_entry(entry_dir)
    assert problems == [] and entry is not None
    meta = entry.metadata
    # the test tree is `synth --seed 0 --videos 2`: a named synthetic dataset, which ci regenerates to re-score
    assert (meta["source"], meta["dataset"], meta["subset"], meta["links"]["paper"]) == (
        "scored", "synthetic-seed0-videos2", "s4", "https://example.org/paper")
    assert sorted(meta["predictions"]) == ["noise", "offscreen", "positive", "silence"]
    with np.load(entry_dir / "predictions" / "positive.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype == np.uint8 for k in npz.files)  # 8-bit PNG probabilities packed losslessly
    assert "gt_root" not in entry.results["provenance"] and "pred_dir" not in entry.results["provenance"]
    assert compare_results(entry.results, rescore_entry(entry, synth_root)) == []  # what `ci` checks
    # an existing entry is not replaced without --overwrite
    code, _, err = run_cli(["submit", scored["s4-av-oracle"], scored["dir"] / "s4" / "av-oracle", "--out", entry_dir,
                            "--model", "x", "--root", synth_root], capsys)
    assert code == 2 and "--overwrite" in err


def test_submit_refuses_predictions_that_are_not_the_results(scored, synth_root, tmp_path, capsys):
    entry_dir = tmp_path / "subs" / "wrong"
    code, _, err = run_cli(["submit", scored["s4-av-oracle"], scored["dir"] / "s4" / "empty", "--out", entry_dir,
                            "--model", "x", "--root", synth_root, "--workers", "1"], capsys)
    assert code == 2 and "does not re-score" in err
    assert not entry_dir.exists() and (not entry_dir.parent.exists() or not any(entry_dir.parent.iterdir()))


def test_table1_and_table2_add_rows(scored, capsys):
    code, out, err = run_cli(["table1", "--add", scored["s4-av-oracle"], "--name", "My oracle"], capsys)
    assert code == 0, err
    line = next(x for x in out.splitlines() if "My oracle" in x)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == "*My oracle (synthetic set, not comparable)*"
    doc = json.loads(scored["s4-av-oracle"].read_text())
    g, pos, off = doc["global"], doc["conditions"]["positive"], doc["conditions"]["offscreen"]
    assert cells[2:10] == [f"{100 * g['g_miou']:.3f}", f"{100 * g['g_f']:.3f}", f"{g['g_fpr']:.3f}",
                           f"{100 * pos['miou']:.1f}", f"{100 * pos['f_score']:.1f}", f"{100 * off['miou']:.2f}",
                           f"{100 * off['f_score']:.2f}", f"{100 * off['fpr']:.2f}"]
    assert cells[2] == "100.000" and cells[9] == "0.00"  # the oracle: G-mIoU 1, silent on offscreen audio
    assert "Rows in italics were added with --add" in out
    code, out, _ = run_cli(["table1", "--add", scored["s4-empty"], "--format", "latex"], capsys)
    assert code == 0 and r"\textit{s4-empty (synthetic set, not comparable)}" in out
    code, out, _ = run_cli(["table2", "--add", scored["avss-av-oracle"], "--name", "AVSS oracle"], capsys)
    assert code == 0 and "*AVSS oracle (synthetic set, not comparable)*" in out
    code, _, err = run_cli(["table1", "--add", scored["avss-empty"]], capsys)
    assert code == 2 and "belongs in Table 2" in err
    code, _, err = run_cli(["table1", "--add", scored["s4-empty"], "--name", "a", "--name", "b"], capsys)
    assert code == 2 and "--name given 2 time(s) for 1 --add" in err


def test_avss_submit_packs_class_maps(scored, synth_root, tmp_path, capsys):
    entry_dir = tmp_path / "subs" / "avss-oracle"
    code, _, err = run_cli(["submit", scored["avss-av-oracle"], scored["dir"] / "avss" / "av-oracle", "--out",
                            entry_dir, "--model", "AVSS oracle", "--root", synth_root, "--workers", "1"], capsys)
    assert code == 0, err
    entry, problems = check_entry(entry_dir)
    assert problems == []
    assert compare_results(entry.results, rescore_entry(entry, synth_root)) == []
    assert json.loads((entry_dir / "results.json").read_text())["global"]["g_miou"] > 0.9


def test_ci_refuses_synthetic_results_relabelled_as_avsbench(scored, synth_root, tmp_path, capsys):
    """The issue's attack: a copied synthetic results.json with metadata saying dataset: avsbench."""
    entry_dir = tmp_path / "subs" / "relabelled"
    code, _, err = run_cli(["submit", scored["s4-av-oracle"], scored["dir"] / "s4" / "av-oracle", "--out", entry_dir,
                            "--model", "Copy", "--root", synth_root, "--workers", "1"], capsys)
    assert code == 0, err
    meta = json.loads((entry_dir / "metadata.json").read_text())
    meta["dataset"] = "avsbench"
    del meta["predictions"]
    (entry_dir / "metadata.json").write_text(json.dumps(meta))
    for f in (entry_dir / "predictions").iterdir():
        f.unlink()
    (entry_dir / "predictions").rmdir()
    _, problems = check_entry(entry_dir)
    assert any("scored on the 'synthetic-seed0-videos2' dataset but metadata.json says 'avsbench'" in p
               for p in problems)
