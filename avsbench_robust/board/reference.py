"""Reference leaderboard entries from a `predict` folder: the PNGs packed as .npz, results from `score --json`.

The .npz arrays hold the PNG bytes' values unchanged (uint8, p = v/255), so `avsb-robust ci` re-scores
exactly what `score` saw; `reference_entry_files` re-scores them itself and refuses to write an entry
whose numbers differ from the given results.json by more than the CI tolerance.

    python -m avsbench_robust.board.reference PRED RESULTS_JSON OUT_ENTRY --model M --variant V \
        --backbone B --command CMD [--notes N] [--date YYYY-MM-DD]   (see scripts/reproduce_reference.sh)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path

import numpy as np

from .._version import __version__
from ..data.avsbench import load_index
from ..data.default import resolve_root
from ..errors import AVSBRobustError, InputFileError, ValidationError
from ..io_utils import atomic_write_bytes
from ..predictions.loader import ClipSpec, clip_specs
from ..provenance import portable_command
from ..types import OPTIONAL_CONDITIONS, SCORED_CONDITIONS, Condition, Subset
from .ci import TOLERANCE
from .entries import scored_results_problems
from .rescore import compare_results, prediction_files, score_predictions


def _pred_png(pred: Path, cond: Condition, subset: Subset, clip: ClipSpec, k: int) -> Path:
    """The file `predict` writes for frame k (1-based) of a clip (docs/models.md, "Predict and score")."""
    if subset is Subset.S4:
        return pred / cond.value / clip.category / clip.video / f"{clip.video}_{k}.png"
    return pred / cond.value / clip.video / f"{clip.video}_{k}.png"


def read_prediction_arrays(pred: Path, subset: Subset, clips: list[ClipSpec], cond: Condition) -> dict[str, np.ndarray]:
    """video -> [T,H,W] uint8 of every frame's 8-bit probability PNG (values kept as written)."""
    from PIL import Image

    if subset.is_semantic:
        raise ValidationError("reference entry", ["only binary subsets (s4, ms3) are packed by this tool"])
    out = {}
    for clip in clips:
        frames = []
        for k in range(1, clip.frames_in_clip + 1):
            path = _pred_png(pred, cond, subset, clip, k)
            if not path.is_file():
                raise InputFileError(path, "prediction missing")
            with Image.open(path) as im:
                if im.mode != "L":
                    raise InputFileError(path, f"expected an 8-bit grey PNG, got mode {im.mode}")
                frames.append(np.asarray(im, dtype=np.uint8))
        if len({f.shape for f in frames}) != 1:
            raise InputFileError(pred / cond.value, f"{clip.video}: frames of different sizes")
        out[clip.video] = np.stack(frames)
    return out


def synthetic_dataset_of(root: Path) -> str:
    """The entry `dataset` of a synthetic tree (from its SYNTHETIC.json: seed and videos)."""
    from ..data.default import synthetic_dataset_name
    from ..data.synthetic import MARKER
    from ..io_utils import read_json

    marker = Path(root) / MARKER
    if not marker.is_file():
        raise InputFileError(marker, "reference entries are made on a synthetic tree (SYNTHETIC.json missing)")
    info = read_json(marker)
    return synthetic_dataset_name(int(info["seed"]), int(info["videos"]))


def reference_entry_files(pred: Path, results: dict, root: Path, *, model: str, variant: str, backbone: str | None,
                          command: str, notes: str, date: str) -> dict[str, bytes]:
    """relative path -> bytes of one `source: reference` entry on the synthetic tree at `root`."""
    subset = Subset.parse(results["subset"])
    split = results["split"]
    index = load_index(root, subset, split)
    clips = clip_specs(index)
    optional = [c for c in OPTIONAL_CONDITIONS if (pred / c.value).is_dir()]  # unseen, where it was predicted
    arrays = {c: read_prediction_arrays(pred, subset, clips, c) for c in (*SCORED_CONDITIONS, *optional)}
    fresh = score_predictions(index, subset, split, results["protocol"], results.get("batch_size"),
                              {c: (lambda a=a: iter(sorted(a.items()))) for c, a in arrays.items()}).to_dict()
    diffs = compare_results(results, fresh, TOLERANCE)
    if diffs:
        raise ValidationError("reference entry", [f"packed predictions re-score differently: {d}" for d in diffs[:5]])
    problems = scored_results_problems(results)
    if problems:
        raise ValidationError("reference entry results", problems)
    files, preds = prediction_files(arrays)
    meta = {
        "schema_version": 1, "model": model, "variant": variant, "backbone": backbone, "subset": subset.value,
        "split": split, "dataset": synthetic_dataset_of(root), "protocol": results["protocol"], "source": "reference",
        "links": {"paper": None, "code": None}, "date": date, "toolkit_version": __version__,
        "batch_size": results.get("batch_size"), "eval_size": None, "command": portable_command(command), "notes": notes,
        "predictions": preds,
    }
    files["metadata.json"] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8")
    files["results.json"] = (json.dumps(results, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")
    return files


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - exercised by scripts/reproduce_reference.sh
    ap = argparse.ArgumentParser(prog="python -m avsbench_robust.board.reference")
    ap.add_argument("pred", type=Path)
    ap.add_argument("results_json", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--model", required=True)
    ap.add_argument("--variant", required=True)
    ap.add_argument("--backbone", default=None)
    ap.add_argument("--command", required=True)
    ap.add_argument("--notes", default="")
    ap.add_argument("--date", default=_dt.date.today().isoformat())
    a = ap.parse_args(argv)
    try:
        try:
            results = json.loads(a.results_json.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputFileError(a.results_json, f"not a results JSON ({exc})") from None
        files = reference_entry_files(a.pred, results, resolve_root(a.root, announce=False), model=a.model,
                                      variant=a.variant, backbone=a.backbone, command=a.command, notes=a.notes,
                                      date=a.date)
    except AVSBRobustError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    for rel, data in files.items():  # everything is computed before the first write
        atomic_write_bytes(a.out / rel, data)
    print(a.out)


if __name__ == "__main__":  # pragma: no cover
    main()
