"""`avsb-robust score` end to end on real prediction folders written from the synthetic GT."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from _scoring_helpers import (
    binary_255,
    direct_results,
    encode_index_p,
    encode_l,
    gt_transform,
    metrics_only,
    prob_transform,
    write_array_folder,
    write_png_folder,
)
from PIL import Image

from avsbench_robust.cli import main
from avsbench_robust.data.classes import AVSS_PALETTE
from avsbench_robust.predictions.layouts import Layout
from avsbench_robust.scoring import score
from avsbench_robust.types import SCORED_CONDITIONS, Condition, Subset


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def scored(pred: Path, root: Path, subset: Subset, **kw) -> dict:
    return score(pred, subset, root, workers=1, **kw).to_dict()


def _approx_equal(a: dict, b: dict) -> None:
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# ---------------------------------------------------------------- every layout and mode, exact vs in-memory
@pytest.mark.parametrize("subset,layout", [
    (Subset.S4, Layout.SAVE_MASK), (Subset.S4, Layout.GT_MIRROR), (Subset.S4, Layout.FLAT0), (Subset.S4, Layout.FLAT1),
    (Subset.MS3, Layout.SAVE_MASK), (Subset.MS3, Layout.GT_MIRROR),
])
def test_png_layouts_probability_l(tmp_path, synth_root, subset, layout):
    written = write_png_folder(tmp_path, synth_root, subset, layout, encode_l, prob_transform)
    doc = scored(tmp_path, synth_root, subset)
    assert doc["provenance"]["layouts"] == {c.value: layout.value for c in SCORED_CONDITIONS}
    assert doc["provenance"]["resized"] == 0
    ref = direct_results(synth_root, subset, lambda c, v, gt: written[(c, v)]).to_dict()
    _approx_equal(metrics_only(doc), metrics_only(ref))


@pytest.mark.parametrize("encode", [
    lambda a: Image.fromarray(binary_255(a), "L").convert("P"),  # official save_mask
    lambda a: Image.fromarray(a.astype(bool)).convert("1"),
    lambda a: Image.fromarray(np.repeat(binary_255(a)[..., None], 3, 2), "RGB"),
    lambda a: Image.fromarray(binary_255(a), "L"),
], ids=["P", "1", "RGB", "L"])
def test_png_binary_modes_give_oracle_numbers(tmp_path, synth_root, encode):
    write_png_folder(tmp_path, synth_root, Subset.S4, Layout.SAVE_MASK, encode, gt_transform)
    doc = scored(tmp_path, synth_root, Subset.S4)
    for cond in ("positive", "silence", "noise", "offscreen"):
        assert doc["conditions"][cond]["miou"] == pytest.approx(1.0, abs=1e-6)
        assert doc["conditions"][cond]["f_score"] == pytest.approx(1.0, abs=1e-6)


def test_avss_index_png_gt_mirror(tmp_path, synth_root):
    written = write_png_folder(tmp_path, synth_root, Subset.AVSS, Layout.GT_MIRROR, encode_index_p, gt_transform)
    doc = scored(tmp_path, synth_root, Subset.AVSS)
    ref = direct_results(synth_root, Subset.AVSS, lambda c, v, gt: written[(c, v)]).to_dict()
    _approx_equal(metrics_only(doc), metrics_only(ref))
    assert all(v["miou"] == pytest.approx(1.0) for v in doc["breakdown"]["conditions"]["positive"].values())


def test_avss_save_color_mask_bicubic_360x240(tmp_path, synth_root):
    """The authors' saves: palette RGB resized to 360x240 bicubic, so edges are off-palette."""
    def encode(a: np.ndarray) -> Image.Image:
        return Image.fromarray(AVSS_PALETTE[a], "RGB").resize((360, 240), Image.BICUBIC)

    # positive only (the other conditions are filled empty) keeps this test short
    write_png_folder(tmp_path, synth_root, Subset.AVSS, Layout.SAVE_MASK, encode, gt_transform,
                     conditions=(Condition.POSITIVE,))
    doc = scored(tmp_path, synth_root, Subset.AVSS, missing="empty")
    assert doc["provenance"]["layouts"]["positive"] == "save_mask"
    assert doc["provenance"]["resized"] == doc["conditions"]["positive"]["frames"]

    # reference: nearest palette colour by a running minimum over the 71 colours, then PIL NEAREST
    cache: dict = {}

    def expected(cond, video, gt):
        if cond is not Condition.POSITIVE:
            return np.zeros_like(gt)
        if video not in cache:
            out = []
            for g in gt:
                r, gg, b = np.moveaxis(np.asarray(encode(g)).astype(np.int32), -1, 0)
                best = np.full(r.shape, np.iinfo(np.int32).max, np.int32)
                idx = np.zeros(r.shape, np.uint8)
                for c, (pr, pg, pb) in enumerate(AVSS_PALETTE.astype(np.int32)):
                    d = (r - pr) ** 2 + (gg - pg) ** 2 + (b - pb) ** 2
                    idx[d < best] = c
                    np.minimum(best, d, out=best)
                img = Image.fromarray(idx, "L").resize((g.shape[1], g.shape[0]), Image.NEAREST)
                out.append(np.asarray(img))
            cache[video] = np.stack(out)
        return cache[video]

    ref = direct_results(synth_root, Subset.AVSS, expected).to_dict()
    _approx_equal(metrics_only(doc), metrics_only(ref))
    assert doc["breakdown"]["conditions"]["positive"]["background"]["miou"] > 0.9


