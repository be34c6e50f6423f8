"""`avsb-robust plot` on real files: results of scored baseline folders, and the similarity CSV that
`predict` writes for the shipped CGSL reference model."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from test_results_cli import scored_files  # noqa: F401  (module fixture: scored baseline results)
from test_score_cli import run_cli

pytest.importorskip("matplotlib", reason="matplotlib is the optional 'plot' extra")

from avsbench_robust.plots import figure_bytes, scatter  # noqa: E402
from avsbench_robust.results import Results  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "avsegformer-r50-small-s4-cgsl"


@pytest.mark.parametrize("kind,suffix,magic", [("bars", "png", b"\x89PNG"), ("scatter", "svg", b"<?xml"),
                                               ("curves", "pdf", b"%PDF")])
def test_every_kind_and_format(scored_files, tmp_path, capsys, kind, suffix, magic):  # noqa: F811
    files = [scored_files[n] for n in ("av-oracle", "empty", "visual-prior-oracle")]
    out = tmp_path / f"fig.{suffix}"
    code, _, err = run_cli(["plot", *files, "--kind", kind, "--out", out], capsys)
    assert code == 0, err
    data = out.read_bytes()
    assert data.startswith(magic) and len(data) > 5000
    again = tmp_path / f"again.{suffix}"
    run_cli(["plot", *files, "--kind", kind, "--out", again], capsys)
    assert again.read_bytes() == data  # no timestamps: same inputs, same bytes


def test_bad_requests_are_one_line_errors(scored_files, tmp_path, capsys):  # noqa: F811
    code, _, err = run_cli(["plot", scored_files["empty"], "--out", tmp_path / "fig.jpg"], capsys)
    assert code == 2 and "must end in .png, .pdf or .svg" in err
    code, _, err = run_cli(["plot", "--kind", "similarity", "--out", tmp_path / "s.png"], capsys)
    assert code == 2 and "needs --similarity" in err
    assert not list(tmp_path.iterdir())


def test_scatter_labels_do_not_overlap(scored_files):  # noqa: F811
    r = Results.read_json(scored_files["empty"])
    names = [f"a long model name number {i}" for i in range(6)]
    fig = scatter([r] * 6, names)  # six labels for the same point: they must still be placed apart
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    boxes = []
    for t in ax.texts:
        t.update_positions(renderer)
        boxes.append(Text.get_window_extent(t, renderer))
    assert len(boxes) == 6
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert figure_bytes(fig, "png").startswith(b"\x89PNG")


@pytest.mark.slow
def test_similarity_histogram_from_predict(synth_root, tmp_path, capsys):
    from avsbench_robust.predict import SIMILARITY_CSV, predict

    pred = tmp_path / "pred"
    predict(REFERENCE, pred, root=synth_root, progress=False, log=lambda s: None)
    rows = list(csv.DictReader((pred / SIMILARITY_CSV).open()))
    assert {r["condition"] for r in rows} == {"positive", "silence", "noise", "offscreen"}
    s = np.array([float(r["similarity"]) for r in rows])
    sig = np.array([float(r["sigmoid"]) for r in rows])
    assert np.all(np.abs(s) <= 1) and np.allclose(sig, 1 / (1 + np.exp(-s)), atol=2e-6)
    out = tmp_path / "sim.png"
    code, _, err = run_cli(["plot", "--kind", "similarity", "--similarity", pred, "--out", out], capsys)
    assert code == 0 and out.read_bytes().startswith(b"\x89PNG"), err
