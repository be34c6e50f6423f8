"""Plan, validate and decode a prediction folder clip by clip, in parallel worker processes.

`plan_predictions` lists PRED once, detects each condition folder's layout and reports every
structural problem (missing, extra, symlinks leaving PRED) before a single file is decoded.
`iter_clips` then decodes clips in metadata order (workers or not, the order and bytes are the
same) and hands each clip's GT and per-condition predictions to the caller.
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from ..errors import AVSBRobustError, ValidationError
from ..types import SCORED_CONDITIONS, Condition, Subset
from ..workers import imap_ordered
from .decode import DEFAULT_MAX_PIXELS, DecodeProblem, decode_array, decode_png
from .layouts import ClipSpec, Layout, LayoutMatch, detect_layout, frame_paths, padded_t
from .resize import resize_nearest, to_eval
from .scan import scan_tree

#: Files above this size are refused unread (real prediction files are far smaller).
MAX_FILE_BYTES = 2 << 30
#: How many problems an error message lists before "(+N more)".
SHOWN_PROBLEMS = 20


class MissingPolicy(str, Enum):
    """What a missing prediction means: an error (default), or an empty mask, counted in the results."""

    ERROR = "error"
    EMPTY = "empty"

    def __str__(self) -> str:
        return self.value


def clip_specs(index: pd.DataFrame) -> list[ClipSpec]:
    """Clips of a frame index (load_index rows) in metadata order, keeping only frames with a GT mask."""
    rows = index[index["mask_path"].notna()]
    cols = {c: rows[c].tolist() for c in ("category", "label", "t", "frame", "frames_in_clip", "mask_path")}
    specs = []
    for video, idx in rows.groupby("video", sort=False).indices.items():
        first = idx[0]
        specs.append(ClipSpec(
            video=str(video), category=str(cols["category"][first]), label=str(cols["label"][first]),
            t=tuple(int(cols["t"][i]) for i in idx), k=tuple(int(cols["frame"][i]) for i in idx),
            frames_in_clip=int(cols["frames_in_clip"][first]), gt_paths=tuple(str(cols["mask_path"][i]) for i in idx),
        ))
    return specs


@dataclass(frozen=True)
class ConditionPlan:
    """Where one condition's predictions are; `match` is None for a folder that is absent (filled empty)."""

    condition: Condition
    folder: Path
    match: "LayoutMatch | None"

    @property
    def layout(self) -> "Layout | None":
        return None if self.match is None else self.match.layout

    def clip_files(self, video: str) -> "tuple[Path | None, ...] | None":
        if self.match is None:
            return None
        return tuple(None if r is None else self.folder / r for r in self.match.files[video])

    def padding_files(self, video: str) -> "tuple[Path | None, ...]":
        """PNG files of an AVSS v1s/v1m clip's zero-padded frames 5..9 (None where absent); () otherwise."""
        if self.match is None:
            return ()
        return tuple(None if r is None else self.folder / r for r in self.match.padding.get(video, ()))


@dataclass(frozen=True)
class PredictionPlan:
    """A validated prediction folder: per condition its layout and the file of every frame."""

    root: Path
    subset: Subset
    clips: list[ClipSpec]
    conditions: dict[Condition, ConditionPlan]
    missing_frames: dict[Condition, int]


def _missing_problems(pred_dir: Path, cond: Condition, match: LayoutMatch, subset: Subset,
                      clips: Sequence[ClipSpec]) -> list[str]:
    """Whole missing videos as one line each, then single missing frames, in metadata order."""
    out = []
    folder = pred_dir / cond.value
    for clip in clips:
        found = match.files[clip.video]
        if all(f is None for f in found):
            where = f"{clip.video}.npz (or .npy)" if match.layout.is_array else \
                str(Path(frame_paths(match.layout, subset, clip)[0]).parent)
            out.append(f"{folder / where}: missing video {clip.video} ({len(clip.t)} frames)")
        elif not match.layout.is_array:
            for rel, f in zip(frame_paths(match.layout, subset, clip), found):
                if f is None:
                    out.append(f"{folder / rel}: missing frame")
    return out