@pytest.mark.parametrize("kind", ["prob_npz", "prob_npy", "logits_named", "logits_flag", "uint8_npy", "bool_npz"])
def test_array_layouts(tmp_path, synth_root, kind):
    rng = np.random.default_rng(3)
    cache: dict = {}

    def probs(cond, video, gt):
        key = (cond, video)
        if key not in cache:
            cache[key] = np.clip(gt * 0.6 + rng.random(gt.shape) * 0.4, 0, 1).astype(np.float32)
        return cache[key]

    logit = lambda c, v, gt: (probs(c, v, gt) * 16 - 8).astype(np.float32)  # noqa: E731
    make, ref_pred, extra, logits = {
        "prob_npz": (probs, probs, {}, False),
        "prob_npy": (probs, probs, {"suffix": ".npy"}, False),
        "logits_named": (logit, logit, {"name": "logits"}, True),
        "logits_flag": (logit, logit, {"suffix": ".npy"}, True),
        "uint8_npy": (lambda c, v, g: (probs(c, v, g) * 255).astype(np.uint8),
                      lambda c, v, g: (probs(c, v, g) * 255).astype(np.uint8), {"suffix": ".npy"}, False),
        "bool_npz": (lambda c, v, g: g.astype(bool), lambda c, v, g: g.astype(bool), {}, False),
    }[kind]
    write_array_folder(tmp_path, synth_root, Subset.S4, make, **extra)
    doc = scored(tmp_path, synth_root, Subset.S4, logits=kind == "logits_flag")
    assert doc["provenance"]["layouts"]["positive"] == "array"
    ref = direct_results(synth_root, Subset.S4, ref_pred, logits=logits).to_dict()
    for cond in ref["conditions"]:
        for m in ("miou", "f_score", "fpr"):
            assert doc["conditions"][cond][m] == pytest.approx(ref["conditions"][cond][m], abs=1e-6)


# ---------------------------------------------------------------- evaluation size, missing, backends, workers
def test_eval_size_upsamples_gt_and_predictions(tmp_path, synth_root):
    write_png_folder(tmp_path, synth_root, Subset.S4, Layout.GT_MIRROR, encode_l, lambda c, v, t, g: binary_255(g))
    doc = scored(tmp_path, synth_root, Subset.S4, eval_size=(448, 448))
    assert doc["provenance"]["eval_size"] == [448, 448]
    assert doc["provenance"]["resized"] == 4 * doc["conditions"]["positive"]["frames"]
    assert doc["conditions"]["positive"]["miou"] == pytest.approx(1.0, abs=1e-6)


def test_predictions_at_512_scored_at_512(tmp_path, synth_root):
    def up(c, v, t, g):
        return np.asarray(Image.fromarray(binary_255(g), "L").resize((512, 512), Image.NEAREST))
    write_png_folder(tmp_path, synth_root, Subset.S4, Layout.SAVE_MASK, encode_l, up)
    doc = scored(tmp_path, synth_root, Subset.S4, eval_size=(512, 512))
    assert doc["provenance"]["resized"] == 0
    assert doc["conditions"]["positive"]["miou"] == pytest.approx(1.0, abs=1e-6)
    plain = scored(tmp_path, synth_root, Subset.S4)  # without --eval-size: resized down to the 224 GT
    assert plain["provenance"]["resized"] == 4 * plain["conditions"]["positive"]["frames"]


def test_missing_empty_fills_and_counts(tmp_path, synth_root, capsys):
    written = write_png_folder(tmp_path, synth_root, Subset.S4, Layout.GT_MIRROR, encode_l, prob_transform)
    victim = sorted((tmp_path / "noise").rglob("*_2.png"))[0]
    victim.unlink()
    out_json = tmp_path.parent / f"{tmp_path.name}.json"
    code, _, err = run_cli(["score", tmp_path, "--subset", "s4", "--root", synth_root, "--json", out_json], capsys)
    assert code == 2 and str(victim) in err and not out_json.exists()
    code, _, err = run_cli(["score", tmp_path, "--subset", "s4", "--root", synth_root, "--json", out_json,
                            "--missing", "empty", "--workers", "1"], capsys)
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    assert doc["provenance"]["missing_filled"] == 1
    assert doc["provenance"]["missing_filled_by_condition"]["noise"] == 1
    video = victim.parent.name

    def pred(c, v, gt):
        arr = written[(c, v)].copy()
        if c is Condition.NOISE and v == video:
            arr[1] = 0
        return arr
    ref = direct_results(synth_root, Subset.S4, pred).to_dict()
    _approx_equal(metrics_only(doc), metrics_only(ref))


