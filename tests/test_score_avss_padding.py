"""AVSS v1s/v1m zero padding (SPEC §3) through the real file path: official scores frames 5..9, canonical does not.

The golden case `avss_v1s_padded_48` (2 v1s clips, 5 real frames zero-padded to 10, a class predicted
on padded frame 7 of the first clip) is written as a tiny AVSS root plus a prediction folder, one
layout per condition, and scored with `score()` and the CLI against the official numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _scoring_helpers import encode_index_p
from PIL import Image

from avsbench_robust.cli import main
from avsbench_robust.data.avsbench import load_index
from avsbench_robust.data.classes import AVSS_CLASSES, AVSS_PALETTE
from avsbench_robust.predictions.layouts import ClipSpec, Layout, detect_layout, padded_t, padding_paths
from avsbench_robust.predictions.loader import clip_specs
from avsbench_robust.scorer import Scorer
from avsbench_robust.scoring import score
from avsbench_robust.types import Subset

GOLDEN = Path(__file__).parent / "data" / "golden"
CASE = "avss_v1s_padded_48"
TOL = 1e-6
UIDS = ("uidA", "uidB")
REAL = 5


def _golden():
    if not (GOLDEN / "semantic_metrics.npz").exists():
        pytest.skip(f"golden fixtures absent in {GOLDEN}")
    npz = np.load(GOLDEN / "semantic_metrics.npz")
    exp = json.loads((GOLDEN / "semantic_metrics.json").read_text())[CASE]
    pred = npz[CASE + "__pred"].reshape(2, 10, 48, 48)
    gt = npz[CASE + "__gt"].reshape(2, 10, 48, 48)
    assert exp["real_frames_per_video"] == REAL and not gt[:, REAL:].any()
    return pred, gt, exp


def _png(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_index_p(arr).save(path, format="PNG")


@pytest.fixture(scope="module")
def padded_tree(tmp_path_factory) -> tuple[Path, Path, np.ndarray, np.ndarray, dict]:
    """ROOT: two AVSS v1s test clips holding the golden GT; PRED: the golden predictions per condition.

    positive: flat_0based PNGs k = 0..9; silence: 10-frame .npz; offscreen: gt_mirror PNGs k = 0..9;
    noise: save_mask PNGs k = 0..4 only (padding absent, so official fills it with background).
    """
    pred, gt, exp = _golden()
    base = tmp_path_factory.mktemp("avss_padded")
    root, out = base / "root", base / "pred"
    avss = root / "AVSS"
    avss.mkdir(parents=True)
    (avss / "label2idx.json").write_text(json.dumps({n: i + 1 for i, n in enumerate(AVSS_CLASSES)}))
    rows = ["vid,uid,s_min,s_sec,a_obj,split,label"]
    for v, uid in enumerate(UIDS):
        rows.append(f"vid{v},{uid},0,0,guitar,test,v1s")
        clip = avss / "v1s" / uid
        for k in range(REAL):
            (clip / "frames").mkdir(parents=True, exist_ok=True)
            (clip / "frames" / f"{k}.jpg").write_bytes(b"")  # never opened by the scorer
            (clip / "labels_rgb").mkdir(exist_ok=True)
            Image.fromarray(AVSS_PALETTE[gt[v, k]], "RGB").save(clip / "labels_rgb" / f"{k}.png")
        (clip / "audio.wav").write_bytes(b"")
        for k in range(10):
            _png(pred[v, k], out / "positive" / uid / f"{k}.png")
            _png(pred[v, k], out / "offscreen" / "v1s" / uid / "labels_semantic" / f"{k}.png")
            if k < REAL:
                _png(pred[v, k], out / "noise" / uid / f"{uid}_{k}.png")
        (out / "silence").mkdir(parents=True, exist_ok=True)
        np.savez(out / "silence" / f"{uid}.npz", pred=pred[v])
    (avss / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root, out, pred, gt, exp


def _in_memory(pred: np.ndarray, gt: np.ndarray, protocol: str, batch: "int | None") -> dict:
    """The Scorer fed the arrays directly, padded frames passed with real_frames (the contract's path)."""
    s = Scorer("avss", protocol, batch)
    for v, uid in enumerate(UIDS):
        s.update("positive", pred[v], gt[v], video=uid, real_frames=REAL)
    return s.compute(require_global=False).to_dict()["conditions"]["positive"]


def _close(got: dict, want: dict, keys=("miou", "f_score", "miou_nobg_official", "f_score_nobg_official")) -> None:
    for k in keys:
        assert got[k] == pytest.approx(want[k], abs=TOL), k


def test_padding_files_belong_to_the_layout_not_extras():
    v1 = ClipSpec("u1", "", "v1s", (0, 1, 2, 3, 4), (0, 1, 2, 3, 4), 5, ("",) * 5)
    v2 = ClipSpec("u2", "", "v2", tuple(range(10)), tuple(range(10)), 10, ("",) * 10)
    assert padded_t(Subset.AVSS, v1) == (5, 6, 7, 8, 9) and padded_t(Subset.AVSS, v2) == ()
    assert padded_t(Subset.S4, ClipSpec("s", "cat", "", (0,), (1,), 5, ("",))) == ()
    present = {f"u1/{k}.png" for k in range(8)} | {f"u2/{k}.png" for k in range(10)}
    match = detect_layout(Subset.AVSS, [v1, v2], present)
    assert match.layout is Layout.FLAT0 and not match.extra and not match.missing
    assert match.padding == {"u1": ("u1/5.png", "u1/6.png", "u1/7.png", None, None)}
    assert padding_paths(Layout.GT_MIRROR, Subset.AVSS, v1)[0] == "v1s/u1/labels_semantic/5.png"
    assert padding_paths(Layout.FLAT1, Subset.AVSS, v1)[-1] == "u1/10.png"
    # a k = 10 file is beyond the padding: still an extra
    assert detect_layout(Subset.AVSS, [v1], {f"u1/{k}.png" for k in range(11)}).extra == ("u1/10.png",)


@pytest.mark.parametrize("batch", [1, 2])
def test_official_scores_padding_as_the_golden_loop(padded_tree, batch):
    root, out, pred, gt, exp = padded_tree
    doc = score(out, "avss", root, protocol="official", batch_size=batch, workers=1).to_dict()
    want = exp["official"][f"batch_videos_{batch}"]
    assert doc["provenance"]["layouts"] == {"positive": "flat_0based", "silence": "array", "noise": "save_mask",
                                            "offscreen": "gt_mirror"}
    for cond in ("positive", "silence", "offscreen"):
        _close(doc["conditions"][cond], {**want, "miou_nobg_official": want["miou_noBg_official"],
                                         "f_score_nobg_official": want["f_score_noBg_official"]})
        assert doc["conditions"][cond]["frames"] == 20
        got_counts = {name: v["frames"] for name, v in doc["breakdown"]["conditions"][cond].items()}
        assert got_counts == {AVSS_CLASSES[i]: int(c) for i, c in enumerate(want["class_count"]) if c}
    # noise had no padded files: background there, which drops the class predicted on padded frame 7
    nopad = pred.copy()
    nopad[:, REAL:] = 0
    _close(doc["conditions"]["noise"], _in_memory(nopad, gt, "official", batch))
    assert doc["conditions"]["noise"]["miou"] != pytest.approx(want["miou"], abs=1e-4)
    assert doc["provenance"]["avss_padding"] == {
        "scored": True, "frames": 40, "from_predictions": 30, "filled_background": 10, "ignored": 0,
        "by_condition": {"positive": {"from_predictions": 10, "filled_background": 0},
                         "silence": {"from_predictions": 10, "filled_background": 0},
                         "noise": {"from_predictions": 0, "filled_background": 10},
                         "offscreen": {"from_predictions": 10, "filled_background": 0}},
    }


def test_canonical_ignores_padded_predictions(padded_tree):
    root, out, pred, gt, _ = padded_tree
    doc = score(out, "avss", root, workers=1).to_dict()
    want = _in_memory(pred, gt, "canonical", None)
    assert want["frames"] == 10
    assert want["miou"] != pytest.approx(_in_memory(pred, gt, "official", 2)["miou"], abs=1e-4)  # padding matters
    for cond in ("positive", "silence", "noise", "offscreen"):
        _close(doc["conditions"][cond], want)
        assert doc["conditions"][cond]["frames"] == 10
    pad = doc["provenance"]["avss_padding"]
    assert (pad["scored"], pad["frames"], pad["ignored"]) == (False, 0, 30)
    assert pad["by_condition"]["silence"] == {"ignored": 10}
    # the ignored PNGs are still part of the folder digest (same files -> same digest, any protocol)
    assert doc["provenance"]["pred_files"] == 2 * (10 + 1 + 5 + 10)


def test_torch_backend_feeds_the_padding_too(padded_tree):
    pytest.importorskip("torch")
    root, out, _, _, exp = padded_tree
    doc = score(out, "avss", root, protocol="official", batch_size=2, backend="torch", workers=1).to_dict()
    assert doc["conditions"]["positive"]["miou"] == pytest.approx(exp["official"]["batch_videos_2"]["miou"], abs=TOL)


def test_cli_official_padding(padded_tree, tmp_path, capsys):
    root, out, _, _, exp = padded_tree
    target = tmp_path / "r.json"
    main(["score", str(out), "--subset", "avss", "--root", str(root), "--batch-size", "1", "--workers", "2",
          "--json", str(target)])
    err = capsys.readouterr().err
    assert "zero-padded frames scored (official): 40 (30 from predictions, 10 filled as background)" in err
    doc = json.loads(target.read_text())
    assert doc["protocol"] == "official" and doc["batch_size"] == 1
    assert doc["conditions"]["positive"]["miou"] == pytest.approx(exp["official"]["batch_videos_1"]["miou"], abs=TOL)
    assert doc["conditions"]["positive"]["f_score"] == pytest.approx(exp["official"]["batch_videos_1"]["f_score"],
                                                                     abs=TOL)
    main(["score", str(out), "--subset", "avss", "--root", str(root), "--workers", "1"])
    assert "zero-padded prediction frames ignored (canonical): 30" in capsys.readouterr().err


def test_index_of_the_tiny_root_is_v1s_5_frames(padded_tree):
    root = padded_tree[0]
    clips = clip_specs(load_index(root, "avss", "test"))
    assert [(c.video, c.label, c.frames_in_clip, c.t) for c in clips] == [
        (u, "v1s", 5, (0, 1, 2, 3, 4)) for u in UIDS]