def plan_predictions(
    pred_dir: "str | Path", subset: Subset, clips: list[ClipSpec], missing: str = MissingPolicy.ERROR,
    required: Sequence[Condition] = SCORED_CONDITIONS,
) -> PredictionPlan:
    """List PRED, pick each condition's layout, and raise one ValidationError for every structural problem."""
    shown = Path(pred_dir)
    if not shown.is_dir():
        raise ValidationError(f"prediction folder {shown}", [f"{shown}: not a folder"])
    root = shown.resolve()
    listing = scan_tree(root, root)
    problems = [p.replace(str(root), str(shown), 1) for p in listing.problems]
    by_cond: dict[str, set[str]] = {}
    names = {c.value for c in Condition}
    for rel in sorted(listing.files):
        head, _, rest = rel.partition("/")
        if head in names and rest:
            by_cond.setdefault(head, set()).add(rest)
        else:
            problems.append(f"{shown / rel}: unexpected file (PRED holds one folder per condition: "
                            f"{', '.join(sorted(names))})")
    lenient = MissingPolicy(missing) is MissingPolicy.EMPTY
    conditions: dict[Condition, ConditionPlan] = {}
    missing_frames: dict[Condition, int] = {}
    total = sum(len(c.t) for c in clips)
    for cond in Condition:
        folder = shown / cond.value
        files = by_cond.get(cond.value)
        if not files:
            if cond in required:
                if lenient:
                    conditions[cond] = ConditionPlan(cond, folder, None)
                    missing_frames[cond] = total
                else:
                    problems.append(f"{folder}: condition folder missing or empty")
            continue
        match = detect_layout(subset, clips, files)
        if match.matched == 0:
            example = sorted(files)[0]
            problems.append(f"{folder}: no file matches a known layout for {subset.value} "
                            f"({len(files)} files, e.g. {example}; see docs/scoring.md)")
            continue
        conditions[cond] = ConditionPlan(cond, folder, match)
        n_missing = sum(f is None for fs in match.files.values() for f in fs)
        if match.layout.is_array:
            n_missing = sum(len(c.t) for c in clips if match.files[c.video][0] is None)
        missing_frames[cond] = n_missing
        if n_missing and not lenient:
            problems.extend(_missing_problems(shown, cond, match, subset, clips))
        problems.extend(f"{folder / rel}: extra file (not expected under layout {match.layout})"
                        for rel in match.extra)
    if problems:
        raise ValidationError(f"predictions in {shown}", problems, shown=SHOWN_PROBLEMS)
    return PredictionPlan(root=shown, subset=subset, clips=clips, conditions=conditions,
                          missing_frames=missing_frames)


# ----------------------------------------------------------------------------------------------
# Per-clip decoding (runs in worker processes)


@dataclass(frozen=True)
class CondFiles:
    """One condition's files for one clip: per GT frame (None = absent), plus the optional padded frames."""

    condition: Condition
    files: "tuple[Path | None, ...] | None"  # None: the whole condition folder is absent
    is_array: bool
    padding: "tuple[Path | None, ...]" = ()  # AVSS v1s/v1m PNG layouts: frames 5..9 (None = absent)


@dataclass(frozen=True)
class ClipTask:
    """Everything a worker needs for one clip; plain data so it pickles cheaply."""

    subset: Subset
    root: Path
    video: str
    category: str
    t: tuple[int, ...]
    frames_in_clip: int
    gt_paths: tuple[str, ...]
    preds: tuple[CondFiles, ...]
    eval_size: "tuple[int, int] | None"
    logits: bool
    max_pixels: int
    # (subset, protocol, batch_size, split): score the clip in the worker and return only the sums
    scorer_args: "tuple | None" = None
    # AVSS v1s/v1m: positions 5..9 of the zero padding; fed (GT background) only when score_padding
    padded: tuple[int, ...] = ()
    score_padding: bool = False


