"""The shipped reference model (reference/<name>/model.npz): pickle-free loading, predict -> score, entry packing."""
from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from avsbench_robust.board.reference import reference_entry_files  # noqa: E402
from avsbench_robust.board.rescore import compare_results, score_predictions  # noqa: E402
from avsbench_robust.data.avsbench import load_index  # noqa: E402
from avsbench_robust.errors import InputFileError  # noqa: E402
from avsbench_robust.models import build_model  # noqa: E402
from avsbench_robust.models.configs import model_config  # noqa: E402
from avsbench_robust.models.export import export_run, npz_compressed_bytes, state_to_arrays  # noqa: E402
from avsbench_robust.models.pretrained import read_npz_state_dict  # noqa: E402
from avsbench_robust.predict import PREDICT_JSON, predict  # noqa: E402
from avsbench_robust.scoring import score  # noqa: E402
from avsbench_robust.train import load_checkpoint  # noqa: E402
from avsbench_robust.types import Subset  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "avsegformer-r50-small-s4-cgsl"


def test_reference_folder_is_small_and_pickle_free() -> None:
    files = sorted(p.name for p in REFERENCE.iterdir())
    assert files == ["checkpoint.json", "model.npz"]
    assert (REFERENCE / "model.npz").stat().st_size < 6 * 2**20
    meta = json.loads((REFERENCE / "checkpoint.json").read_text())
    assert meta["model_config"]["cgsl"] is True and meta["model_config"]["subset"] == "s4"
    with np.load(REFERENCE / "model.npz", allow_pickle=False) as npz:
        kinds = {npz[k].dtype.str for k in npz.files}
    assert kinds <= {"<f4", "<i8"}


def test_npz_state_dict_round_trip_loads_strictly(tmp_path: Path) -> None:
    mcfg = dataclasses.replace(model_config("tpavi", "pvt_v2_b5", "s4", "small", True), image_size=64)
    net = build_model(mcfg)
    state = net.state_dict()
    path = tmp_path / "m.npz"
    path.write_bytes(npz_compressed_bytes(state_to_arrays(state)))
    back = read_npz_state_dict(path)
    assert list(back) == list(state)
    assert all(torch.equal(back[k], state[k].float() if state[k].is_floating_point() else state[k]) for k in state)
    build_model(mcfg).load_state_dict(back, strict=True)


def test_npz_with_an_object_array_or_garbage_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    np.savez(buf, w=np.array([{"a": 1}], dtype=object), allow_pickle=True)
    bad = tmp_path / "obj.npz"
    bad.write_bytes(buf.getvalue())
    with pytest.raises(InputFileError, match="obj.npz"):
        read_npz_state_dict(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="junk.npz"):
        read_npz_state_dict(junk)


def test_export_of_a_run_reloads_identically(tmp_path: Path) -> None:
    meta, state = load_checkpoint(REFERENCE)
    run = tmp_path / "run"
    run.mkdir()
    torch.save(state, run / "model.pt")
    (run / "checkpoint.json").write_text(json.dumps({**meta, "root": "/x"}))
    out = export_run(run, tmp_path / "exported")
    meta2, state2 = load_checkpoint(out)
    assert meta2["exported_from"]["root"] == "<x>" and "root" not in meta2  # no machine path is shipped
    assert all(torch.equal(state[k], state2[k]) for k in state)


def test_export_of_the_best_epoch_says_which_weights_it_holds(tmp_path: Path) -> None:
    meta, state = load_checkpoint(REFERENCE)
    run = tmp_path / "run"
    run.mkdir()
    best = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, run / "model.pt")
    torch.save(best, run / "model_best.pt")
    (run / "checkpoint.json").write_text(json.dumps({**meta, "best": {"epoch": 3, "metric": "positive_miou",
                                                                       "value": 0.5}}))
    meta2, state2 = load_checkpoint(export_run(run / "model_best.pt", tmp_path / "exported"))
    assert meta2["weights_epoch"] == {"epoch": 3, "metric": "positive_miou", "value": 0.5}
    assert meta2["exported_from"]["run"] == "<run>"
    assert all(torch.equal(best[k], state2[k]) for k in best)


