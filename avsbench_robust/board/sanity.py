"""Sanity rows: the toolkit's baselines scored on the embedded synthetic set, shipped with predictions.

Each entry holds its masks (one .npz per condition), so `avsb-robust ci` re-scores them on every run:
a change in the metric code that moves any number by more than 1e-6 fails CI. Expected values
(SPEC §3): visual-prior oracle G-mIoU 0; audio-visual oracle G-mIoU 1 and G-FPR 0; empty FPR 0.

Run `python -m avsbench_robust.board.sanity submissions/` to (re)write them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .._version import __version__
from ..baselines import Baseline, baseline_mask
from ..data.avsbench import load_index, read_mask
from ..data.default import resolve_root
from ..io_utils import atomic_write_bytes
from ..predictions.loader import clip_specs
from ..types import SCORED_CONDITIONS, Condition, Split, Subset
from .entries import scored_results_problems
from .rescore import prediction_files, score_predictions

SANITY_PREFIX = "sanity-"
SANITY_DATE = "2026-11-26"
TITLES = {
    Baseline.VISUAL_PRIOR: ("visual-prior oracle", "ground truth under every audio condition"),
    Baseline.AV_ORACLE: ("audio-visual oracle", "ground truth for positive audio, empty masks for negative audio"),
    Baseline.EMPTY: ("empty", "no object anywhere"),
}


def baseline_arrays(index, subset: Subset, baseline: Baseline, cond: Condition) -> dict[str, np.ndarray]:
    """video -> [T,H,W] uint8 masks of every frame of the clip (frames without GT stay empty)."""
    out = {}
    for clip in clip_specs(index):
        gts = [read_mask(p, subset) for p in clip.gt_paths]
        arr = np.zeros((clip.frames_in_clip, *gts[0].shape), np.uint8)
        for t, gt in zip(clip.t, gts):
            mask = baseline_mask(baseline, cond, gt)
            arr[t] = mask if subset.is_semantic else (mask != 0).astype(np.uint8) * np.uint8(255)
        out[clip.video] = arr
    return out


def sanity_entry_files(root: Path, subset: Subset, baseline: Baseline) -> dict[str, bytes]:
    """relative path -> bytes of one sanity entry (metadata, results, predictions)."""
    split = Split.TEST.value
    index = load_index(root, subset, split)
    arrays = {c: baseline_arrays(index, subset, baseline, c) for c in SCORED_CONDITIONS}
    results = score_predictions(index, subset, split, "canonical", None,
                                {c: (lambda a=a: iter(sorted(a.items()))) for c, a in arrays.items()})
    title, what = TITLES[baseline]
    files, preds = prediction_files(arrays)
    meta = {
        "schema_version": 1, "model": f"Sanity: {title}", "variant": "baseline", "backbone": None,
        "subset": subset.value, "split": split, "dataset": "synthetic", "protocol": "canonical",
        "source": "reference", "links": {"paper": None, "code": None}, "date": SANITY_DATE,
        "toolkit_version": __version__, "batch_size": None, "eval_size": None,
        "command": f"python -m avsbench_robust.board.sanity submissions/  ({baseline.value})",
        "notes": f"{what}; scored by the toolkit on the embedded synthetic set ({root.name}).",
        "predictions": preds,
    }
    files["metadata.json"] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8")
    doc = results.to_dict()
    problems = scored_results_problems(doc)
    if problems:  # the scorer's own output must pass the board's checks; anything else is a toolkit bug
        raise RuntimeError(f"sanity {subset.value}/{baseline.value}: {problems}")
    files["results.json"] = (json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")
    return files


def write_sanity_entries(submissions: Path, root: Path | None = None) -> list[Path]:
    root = resolve_root(root)
    written = []
    for subset in Subset:
        for baseline in Baseline:
            folder = submissions / f"{SANITY_PREFIX}{subset.value}-{baseline.value}"
            for rel, data in sanity_entry_files(root, subset, baseline).items():
                atomic_write_bytes(folder / rel, data)
                written.append(folder / rel)
    return written


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    for p in write_sanity_entries(Path(sys.argv[1] if len(sys.argv) > 1 else "submissions")):
        print(p)