@dataclass
class ClipData:
    """One decoded clip: GT `[T,H,W]` and each condition's prediction at the same size.

    With padding scored (official AVSS), T = real frames + padded frames and `real_frames` is set.
    """

    video: str
    category: str
    gt: "np.ndarray | None"
    preds: dict[Condition, np.ndarray] = field(default_factory=dict)
    digests: list[tuple[str, str]] = field(default_factory=list)
    resized: dict[Condition, int] = field(default_factory=dict)
    filled: dict[Condition, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    scorer: Any = None  # a one-clip Scorer when the task asked to be scored in the worker
    real_frames: "int | None" = None
    padded_used: dict[Condition, int] = field(default_factory=dict)  # padded frames read from predictions
    padded_filled: dict[Condition, int] = field(default_factory=dict)  # padded frames scored as background
    padded_ignored: dict[Condition, int] = field(default_factory=dict)  # padded predictions present, not scored


def _read_bytes(path: "Path | str") -> bytes:
    """One open, one fstat, one read: a file swapped for a FIFO or device after the scan is refused, not
    waited on (O_NONBLOCK), and nothing over MAX_FILE_BYTES is read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DecodeProblem("not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise DecodeProblem(f"{st.st_size} bytes is too large for a prediction file")
        with open(fd, "rb", buffering=0, closefd=False) as f:
            data = f.read(st.st_size + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise DecodeProblem(f"more than {MAX_FILE_BYTES} bytes is too large for a prediction file")
    return data


def _concat(frames: list[np.ndarray]) -> np.ndarray:
    """Join `[n,H,W]` frames; mixed uint8 (v/255) and float32 frames become float32 probabilities."""
    if len(frames) == 1:
        return frames[0]
    if all(f.dtype == frames[0].dtype for f in frames):
        return np.concatenate(frames)
    return np.concatenate([f.astype(np.float32) / np.float32(255.0) if f.dtype == np.uint8 else f for f in frames])


def _read_gt(task: ClipTask) -> np.ndarray:
    from ..data.avsbench import read_mask  # imported here: workers need only this one reader

    gts = [read_mask(p, task.subset) for p in task.gt_paths]
    if task.eval_size is not None:
        gts = [resize_nearest(g, task.eval_size) for g in gts]
    if len({g.shape for g in gts}) != 1:
        raise DecodeProblem(f"GT frames of {task.video} differ in size; pass --eval-size H W")
    return np.stack(gts)


def _read_file(path: Path, task: ClipTask, out: ClipData) -> "bytes | None":
    """The file's bytes, hashed into the provenance digest; a problem is recorded and None returned."""
    try:
        data = _read_bytes(path)
    except DecodeProblem as exc:
        out.problems.append(f"{path}: {exc}")
        return None
    except OSError as exc:
        out.problems.append(f"{path}: cannot read ({exc.strerror or exc})")
        return None
    full, root = str(path), str(task.root)
    # paths are built as root/<condition>/<rel>: slicing is exact and far cheaper than Path.relative_to
    rel = full[len(root) + 1:] if full.startswith(root + os.sep) else path.relative_to(task.root).as_posix()
    out.digests.append((rel.replace(os.sep, "/"), hashlib.sha256(data).hexdigest()))
    return data


class _Frames:
    """Collects one condition's decoded frames and what was resized or filled on the way."""

    def __init__(self, hw: tuple[int, ...]) -> None:
        self.hw = hw
        self.parts: list[np.ndarray] = []
        self.resized = self.filled = self.failed = 0

    def empty(self, n: int) -> None:
        if n:
            self.parts.append(np.zeros((n, *self.hw), np.uint8))

    def add(self, arr: np.ndarray, kind: Any) -> None:
        fitted, was_resized = to_eval(arr, kind, self.hw)
        self.parts.append(fitted)
        self.resized += len(fitted) if was_resized else 0


def _png_frames(cf: CondFiles, task: ClipTask, out: ClipData, frames: _Frames, pad: tuple[int, ...]) -> None:
    semantic = task.subset.is_semantic
    real = cf.files or (None,) * len(task.t)
    # official AVSS: padded frames come from the folder when present, else background
    padding = (cf.padding or (None,) * len(pad)) if pad else ()
    used = 0
    for i, path in enumerate(real + padding):
        if path is None:
            frames.empty(1)
            if i < len(real):
                frames.filled += 1
            continue
        data = _read_file(path, task, out)
        if data is None:
            frames.failed += 1
            continue
        try:
            dec = decode_png(data, semantic, task.max_pixels)
        except DecodeProblem as exc:
            out.problems.append(f"{path}: {exc}")
            frames.failed += 1
            continue
        frames.add(dec.array[None], dec.kind)
        used += i >= len(real)
    if pad:
        out.padded_used[cf.condition] = used
        out.padded_filled[cf.condition] = len(pad) - used
    else:
        ignored = [p for p in cf.padding if p is not None]
        for path in ignored:  # canonical: accepted, in the digest, never decoded
            _read_file(path, task, out)
        if ignored:
            out.padded_ignored[cf.condition] = len(ignored)


def _array_frames(cf: CondFiles, task: ClipTask, out: ClipData, frames: _Frames, pad: tuple[int, ...]) -> None:
    path = None if cf.files is None else cf.files[0]
    n = len(task.t)
    if path is None:
        frames.empty(n + len(pad))
        frames.filled += n
        if pad:
            out.padded_filled[cf.condition] = len(pad)
        return
    data = _read_file(path, task, out)
    if data is None:
        frames.failed += 1
        return
    try:
        dec = decode_array(data, path.suffix, task.frames_in_clip, task.subset.is_semantic, task.logits,
                           task.max_pixels)
    except DecodeProblem as exc:
        out.problems.append(f"{path}: {exc}")
        frames.failed += 1
        return
    has_pad = dec.array.shape[0] > task.frames_in_clip  # an AVSS v1 clip saved zero-padded to 10
    take = list(task.t) + (list(pad) if has_pad else [])
    # take is an increasing subset of the array's frames: all of them needs no copy
    frames.add(dec.array if len(take) == dec.array.shape[0] else dec.array[take], dec.kind)
    if pad:
        out.padded_used[cf.condition] = len(pad) if has_pad else 0
        out.padded_filled[cf.condition] = 0 if has_pad else len(pad)
        if not has_pad:
            frames.empty(len(pad))
    elif has_pad:
        out.padded_ignored[cf.condition] = dec.array.shape[0] - task.frames_in_clip


def load_clip(task: ClipTask) -> ClipData:
    """Read and decode one clip's GT and predictions; problems are collected, never raised."""
    out = ClipData(task.video, task.category, None)
    try:
        gt = _read_gt(task)
    except (AVSBRobustError, DecodeProblem) as exc:
        out.problems.append(str(exc))
        return out
    hw = tuple(gt.shape[1:])
    pad = task.padded if task.score_padding else ()
    if pad:  # the official loop's zero padding: background GT after the real frames
        gt = np.concatenate([gt, np.zeros((len(pad), *hw), gt.dtype)])
        out.real_frames = len(task.t)
    out.gt = gt
    for cf in task.preds:
        frames = _Frames(hw)
        if cf.is_array:
            _array_frames(cf, task, out, frames, pad)
        else:
            _png_frames(cf, task, out, frames, pad)
        if not frames.failed:
            out.preds[cf.condition] = _concat(frames.parts)
        out.resized[cf.condition] = frames.resized
        out.filled[cf.condition] = frames.filled
    if task.scorer_args is not None and not out.problems:
        _score_here(out, task.scorer_args)
    return out


def _score_here(out: ClipData, scorer_args: tuple) -> None:
    """Reduce the clip to the scorer's per-video sums, so only those cross the process boundary."""
    from ..scorer import Scorer

    subset, protocol, batch_size, split = scorer_args
    scorer = Scorer(subset, protocol, batch_size, split=split)
    for cond, pred in out.preds.items():
        scorer.update(cond, pred, out.gt, video=out.video, category=out.category or None,
                      real_frames=out.real_frames)
    out.scorer, out.gt, out.preds = scorer, None, {}


def make_tasks(plan: PredictionPlan, eval_size: "tuple[int, int] | None", logits: bool,
               max_pixels: int = DEFAULT_MAX_PIXELS, scorer_args: "tuple | None" = None,
               score_padding: bool = False) -> list[ClipTask]:
    """One task per clip, conditions in `Condition` order.

    `score_padding` (the official AVSS protocol) feeds v1s/v1m clips as 10 frames, as the official
    loader does: frames 5..9 with background GT, predictions from the folder or background.
    """
    tasks = []
    for clip in plan.clips:
        preds = tuple(CondFiles(cond, cp.clip_files(clip.video), cp.layout is not None and cp.layout.is_array,
                                cp.padding_files(clip.video))
                      for cond, cp in plan.conditions.items())
        tasks.append(ClipTask(plan.subset, plan.root, clip.video, clip.category, clip.t, clip.frames_in_clip,
                              clip.gt_paths, preds, eval_size, logits, max_pixels, scorer_args,
                              padded_t(plan.subset, clip), score_padding))
    return tasks


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already; nested threads only contend


def iter_clips(tasks: Sequence[ClipTask], workers: int = 1, window: int = 0) -> Iterator[ClipData]:
    """Decode `tasks` in order. With workers > 1, a bounded window of clips is in flight at once,
    so memory stays flat however slowly the consumer runs; a worker that dies is a `WorkerDied` error."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield load_clip(task)
        return
    # A few clips per task: one round trip (and one wake-up of the pool's manager thread) per chunk,
    # not per clip; the window counts chunks, so about as many clips are in flight as before.
    k = max(1, min(CLIPS_PER_TASK, len(tasks) // (workers * 4)))
    chunks = [tasks[i:i + k] for i in range(0, len(tasks), k)]
    window = max(workers + 1, (window or workers * 4) // k)
    # the workers never touch torch or CUDA, so fork (the default on Linux) is safe
    for done in imap_ordered(_load_chunk, chunks, workers, window=window, initializer=_init_worker,
                             what="chunk of clips"):
        yield from done


#: Clips a worker decodes per task when there are plenty (fewer round trips; results are the same).
CLIPS_PER_TASK = 4


def _load_chunk(tasks: "list[ClipTask]") -> list[ClipData]:
    return [load_clip(t) for t in tasks]


def default_workers() -> int:
    """Worker processes used when none is asked for: the usable cores, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))