def test_predict_with_reference_npz_writes_a_scoreable_folder(synth_root: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def no_unpickling(*a, **k):
        raise AssertionError("torch.load called on the reference-model path")

    monkeypatch.setattr(torch, "load", no_unpickling)
    pred = tmp_path / "pred"
    info = predict(REFERENCE, pred, root=synth_root, gate_tau=0.5, progress=False, log=lambda s: None)
    assert info["checkpoint_sha256"] and info["variant"].endswith("+cgsl+gate0.5")
    assert json.loads((pred / PREDICT_JSON).read_text())["gate_tau"] == 0.5
    res = score(pred, "s4", synth_root).to_dict()
    assert set(res["conditions"]) == {"positive", "silence", "noise", "offscreen"}
    assert 0.0 <= res["global"]["g_miou"] <= 1.0

    # packed as a reference entry, the masks re-score to exactly the same numbers
    files = reference_entry_files(pred, res, synth_root, model="TPAVI-PVT small", variant="+cgsl+gate0.5",
                                  backbone="pvt_v2_b5", command="pytest", notes="", date="2026-11-26")
    assert sorted(files) == ["metadata.json", "predictions/noise.npz", "predictions/offscreen.npz",
                             "predictions/positive.npz", "predictions/silence.npz", "results.json"]
    arrays = {}
    for cond in ("positive", "silence", "noise", "offscreen"):
        with np.load(io.BytesIO(files[f"predictions/{cond}.npz"]), allow_pickle=False) as npz:
            arrays[cond] = {k: npz[k] for k in npz.files}
            assert all(a.dtype == np.uint8 and a.ndim == 3 for a in arrays[cond].values())
    from avsbench_robust.types import Condition

    index = load_index(synth_root, Subset.S4, "test")
    fresh = score_predictions(index, Subset.S4, "test", "canonical", None,
                              {Condition(c): (lambda a=a: iter(sorted(a.items()))) for c, a in arrays.items()})
    assert compare_results(res, fresh.to_dict(), 1e-6) == []
    meta = json.loads(files["metadata.json"])
    assert meta["source"] == "reference" and meta["dataset"] == "synthetic-seed0-videos2"  # the tree it was made on


def test_entry_refuses_results_that_do_not_match_the_masks(synth_root: Path, tmp_path: Path) -> None:
    pred = tmp_path / "pred"
    predict(REFERENCE, pred, root=synth_root, progress=False, log=lambda s: None)
    res = score(pred, "s4", synth_root).to_dict()
    res["global"]["g_miou"] = res["global"]["g_miou"] + 0.01
    from avsbench_robust.errors import ValidationError

    with pytest.raises(ValidationError, match="re-score differently"):
        reference_entry_files(pred, res, synth_root, model="m", variant="v", backbone=None, command="c",
                              notes="", date="2026-11-26")


@pytest.mark.slow
def test_failed_predict_leaves_nothing_behind(synth_root: Path, tmp_path: Path, capsys) -> None:
    """A corrupt frame in the last clip fails the run mid-way: one error line, nothing left behind."""
    import shutil

    from avsbench_robust.cli import main

    root = tmp_path / "root"
    shutil.copytree(synth_root / "Single-source", root / "Single-source")
    frames = sorted((root / "Single-source" / "s4_data" / "visual_frames" / "test").rglob("*.png"))
    frames[-1].write_bytes(b"\x89PNG not really")  # the last clip: earlier ones are written when it fails
    with pytest.raises(SystemExit) as exc:
        main(["predict", "--checkpoint", "avsegformer-r50-small-s4-cgsl", "--root", str(root), "--out",
              str(tmp_path / "pred"), "--conditions", "positive", "--batch-size", "1", "--no-progress"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error")]
    assert exc.value.code != 0 and len(err) == 1 and frames[-1].name in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]
