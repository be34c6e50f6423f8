"""A leaderboard entry from a results JSON and the prediction folder it was scored from (`avsb-robust submit`).

The folder is decoded by the scorer's own loader (any layout of docs/scoring.md, resized to the GT as
`score` did), packed as one deterministic .npz per condition, re-scored, and written only if the
re-scored numbers equal the results within the CI tolerance: the entry is then exactly what
`avsb-robust ci` will re-score ("verified" on the page). Nothing is written on any problem.
"""
from __future__ import annotations

import datetime as _dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..data.avsbench import load_index
from ..data.default import dataset_kind, recorded_root
from ..errors import ValidationError
from ..io_utils import atomic_write_bytes, make_temp_dir
from ..predictions.loader import MissingPolicy, clip_specs, default_workers, iter_clips, make_tasks, plan_predictions
from ..schemas import schema_problems
from ..types import Condition, Subset
from .ci import TOLERANCE
from .entries import DEFAULT_LIMITS, ENTRY_NAME, check_entry, metadata_problems, scored_results_problems
from .rescore import compare_results, prediction_files, score_predictions


def _pack(arr: np.ndarray, semantic: bool) -> np.ndarray:
    """The smallest dtype that holds the decoded values exactly: uint8 for 8-bit PNG probabilities and
    class maps, else float32 (what the scorer saw)."""
    if semantic or arr.dtype in (np.uint8, np.bool_):
        return arr.astype(np.uint8) if semantic else arr
    as_bytes = np.round(arr.astype(np.float64) * 255)
    if np.array_equal((as_bytes.astype(np.float32) / np.float32(255)).astype(arr.dtype), arr):
        return as_bytes.astype(np.uint8)
    return arr.astype(np.float32)


def prediction_arrays(pred_dir: Path, results: dict, root: Path, workers: int | None = None
                      ) -> dict[Condition, dict[str, np.ndarray]]:
    """condition -> video -> [frames_in_clip, H, W] as the scorer decoded them (frames without GT stay 0)."""
    subset = Subset.parse(results["subset"])
    prov = results.get("provenance") or {}
    unsupported = []
    if prov.get("eval_size"):
        unsupported.append("results scored with --eval-size cannot be packed (entries are re-scored at the GT size)")
    if prov.get("logits"):
        unsupported.append("results scored from logits: save probabilities (sigmoid) and score them again")
    if subset.is_semantic and results["protocol"] == "official":
        unsupported.append("AVSS under the official protocol (zero-padded frames) cannot be re-scored from an entry; "
                           "submit the canonical results")
    if unsupported:
        raise ValidationError("submit", unsupported)
    index = load_index(root, subset, results["split"])
    clips = clip_specs(index)
    plan = plan_predictions(pred_dir, subset, clips, MissingPolicy(prov.get("missing_policy", "error")))
    tasks = make_tasks(plan, None, False)
    by_video = {c.video: c for c in clips}
    out: dict[Condition, dict[str, np.ndarray]] = {}
    problems: list[str] = []
    for clip in iter_clips(tasks, workers or default_workers()):
        problems += clip.problems
        if problems:
            continue
        spec = by_video[clip.video]
        for cond, arr in clip.preds.items():
            packed = _pack(arr, subset.is_semantic)
            full = np.zeros((spec.frames_in_clip, *packed.shape[1:]), packed.dtype)
            full[list(spec.t)] = packed[: len(spec.t)]
            out.setdefault(cond, {})[clip.video] = full
    if problems:
        raise ValidationError(f"predictions in {pred_dir}", problems, shown=20)
    return out


def entry_files(results_path: Path, pred_dir: Path, *, model: str, variant: str = "baseline",
                backbone: str | None = None, paper: str | None = None, code: str | None = None,
                root: Path | None = None, date: str | None = None, command: str | None = None,
                notes: str = "", workers: int | None = None) -> dict[str, bytes]:
    """relative path -> bytes of one `source: scored` entry; raises ValidationError on any problem."""
    try:
        results = json.loads(Path(results_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(str(results_path), [f"not a readable results JSON ({exc})"]) from None
    problems = [f"{results_path}: {p}" for p in scored_results_problems(results)]
    if problems:
        raise ValidationError("submit", problems)
    prov = results.get("provenance") or {}
    gt_root = Path(root).resolve() if root is not None else recorded_root(prov.get("gt_root"))
    if gt_root is None or not gt_root.is_dir():
        raise ValidationError("submit", [f"ground truth {root or prov.get('gt_root')} not found here: pass --root "
                                         f"(the AVSBench copy the results were scored on)"])
    arrays = prediction_arrays(Path(pred_dir), results, gt_root, workers)
    subset = Subset.parse(results["subset"])
    index = load_index(gt_root, subset, results["split"])
    fresh = score_predictions(index, subset, results["split"], results["protocol"], results.get("batch_size"),
                              {c: (lambda a=a: iter(sorted(a.items()))) for c, a in arrays.items()}).to_dict()
    diffs = compare_results(results, fresh, TOLERANCE)
    if diffs:
        raise ValidationError("submit", [f"{pred_dir} does not re-score to {results_path}: " + d for d in diffs[:5]])
    files, preds = prediction_files(arrays)
    meta: dict[str, Any] = {
        "schema_version": 1, "model": model, "variant": variant, "backbone": backbone, "subset": subset.value,
        "split": results["split"], "dataset": dataset_kind(gt_root), "protocol": results["protocol"],
        "source": "scored", "links": {"paper": paper, "code": code},
        "date": date or _dt.date.today().isoformat(), "toolkit_version": __version__,
        "batch_size": results.get("batch_size"), "eval_size": None,
        "command": command or f"avsb-robust score PRED --subset {subset.value} --json results.json",
        "notes": notes, "predictions": preds,
    }
    problems = metadata_problems(meta)
    if problems:
        raise ValidationError("submit", problems)
    doc = dict(results)
    doc["provenance"] = {k: v for k, v in prov.items() if k not in ("pred_dir", "gt_root")}  # no machine paths
    text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    if len(text.encode("utf-8")) > DEFAULT_LIMITS.results_bytes:  # the per-video sums grow with the test set
        doc.pop("per_video", None)
        text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    if schema_problems(doc, "results.schema.json"):
        raise ValidationError("submit", schema_problems(doc, "results.schema.json"))
    files["metadata.json"] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8")
    files["results.json"] = text.encode("utf-8")
    return files


def write_entry(out: Path, files: dict[str, bytes], overwrite: bool = False) -> Path:
    """Write the entry folder via a sibling temp folder (renamed into place), then check it as `ci` does."""
    out = Path(out)
    if not ENTRY_NAME.match(out.name):
        raise ValidationError(str(out), ["entry folder name must be lowercase letters, digits, '.', '_' or '-'"])
    if out.name.startswith(("paper-", "sanity-")):
        raise ValidationError(str(out), ["the 'paper-' and 'sanity-' prefixes are reserved"])
    if out.exists() and not overwrite:
        raise ValidationError(str(out), ["exists (pass --overwrite to replace it)"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out.parent, f"{out.name}.partial-")  # a valid entry name, so it is checked as one
    for rel, data in files.items():
        atomic_write_bytes(tmp / rel, data)
    entry, problems = check_entry(tmp)
    if problems:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValidationError(str(out), problems)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out
