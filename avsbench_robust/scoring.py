"""`score()`: frame index -> GT -> prediction folder -> Scorer -> Results with provenance.

The orchestration only: layouts and decoding live in `predictions`, metrics in `scorer`.
Nothing is computed into a result unless every prediction file validated: structural problems
(missing, extra, symlinks) stop the run before any decoding; content problems found while
decoding stop feeding the scorer and are all listed at the end, and no Results are returned.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import TORCH_HINT, DatasetLayoutError, MissingDependencyError, ValidationError
from .predictions.decode import DEFAULT_MAX_PIXELS
from .predictions.loader import (
    SHOWN_PROBLEMS,
    ClipData,
    MissingPolicy,
    PredictionPlan,
    clip_specs,
    default_workers,
    iter_clips,
    make_tasks,
    plan_predictions,
)
from .provenance import PATH_BASE, negative_features_of, portable_path
from .results import Results
from .safetext import safe_text
from .types import Split, Subset

BACKENDS: tuple[str, ...] = ("numpy", "torch")
#: Largest --eval-size side: 2048 x 2048 keeps a 10-frame clip's four conditions under ~1 GB per worker
#: (AVSegFormer's protocol evaluates at 512; the AVSBench masks are 224 to 1280 wide).
MAX_EVAL_SIDE = 2048


def folder_digest(entries: Sequence[tuple[str, str]]) -> str:
    """sha256 over (relative path, file sha256) pairs in sorted order: same files -> same digest."""
    h = hashlib.sha256()
    for rel, sha in sorted(entries):
        h.update(f"{rel}\t{sha}\n".encode("utf-8"))
    return "sha256:" + h.hexdigest()


def _torch_device(backend: str, device: "str | None") -> Any:
    if backend == "numpy":
        if device not in (None, "cpu"):
            raise ValidationError("options", [f"--device {device} needs --backend torch"])
        return None
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(f"--backend torch needs PyTorch, which is not installed: {TORCH_HINT}") from None
    try:
        dev = torch.device(device or "cpu")
    except RuntimeError:
        raise ValidationError("options", [f"--device {device}: not a torch device (cpu, cuda, cuda:1, ...)"]) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValidationError("options", [f"--device {device}: CUDA is not available on this machine"])
    return dev


def _check_options(backend: str, eval_size: "Sequence[int] | None", workers: "int | None") -> None:
    problems = []
    if backend not in BACKENDS:
        problems.append(f"unknown backend {backend!r} (expected one of: {', '.join(BACKENDS)})")
    if eval_size is not None and not _eval_size_ok(eval_size):
        problems.append(f"eval size must be two integers H W in 1..{MAX_EVAL_SIDE}, got {safe_text(list(eval_size) if isinstance(eval_size, (list, tuple)) else eval_size)}")
    if workers is not None and workers < 1:
        problems.append(f"workers must be at least 1, got {workers}")
    if problems:
        raise ValidationError("options", problems)


def _eval_size_ok(eval_size: Any) -> bool:
    if isinstance(eval_size, (str, bytes)) or not isinstance(eval_size, Sequence) or len(eval_size) != 2:
        return False
    return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 1 <= v <= MAX_EVAL_SIDE
               for v in eval_size)


def _check_logits(plan: PredictionPlan, logits: bool) -> None:
    if not logits:
        return
    pngs = [f"{cp.folder}" for cp in plan.conditions.values() if cp.layout is not None and not cp.layout.is_array]
    if pngs:
        raise ValidationError("options", [f"{p}: --logits applies to .npy/.npz arrays, not PNG files" for p in pngs])


def score(
    pred_dir: "str | Path",
    subset: "Subset | str",
    root: "str | Path | None" = None,
    *,
    split: "Split | str" = Split.TEST,
    protocol: str = "canonical",
    batch_size: "int | None" = None,
    backend: str = "numpy",
    device: "str | None" = None,
    eval_size: "Sequence[int] | None" = None,
    missing: "MissingPolicy | str" = MissingPolicy.ERROR,
    workers: "int | None" = None,
    logits: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = False,
) -> Results:
    """Score the prediction folder `pred_dir` (one sub-folder per condition) against `root`'s GT.

    `root=None` uses the embedded synthetic dataset. `eval_size=(H, W)` evaluates at that size
    (GT resized by nearest neighbour, as AVSegFormer's 512 protocol); otherwise predictions are
    resized to each GT mask. `missing="empty"` fills absent frames with empty masks and counts them.
    """
    from .data.avsbench import load_index
    from .data.default import dataset_kind, resolve_root
    from .scorer import Scorer

    try:
        subset = Subset.parse(subset)
        split = Split.parse(split)
        missing = MissingPolicy(str(missing))
    except ValueError as exc:
        raise ValidationError("options", [str(exc)]) from None
    _check_options(backend, eval_size, workers)
    dev = _torch_device(backend, device)
    size = None if eval_size is None else (int(eval_size[0]), int(eval_size[1]))
    # Fail on the options before touching any file: a bad protocol/batch size is cheap to report.
    scorer_args = dict(subset=subset, protocol=protocol, batch_size=batch_size)
    protocol = Scorer(**scorer_args).protocol
    # SPEC §3: the official AVSS loop scores the zero-padded frames 5..9 of v1s/v1m clips too
    score_padding = subset.is_semantic and protocol == "official"

    root_path = resolve_root(root)
    index = load_index(root_path, subset, split)
    clips = clip_specs(index)
    if not clips:
        raise DatasetLayoutError(f"{root_path}: no {subset.value} {split.value} frames with a GT mask")
    plan = plan_predictions(pred_dir, subset, clips, missing)
    _check_logits(plan, logits)

    scorer = Scorer(**scorer_args, split=split.value, video_order=[c.video for c in clips])
    # numpy backend: workers score their clips too and send back only per-video sums (merged in
    # metadata order, so the result is identical whatever the worker count); torch: here, on `dev`.
    in_worker = (subset, protocol, batch_size, split.value) if dev is None else None
    tasks = make_tasks(plan, size, logits, max_pixels, in_worker, score_padding)
    n_workers = default_workers() if workers is None else workers
    problems: list[str] = []
    digests: list[tuple[str, str]] = []
    resized: Counter = Counter()
    filled: Counter = Counter()
    padding: dict[str, Counter] = {"used": Counter(), "filled": Counter(), "ignored": Counter()}
    clips_iter = iter_clips(tasks, n_workers)
    if progress:
        from tqdm import tqdm

        clips_iter = tqdm(clips_iter, total=len(tasks), desc="score", unit="clip", disable=None)
    for clip in clips_iter:
        if clip.problems:
            problems.extend(clip.problems)
        if problems:  # keep decoding to report every problem, but compute nothing more
            continue
        digests.extend(clip.digests)
        resized.update(clip.resized)
        filled.update(clip.filled)
        padding["used"].update(clip.padded_used)
        padding["filled"].update(clip.padded_filled)
        padding["ignored"].update(clip.padded_ignored)
        if clip.scorer is not None:
            scorer.merge(clip.scorer)
        else:
            _feed(scorer, clip, dev)
    if problems:
        raise ValidationError(f"predictions in {pred_dir}", problems, shown=SHOWN_PROBLEMS)

    results = scorer.compute()
    results.provenance.update({
        "pred_dir": portable_path(pred_dir),
        "pred_digest": folder_digest(digests),
        "pred_files": len(digests),
        "gt_root": portable_path(root_path),
        "dataset": dataset_kind(root_path),
        "path_base": PATH_BASE,
        "layouts": {c.value: (str(cp.layout) if cp.layout else "absent") for c, cp in plan.conditions.items()},
        "eval_size": None if size is None else list(size),
        "resized": int(sum(resized.values())),
        "resized_by_condition": {c.value: int(n) for c, n in resized.items()},
        "missing_policy": missing.value,
        "missing_filled": int(sum(filled.values())),
        "missing_filled_by_condition": {c.value: int(n) for c, n in filled.items()},
        "logits": bool(logits),
        "backend": backend,
        "negative_features": negative_features_of(pred_dir),
    })
    if subset.is_semantic:
        results.provenance["avss_padding"] = padding_provenance(score_padding, padding)
    return results


def padding_provenance(scored: bool, counts: "dict[str, Counter]") -> dict:
    """What happened to the zero-padded frames 5..9 of AVSS v1s/v1m clips (SPEC §3), summed and per condition.

    official: `frames` padded frames were scored (GT background), `from_predictions` of them read from
    the folder, `filled_background` scored as background for want of a file; canonical: none is
    scored and `ignored` counts padded prediction frames that were present but not used.
    """
    total = {k: int(sum(c.values())) for k, c in counts.items()}
    by_cond: dict[str, dict[str, int]] = {}
    for key, name in (("used", "from_predictions"), ("filled", "filled_background"), ("ignored", "ignored")):
        for cond, n in counts[key].items():
            by_cond.setdefault(cond.value, {})[name] = int(n)
    return {
        "scored": scored,
        "frames": total["used"] + total["filled"],
        "from_predictions": total["used"],
        "filled_background": total["filled"],
        "ignored": total["ignored"],
        "by_condition": by_cond,
    }


def _feed(scorer: Any, clip: ClipData, device: Any) -> None:
    """One clip into the scorer, as numpy arrays or as tensors on `device` (GT moved once)."""
    gt = clip.gt
    if device is not None:
        import torch

        gt = torch.from_numpy(gt).to(device)
    for cond, pred in clip.preds.items():
        # decoded arrays may be read-only views of the file's bytes; torch wants writable memory
        p = pred if device is None else torch.from_numpy(pred if pred.flags.writeable else pred.copy()).to(device)
        scorer.update(cond, p, gt, video=clip.video, category=clip.category or None, real_frames=clip.real_frames)
