"""End to end through the CLI: build (with an unseen pool; with the authors' features) -> predict -> score -> leaderboard."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from _frontend_inputs import make_pool  # noqa: E402

from avsbench_robust.board.reference import reference_entry_files  # noqa: E402
from avsbench_robust.cli import main  # noqa: E402
from avsbench_robust.predict import PREDICT_JSON  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "avsegformer-r50-small-s4-cgsl"
FIVE = "positive,silence,noise,offscreen,unseen"


def _predict_and_score(synth_root: Path, build_out: Path, tmp: Path) -> dict:
    pred = tmp / "pred"
    main(["predict", "--checkpoint", str(REFERENCE), "--root", str(synth_root), "--build", str(build_out),
          "--conditions", FIVE, "--out", str(pred), "--no-progress"])
    assert sorted(p.name for p in pred.iterdir() if p.is_dir()) == sorted(FIVE.split(","))
    main(["score", str(pred), "--subset", "s4", "--root", str(synth_root), "--json", str(tmp / "results.json")])
    return json.loads((tmp / "results.json").read_text())


def test_unseen_build_scores_and_reaches_the_leaderboard(synth_root, tmp_path, capsys):
    make_pool(tmp_path / "pool")
    out = tmp_path / "build"
    main(["build", "--subset", "s4", "--root", str(synth_root), "--out", str(out), "--unseen-pool",
          str(tmp_path / "pool"), "--no-progress"])
    said = capsys.readouterr()
    assert "d_quiet.wav left out" in said.err and "worker processes: 1" in said.out
    main(["build", "--verify", str(out)])

    res = _predict_and_score(synth_root, out, tmp_path)
    assert set(res["conditions"]) == set(FIVE.split(","))
    frames = {c: v["frames"] for c, v in res["conditions"].items()}
    assert res["negative"]["frames"] == sum(frames[c] for c in ("silence", "noise", "offscreen", "unseen"))

    entry = tmp_path / "subs" / "reference-s4-unseen"
    # packing re-scores the packed masks (unseen included) and refuses any difference
    for rel, data in reference_entry_files(tmp_path / "pred", res, synth_root, model="TPAVI-PVT small",
                                           variant="+cgsl", backbone="pvt_v2_b5", command="pytest", notes="",
                                           date="2026-12-01").items():
        (entry / rel).parent.mkdir(parents=True, exist_ok=True)
        (entry / rel).write_bytes(data)
    assert (entry / "predictions" / "unseen.npz").is_file()
    board = tmp_path / "board"
    main(["leaderboard", "--submissions", str(tmp_path / "subs"), "--out", str(board)])
    rows = list(csv.DictReader(io.StringIO((board / "leaderboard.csv").read_text())))
    assert len(rows) == 1
    assert rows[0]["neg_scope"] == "pooled N (silence, noise, offscreen, unseen)"
    assert float(rows[0]["fpr_unseen"]) == pytest.approx(res["conditions"]["unseen"]["fpr"])


@pytest.mark.skipif(importlib.util.find_spec("librosa") is None, reason="librosa (optional extra 'authors') not installed")
def test_authors_build_is_marked_leaky_and_scores(synth_root, tmp_path, capsys):
    make_pool(tmp_path / "pool")
    out = tmp_path / "build"
    main(["build", "--subset", "s4", "--root", str(synth_root), "--out", str(out), "--unseen-pool",
          str(tmp_path / "pool"), "--negative-features", "authors", "--conditions", FIVE, "--no-progress"])
    assert "authors' pipeline (leaky)" in capsys.readouterr().out
    main(["audit", str(out)])
    assert "build: authors' pipeline (leaky)" in capsys.readouterr().out
    res = _predict_and_score(synth_root, out, tmp_path)
    assert set(res["conditions"]) == set(FIVE.split(","))
    assert 0.0 <= res["global"]["g_miou"] <= 1.0
    info = json.loads((tmp_path / "pred" / PREDICT_JSON).read_text())
    assert info["build_pipeline"] == "authors' pipeline (leaky)" and info["build_negative_features"] == "authors"
    # the score of such predictions says so itself, in its provenance and in every table it prints
    assert res["provenance"]["negative_features"] == "authors"
    main(["report", str(tmp_path / "results.json"), "--format", "markdown"])
    assert "[authors' pipeline (leaky)]" in capsys.readouterr().out
