"""Re-score an entry's shipped predictions with the toolkit's Scorer, and compare with its results.json.

Prediction format (one compressed .npz per condition, written by `write_npz`): one array per clip,
keyed by the clip's video name (AVSS: uid), shape [T, H, W] with T = every frame of the clip
(5, or 10 for AVSS v2) at the ground-truth size. Binary subsets: uint8 probabilities v/255, bool
masks or float16/float32 probabilities in [0, 1]; AVSS: uint8 class indices 0..70.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.avsbench import load_index, read_mask
from ..errors import ValidationError
from ..predictions.loader import clip_specs
from ..results import Results
from ..scorer import Scorer
from ..types import Condition, Subset
from .entries import DEFAULT_LIMITS, Entry, Limits, iter_npz

RESULT_SECTIONS = ("conditions", "negative", "global", "breakdown")
OPTIONAL_SECTIONS = ("curves", "intervals")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """A deterministic compressed .npz (sorted members, fixed timestamps): same arrays -> same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()



def prediction_files(arrays: "Mapping[Condition, Mapping[str, np.ndarray]]") -> tuple[dict[str, bytes], dict[str, str]]:
    """An entry's `predictions/<condition>.npz` files and the metadata map condition -> relative path."""
    files = {f"predictions/{cond.value}.npz": npz_bytes(arr) for cond, arr in arrays.items()}
    return files, {cond.value: f"predictions/{cond.value}.npz" for cond in arrays}

def score_predictions(
    index: pd.DataFrame,
    subset: Subset,
    split: str | None,
    protocol: str,
    batch_size: int | None,
    predictions: Mapping[Condition, Callable[[], Iterator[tuple[str, np.ndarray]]]],
) -> Results:
    """Score per-condition (video -> [T,H,W]) arrays against the GT of `index`; every clip must be present once."""
    clips = clip_specs(index)
    by_video = {c.video: c for c in clips}
    scorer = Scorer(subset, protocol, batch_size, split=split, video_order=[c.video for c in clips])
    problems: list[str] = []
    gt_cache: dict[str, np.ndarray] = {}
    for cond in sorted(predictions, key=lambda c: list(Condition).index(c)):
        seen: set[str] = set()
        for video, arr in predictions[cond]():
            clip = by_video.get(video)
            if clip is None:
                problems.append(f"{cond.value}: array {video!r} is not a clip of {subset.value}/{split}")
                continue
            seen.add(video)
            if arr.ndim != 3 or arr.shape[0] != clip.frames_in_clip:
                problems.append(f"{cond.value}: {video}: shape {arr.shape}, expected [{clip.frames_in_clip}, H, W]")
                continue
            if video not in gt_cache:
                gt_cache[video] = np.stack([read_mask(p, subset) for p in clip.gt_paths])
            gt = gt_cache[video]
            pred = arr[list(clip.t)]
            if pred.shape != gt.shape:
                problems.append(f"{cond.value}: {video}: frames {pred.shape[1:]} but ground truth is {gt.shape[1:]}")
                continue
            try:
                scorer.update(cond, pred, gt, video=video, category=clip.category or None)
            except ValidationError as exc:
                problems.append(f"{cond.value}: {exc}")
        missing = sorted(set(by_video) - seen)
        if missing:
            problems.append(f"{cond.value}: no prediction for {len(missing)} clip(s): {', '.join(missing[:5])}")
        if len(problems) > 10:
            break
    if problems:
        raise ValidationError("predictions", problems)
    return scorer.compute(sync=False)


def rescore_entry(entry: Entry, root: Path, limits: Limits = DEFAULT_LIMITS) -> dict:
    """The results document the toolkit computes today from the entry's shipped predictions."""
    meta = entry.metadata
    subset = Subset.parse(meta["subset"])
    index = load_index(root, subset, meta["split"])
    preds = {cond: (lambda p=path: iter_npz(p, limits)) for cond, path in entry.predictions.items()}
    batch = entry.results.get("batch_size")
    results = score_predictions(index, subset, meta["split"], meta["protocol"], batch, preds)
    return results.to_dict()


def _leaves(doc: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(doc, list) and doc and all(isinstance(v, (int, float)) for v in doc):
        return {f"{prefix}[{i}]": v for i, v in enumerate(doc)}  # curves, intervals: each value within tol
    return {prefix: doc}


def compare_results(stored: dict, fresh: dict, tol: float = 1e-6) -> list[str]:
    """Differences above `tol` in every metric the two documents hold (missing keys count as differences).

    Curves and intervals are compared when the stored document has them (older entries do not)."""
    sections = RESULT_SECTIONS + tuple(s for s in OPTIONAL_SECTIONS if s in stored)
    a = {k: v for s in sections for k, v in _leaves(stored.get(s), s).items()}
    b = {k: v for s in sections for k, v in _leaves(fresh.get(s), s).items()}
    diffs = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key, "<missing>"), b.get(key, "<missing>")
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            if abs(float(x) - float(y)) > tol:
                diffs.append(f"{key}: results.json {x!r}, re-scored {y!r}")
        elif x != y:
            diffs.append(f"{key}: results.json {x!r}, re-scored {y!r}")
    return diffs