def test_missing_condition_folder_filled_with_empty(tmp_path, synth_root):
    write_png_folder(tmp_path, synth_root, Subset.MS3, Layout.GT_MIRROR, encode_l, gt_transform,
                     conditions=(Condition.POSITIVE, Condition.NOISE, Condition.OFFSCREEN))
    doc = scored(tmp_path, synth_root, Subset.MS3, missing="empty")
    assert doc["provenance"]["layouts"]["silence"] == "absent"
    assert doc["provenance"]["missing_filled"] == doc["conditions"]["silence"]["frames"]
    assert doc["conditions"]["silence"]["fpr"] == 0.0


def test_numpy_and_torch_backends_agree(tmp_path, synth_root):
    pytest.importorskip("torch")
    write_png_folder(tmp_path, synth_root, Subset.S4, Layout.GT_MIRROR, encode_l, prob_transform)
    a = scored(tmp_path, synth_root, Subset.S4, eval_size=(200, 250))
    b = scored(tmp_path, synth_root, Subset.S4, eval_size=(200, 250), backend="torch", device="cpu")
    assert b["provenance"]["backend"] == "torch"
    for cond in a["conditions"]:
        for m in ("miou", "f_score", "fpr"):
            assert a["conditions"][cond][m] == pytest.approx(b["conditions"][cond][m], abs=1e-6)
    for m in ("g_miou", "g_f", "g_fpr"):
        assert a["global"][m] == pytest.approx(b["global"][m], abs=1e-6)


def test_conditions_may_be_symlinks_inside_pred(tmp_path, synth_root, capsys):
    """An audio-blind model's folders can all point at one set of masks; a loop is reported."""
    write_png_folder(tmp_path, synth_root, Subset.MS3, Layout.GT_MIRROR, encode_l, lambda c, v, t, g: binary_255(g),
                     conditions=(Condition.POSITIVE,))
    for cond in ("silence", "noise", "offscreen"):
        os.symlink(tmp_path / "positive", tmp_path / cond)
    doc = scored(tmp_path, synth_root, Subset.MS3)
    assert doc["conditions"]["noise"]["miou"] == pytest.approx(1.0, abs=1e-6)
    video_dir = next(p for p in (tmp_path / "positive").iterdir() if p.is_dir())
    os.symlink(tmp_path, video_dir / "loop")
    code, _, err = run_cli(["score", tmp_path, "--subset", "ms3", "--root", synth_root], capsys)
    assert code == 2 and "symlink loop" in err


def test_workers_do_not_change_the_json(tmp_path, synth_root):
    pred = tmp_path / "pred"
    write_png_folder(pred, synth_root, Subset.AVSS, Layout.GT_MIRROR, encode_index_p, gt_transform)
    one = score(pred, Subset.AVSS, synth_root, workers=1).to_json()
    two = score(pred, Subset.AVSS, synth_root, workers=2).to_json()
    assert one == two


def test_cli_writes_json_csv_and_prints_table(tmp_path, synth_root, capsys):
    pred = tmp_path / "pred"
    write_png_folder(pred, synth_root, Subset.S4, Layout.SAVE_MASK, encode_l, prob_transform)
    code, out, err = run_cli(["score", pred, "--subset", "s4", "--root", synth_root, "--json", tmp_path / "r.json",
                              "--csv", tmp_path / "r.csv", "--format", "markdown", "--batch-size", "1"], capsys)
    assert code == 0, err
    assert "| G-mIoU" in out and "layouts: positive=save_mask" in err
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["protocol"] == "official" and doc["batch_size"] == 1
    assert doc["provenance"]["pred_digest"].startswith("sha256:")
    assert (tmp_path / "r.csv").read_text().startswith("model,G-mIoU")


# ---------------------------------------------------------------- bad input: exit 2, names the file, writes nothing
def _good_s4(pred: Path, root: Path) -> None:
    write_png_folder(pred, root, Subset.S4, Layout.GT_MIRROR, encode_l, prob_transform)


def _first(pred: Path, cond: str = "positive") -> Path:
    return sorted((pred / cond).rglob("*.png"))[0]


def _truncate(p: Path) -> Path:
    p.write_bytes(p.read_bytes()[:60])
    return p


