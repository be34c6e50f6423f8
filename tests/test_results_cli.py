"""`report`, `compare` and `Results.to_dataframe` on real results files: baseline prediction folders
written as PNGs on the synthetic tree, scored by the CLI."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_score_cli import run_cli

from avsbench_robust.results import Results


@pytest.fixture(scope="module")
def scored_files(tmp_path_factory, synth_root) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("results")
    from avsbench_robust.cli import main

    def cli(*args):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            assert exc.code in (0, None), args

    cli("baselines", out / "bl", "--subset", "s4", "--root", synth_root, "--no-score")
    cli("baselines", out / "bl-ms3", "--subset", "ms3", "--root", synth_root, "--no-score", "--which", "empty")
    files = {}
    for name in ("av-oracle", "empty", "visual-prior-oracle"):
        files[name] = out / f"{name}.json"
        cli("score", out / "bl" / name, "--subset", "s4", "--root", synth_root, "--json", files[name], "--workers", "1")
    files["ms3"] = out / "ms3.json"
    cli("score", out / "bl-ms3" / "empty", "--subset", "ms3", "--root", synth_root, "--json", files["ms3"],
        "--workers", "1")
    return files


def test_report_side_by_side_in_every_format(scored_files, capsys):
    a, b = scored_files["av-oracle"], scored_files["empty"]
    code, out, _ = run_cli(["report", a, b, "--format", "csv", "--names", "oracle,empty"], capsys)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert [r[0] for r in rows] == ["model", "oracle", "empty"]
    assert rows[1][rows[0].index("G-mIoU")] == "100.0000" and rows[2][rows[0].index("G-mIoU")] == "0.0000"
    for fmt, marker in (("table", "-----"), ("markdown", "|:-"), ("latex", r"\begin{tabular}")):
        code, out, _ = run_cli(["report", a, b, "--format", fmt], capsys)
        assert code == 0 and marker in out and "av-oracle" in out and "empty" in out, fmt
    code, out, _ = run_cli(["report", a, b, "--intervals"], capsys)
    assert code == 0 and "100.00 [100.00, 100.00]" in out
    assert "95% percentile bootstrap intervals over videos (1000 resamples, seed 0)" in out


def test_report_levels(scored_files, capsys):
    a = scored_files["av-oracle"]
    code, out, _ = run_cli(["report", a, "--level", "video", "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {r["condition"] for r in rows} == {"positive", "silence", "noise", "offscreen"}
    assert all(float(r["miou"]) == pytest.approx(1.0) for r in rows if r["condition"] == "positive")
    assert all(float(r["fpr"]) == 0.0 for r in rows if r["condition"] != "positive")
    code, out, _ = run_cli(["report", a, "--level", "category"], capsys)
    assert code == 0 and "category" in out.splitlines()[0]


def test_to_dataframe_levels(scored_files):
    r = Results.read_json(scored_files["visual-prior-oracle"])
    cond = r.to_dataframe("condition")
    assert list(cond.index) == ["positive", "silence", "noise", "offscreen", "negative"]
    assert {"miou", "f_score", "fpr", "frames", "miou_low", "miou_high"} <= set(cond.columns)
    assert cond.attrs["global"]["g_miou"] == pytest.approx(0.0, abs=1e-6)
    videos = r.to_dataframe("video")
    assert len(videos) == 4 * len(r.per_video.videos[next(iter(r.per_video.videos))])
    assert videos["miou"].to_numpy() == pytest.approx(1.0)
    cats = r.to_dataframe("category")
    assert cats.index.names == ["condition", "category"]
    with pytest.raises(ValueError, match="unknown level"):
        r.to_dataframe("frame")


def test_compare_says_whether_the_interval_excludes_zero(scored_files, capsys):
    code, out, _ = run_cli(["compare", scored_files["empty"], scored_files["av-oracle"]], capsys)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("global/g_miou"))
    assert "+100.00" in line and line.split()[-2] == "yes"
    assert "paired bootstrap over" in out


def test_compare_refuses_other_videos_and_old_files(scored_files, tmp_path, capsys):
    code, _, err = run_cli(["compare", scored_files["empty"], scored_files["ms3"]], capsys)
    assert code == 2 and "subset/protocol/batch size differ" in err
    doc = json.loads(scored_files["empty"].read_text())
    del doc["per_video"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    code, _, err = run_cli(["compare", old, scored_files["av-oracle"]], capsys)
    assert code == 2 and "carries no per-video sums" in err