def _not_png(p: Path) -> Path:
    p.write_bytes(b"this is not an image")
    return p


def _bomb(p: Path) -> Path:
    Image.new("L", (5000, 4000)).save(p, format="PNG")
    return p


def _extra(p: Path) -> Path:
    q = p.parent / "notes.png"
    q.write_bytes(p.read_bytes())
    return q


def _missing(p: Path) -> Path:
    p.unlink()
    return p


def _missing_video(p: Path) -> Path:
    for q in p.parent.glob("*.png"):
        q.unlink()
    p.parent.rmdir()
    return p.parent


def _symlink_out(p: Path) -> Path:
    outside = p.parents[4] / f"outside_{p.name}"
    outside.write_bytes(p.read_bytes())
    p.unlink()
    os.symlink(outside, p)
    return p


def _top_level_file(p: Path) -> Path:
    q = p.parents[3] / "readme.txt"
    q.write_text("hi")
    return q


def _no_condition(p: Path) -> Path:
    import shutil

    folder = p.parents[2]
    shutil.rmtree(folder)
    return folder


@pytest.mark.parametrize("breaker,fragment", [
    (_truncate, "truncated"), (_not_png, "not a readable image"), (_bomb, "size cap"), (_extra, "extra file"),
    (_missing, "missing frame"), (_missing_video, "missing video"), (_symlink_out, "symlink leaves"),
    (_top_level_file, "unexpected file"), (_no_condition, "condition folder missing"),
])
def test_bad_png_inputs(tmp_path, synth_root, capsys, breaker, fragment):
    pred = tmp_path / "pred"
    _good_s4(pred, synth_root)
    culprit = breaker(_first(pred, "silence"))
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    code, out, err = run_cli(["score", pred, "--subset", "s4", "--root", synth_root, "--json", out_json,
                              "--csv", out_csv, "--workers", "1"], capsys)
    assert code == 2
    assert fragment in err and str(culprit) in err
    assert err.count("\n") == 1  # one report line
    assert not out_json.exists() and not out_csv.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".r.")]


def _arrays(pred: Path, root: Path) -> None:
    write_array_folder(pred, root, Subset.MS3, lambda c, v, g: g.astype(np.float32), suffix=".npy")


@pytest.mark.parametrize("content,fragment", [
    (lambda a: a * np.nan, "NaN"), (lambda a: a[:3], "3 frames"), (lambda a: a[0], "expected [T,H,W]"),
    (lambda a: a + 2, "outside [0, 1]"), (lambda a: np.array([None] * 5, dtype=object), "object"),
])
def test_bad_array_inputs(tmp_path, synth_root, capsys, content, fragment):
    pred = tmp_path / "pred"
    _arrays(pred, synth_root)
    victims = sorted((pred / "noise").glob("*.npy"))
    for v in victims:
        arr = np.load(v)
        obj = content(arr)
        np.save(v, obj, allow_pickle=obj.dtype == object)
    code, _, err = run_cli(["score", pred, "--subset", "ms3", "--root", synth_root, "--json", tmp_path / "r.json",
                            "--workers", "2"], capsys)
    assert code == 2 and fragment in err and str(victims[0]) in err
    assert f"{len(victims)} problem(s)" in err
    assert not (tmp_path / "r.json").exists()


def test_pickle_disguised_as_npz_is_never_loaded(tmp_path, synth_root, capsys):
    import pickle

    pred = tmp_path / "pred"
    write_array_folder(pred, synth_root, Subset.MS3, lambda c, v, g: g.astype(np.float32))
    victim = sorted((pred / "positive").glob("*.npz"))[0]
    victim.write_bytes(pickle.dumps({"pred": np.zeros(3)}))
    code, _, err = run_cli(["score", pred, "--subset", "ms3", "--root", synth_root], capsys)
    assert code == 2 and str(victim) in err and "not a valid .npz" in err


def test_logits_flag_with_pngs_is_refused(tmp_path, synth_root, capsys):
    _good_s4(tmp_path / "pred", synth_root)
    code, _, err = run_cli(["score", tmp_path / "pred", "--subset", "s4", "--root", synth_root, "--logits"], capsys)
    assert code == 2 and "--logits applies to .npy/.npz" in err


def test_problem_report_is_capped_with_total(tmp_path, synth_root, capsys):
    pred = tmp_path / "pred"
    _good_s4(pred, synth_root)
    pngs = sorted(pred.rglob("*.png"))
    for p in pngs:
        _not_png(p)
    code, _, err = run_cli(["score", pred, "--subset", "s4", "--root", synth_root, "--workers", "2"], capsys)
    assert code == 2 and f"{len(pngs)} problem(s)" in err and f"(+{len(pngs) - 20} more)" in err
