"""The streaming Scorer: feed frames as an eval loop produces them, get one Results at the end.

State is a table of per-video sums per condition (see metrics.aggregate), so it is additive:
`merge` combines shards exactly, `state_dict` is plain arrays (np.savez, no pickle), and under
torch.distributed `sync` all-reduces it the way torchmetrics does.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .data.classes import AVSS_CLASSES
from .errors import ValidationError
from .metrics import aggregate as agg
from .metrics import bootstrap as bs
from .metrics import torch_ops
from .metrics.binary import binary_frame_stats
from .metrics.semantic import NUM_CLASSES, semantic_frame_stats
from .results import PROTOCOLS, GlobalMetrics, Metrics, PerVideo, Results
from .safetext import safe_text
from .types import NEGATIVE_CONDITIONS, Condition, Subset

_STATE_FORMAT = 2  # 2: precision and recall curve sums (p_sum, r_sum) added


class Scorer:
    """Accumulate per-frame metrics for one subset and protocol; `compute()` returns Results.

    protocol "canonical" (default): per-frame means, order and batch independent.
    protocol "official": batches of `batch_size` videos in `video_order` (or first-seen order).
    """

    def __init__(
        self,
        subset: "Subset | str",
        protocol: str = "canonical",
        batch_size: int | None = None,
        *,
        split: str | None = None,
        video_order: Sequence[str] | None = None,
        logits: bool = False,
        resamples: int = bs.DEFAULT_RESAMPLES,
        seed: int = bs.DEFAULT_SEED,
    ) -> None:
        try:
            self.subset = Subset.parse(subset)
        except ValueError as exc:
            raise ValidationError("scorer", [str(exc)]) from None
        protocol = str(protocol).strip().lower()
        if protocol not in PROTOCOLS:
            raise ValidationError("scorer", [f"unknown protocol {protocol!r} (expected one of: {', '.join(PROTOCOLS)})"])
        if protocol == "official" and batch_size is None:
            raise ValidationError("scorer", ["the official protocol needs a batch size (videos per batch)"])
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValidationError("scorer", [f"batch size must be a positive integer, got {batch_size!r}"])
        if not isinstance(resamples, (int, np.integer)) or resamples < 0:
            raise ValidationError("scorer", [f"resamples must be a non-negative integer (0: no intervals), got {resamples!r}"])
        self.resamples = int(resamples)
        self.seed = int(seed)
        self.protocol = protocol
        self.batch_size = int(batch_size) if batch_size is not None and protocol == "official" else None
        self.split = split
        self.logits = logits
        self.video_order = _video_order(video_order)
        self._order_pos = None if video_order is None else {v: i for i, v in enumerate(self.video_order)}
        self._columns = agg.SEMANTIC_COLUMNS if self.subset.is_semantic else agg.BINARY_COLUMNS
        # condition -> video -> row (dict column -> array); dicts keep first-seen order
        self._rows: dict[Condition, dict[str, dict[str, np.ndarray]]] = {}
        self._category: dict[str, str] = {}

    # ------------------------------------------------------------------ feeding
    def update(
        self,
        condition: "Condition | str",
        pred: Any,
        gt: Any,
        *,
        video: "str | Sequence[str]",
        category: "str | Sequence[str | None] | None" = None,
        logits: bool | None = None,
        real_frames: "int | Sequence[int | None] | None" = None,
        append: bool = False,
    ) -> None:
        """Score the frames of one clip `[T,H,W]` / `[H,W]`, or of a batch of clips `[B,T,H,W]` with one
        video id per clip (and optionally one category / real_frames per clip), under `condition`.

        A video already fed under this condition is an error (an eval loop run twice without
        `reset()`); pass `append=True` to feed further frames of a clip on purpose.
        """
        if _ndim(pred) == 4:
            self._update_batch(condition, pred, gt, video, category, logits, real_frames, append)
            return
        if not isinstance(video, str) and isinstance(video, Sequence):
            raise ValidationError("update", [f"a list of {len(video)} video ids needs a batch [B,T,H,W], "
                                             f"got shape {tuple(getattr(pred, 'shape', ()))}"])
        try:
            cond = Condition.parse(condition)
        except ValueError as exc:
            raise ValidationError(f"video {video}", [str(exc)]) from None
        video = str(video)
        if not append and video in self._rows.get(cond, {}):
            raise ValidationError(f"video {video}", [f"already fed under {cond.value}; call reset() between "
                                                     f"evaluations, or pass append=True to add frames of a clip"])
        if self._order_pos is not None and video not in self._order_pos:
            raise ValidationError(f"video {video}", ["not in the scorer's video_order"])
        use_logits = self.logits if logits is None else logits
        stats = self._frame_stats(pred, gt, video, use_logits)
        frames = stats.fpr.shape[0]
        _check_real_frames(real_frames, frames, f"video {video}")
        keep = None
        if real_frames is not None and self.protocol == "canonical" and real_frames < frames:
            keep = np.arange(frames) < real_frames  # zero-padded frames count only under the official protocol
        row = agg.semantic_row(stats, keep) if self.subset.is_semantic else agg.binary_row(stats, keep)
        table = self._rows.setdefault(cond, {})
        if video in table:
            for name in self._columns:
                table[video][name] = table[video][name] + row[name]
        else:
            table[video] = {name: np.asarray(row[name], dtype=np.float64) for name in self._columns}
        if category is not None:
            self._category.setdefault(video, str(category))

    def _update_batch(self, condition: Any, pred: Any, gt: Any, video: Any, category: Any, logits: "bool | None",
                      real_frames: Any, append: bool) -> None:
        b = int(pred.shape[0])
        videos = [video] if isinstance(video, str) else list(video)
        problems = []
        if len(videos) != b:
            problems.append(f"a batch of {b} clips needs {b} video ids, got {len(videos)}")
        if tuple(getattr(gt, "shape", ())) != tuple(pred.shape):
            problems.append(f"prediction shape {tuple(pred.shape)} differs from ground truth shape "
                            f"{tuple(getattr(gt, 'shape', ()))}")
        cats = [category] * b if category is None or isinstance(category, str) else list(category)
        reals = [real_frames] * b if real_frames is None or isinstance(real_frames, (int, np.integer)) \
            else list(real_frames)
        if len(cats) != b or len(reals) != b:
            problems.append(f"category and real_frames must be one value or one per clip ({b})")
        if len(set(map(str, videos))) != len(videos):
            problems.append("the batch names a video twice")
        if problems:
            raise ValidationError("update", problems)
        for i in range(b):
            self.update(condition, pred[i], gt[i], video=videos[i], category=cats[i], logits=logits,
                        real_frames=reals[i], append=append)

    def _frame_stats(self, pred: Any, gt: Any, video: str, logits: bool) -> Any:
        where = f"video {video}"
        if torch_ops.is_tensor(pred) or torch_ops.is_tensor(gt):
            return self._frame_stats_torch(pred, gt, where, logits)
        pred = np.asarray(pred)
        gt = np.asarray(gt)
        _check_shapes(pred.shape, gt.shape, where)
        if pred.dtype == object or gt.dtype == object:
            raise ValidationError(where, ["object arrays are not accepted"])
        try:
            if self.subset.is_semantic:
                return semantic_frame_stats(pred, gt)
            _check_binary_numpy(pred, logits, where)
            return binary_frame_stats(pred, gt, logits=logits)
        except ValueError as exc:
            raise ValidationError(where, [str(exc)]) from None

    def _frame_stats_torch(self, pred: Any, gt: Any, where: str, logits: bool) -> Any:
        import torch

        pred = pred if isinstance(pred, torch.Tensor) else torch.as_tensor(np.asarray(pred))
        gt = gt if isinstance(gt, torch.Tensor) else torch.as_tensor(np.asarray(gt))
        gt = gt.to(pred.device)
        _check_shapes(tuple(pred.shape), tuple(gt.shape), where)
        if self.subset.is_semantic:
            problems = []
            for name, x in (("prediction", pred), ("ground truth", gt)):
                if x.is_floating_point() or x.is_complex():
                    problems.append(f"{name} must be an integer class map, got dtype {x.dtype}")
                elif x.numel() and (int(x.min()) < 0 or int(x.max()) >= NUM_CLASSES):
                    problems.append(f"{name} holds class indices outside 0..{NUM_CLASSES - 1}")
            if problems:
                raise ValidationError(where, problems)
            return torch_ops.to_numpy_semantic(torch_ops.semantic_frame_stats_torch(pred, gt))
        if pred.is_floating_point():
            if not bool(torch.isfinite(pred).all()):
                raise ValidationError(where, ["prediction holds NaN or inf"])
            if not logits and pred.numel() and (float(pred.min()) < 0 or float(pred.max()) > 1):
                raise ValidationError(where, ["probabilities outside [0, 1] (pass logits=True for logits)"])
        elif pred.dtype not in (torch.uint8, torch.bool):
            raise ValidationError(where, [f"unsupported prediction dtype {pred.dtype} (float, uint8 or bool)"])
        return torch_ops.to_numpy_binary(torch_ops.binary_frame_stats_torch(pred, gt, logits=logits))

    # ------------------------------------------------------------------ combining
    def _check_compatible(self, other: "Scorer") -> None:
        mine = (self.subset, self.protocol, self.batch_size)
        theirs = (other.subset, other.protocol, other.batch_size)
        if mine != theirs:
            raise ValidationError("merge", [f"scorers differ (subset, protocol, batch size): {mine} vs {theirs}"])

    def merge(self, other: "Scorer") -> "Scorer":
        """Add another scorer's sums into this one (exact; videos new to this scorer are appended)."""
        if not isinstance(other, Scorer):
            raise ValidationError("merge", [f"expected a Scorer, got {type(other).__name__} "
                                            "(use Scorer.from_state_dict for a state dict)"])
        self._check_compatible(other)
        for cond, table in other._rows.items():
            mine = self._rows.setdefault(cond, {})
            for video, row in table.items():
                if video in mine:
                    for name in self._columns:
                        mine[video][name] = mine[video][name] + row[name]
                else:
                    mine[video] = {name: np.array(row[name], dtype=np.float64) for name in self._columns}
        for video, cat in other._category.items():
            self._category.setdefault(video, cat)
        return self

    def reset(self) -> None:
        self._rows.clear()
        self._category.clear()

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Plain arrays only (unicode and float64), so `np.savez` / `np.load(allow_pickle=False)` round-trips."""
        state: dict[str, np.ndarray] = {
            "format": np.array(_STATE_FORMAT),
            "subset": np.array(self.subset.value),
            "protocol": np.array(self.protocol),
            "batch_size": np.array(-1 if self.batch_size is None else self.batch_size),
            "split": np.array("" if self.split is None else self.split),
            "category_videos": np.array(list(self._category.keys()), dtype=str),
            "category_names": np.array(list(self._category.values()), dtype=str),
        }
        if self.video_order is not None:
            state["video_order"] = np.array(self.video_order, dtype=str)
        for cond, table in self._rows.items():
            state[f"{cond.value}.videos"] = np.array(list(table.keys()), dtype=str)
            for name, shape in self._columns.items():
                rows = [table[v][name] for v in table]
                state[f"{cond.value}.{name}"] = (np.stack(rows) if rows else np.zeros((0, *shape)))
        return state

    @classmethod
    def from_state_dict(cls, state: Mapping[str, np.ndarray]) -> "Scorer":
        if not isinstance(state, Mapping):
            raise ValidationError("scorer state", [f"expected a mapping of arrays, got {type(state).__name__}"])
        try:
            bs = _state_int(state["batch_size"], "batch_size")
            order = state.get("video_order")
            scorer = cls(str(state["subset"]), str(state["protocol"]), None if bs < 0 else bs,
                         split=str(state["split"]) or None,
                         video_order=None if order is None else _state_strings(order, "video_order"))
        except KeyError as exc:
            raise ValidationError("scorer state", [f"missing entry {exc.args[0]!r}"]) from None
        scorer.load_state_dict(state)
        return scorer

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace this scorer's sums by `state` (which must be for the same subset and protocol)."""
        problems = []
        if _state_int(state.get("format", -1), "format") != _STATE_FORMAT:
            problems.append(f"unsupported state format {state.get('format')!r}")
        bs = _state_int(state.get("batch_size", -2), "batch_size")
        if (str(state.get("subset")), str(state.get("protocol")), None if bs == -1 else bs) != (
                self.subset.value, self.protocol, self.batch_size):
            problems.append("state is for another subset, protocol or batch size")
        if problems:
            raise ValidationError("scorer state", problems)
        # everything is checked before anything is replaced: a bad state leaves this scorer as it was
        category = dict(zip(_state_strings(state.get("category_videos", []), "category_videos"),
                            _state_strings(state.get("category_names", []), "category_names")))
        rows: dict[Condition, dict[str, dict[str, np.ndarray]]] = {}
        for cond in Condition:
            key = f"{cond.value}.videos"
            if key not in state:
                continue
            videos = _state_strings(state[key], key)
            if len(set(videos)) != len(videos):
                raise ValidationError("scorer state", [f"{key} lists a video twice"])
            cols = {}
            for name, shape in self._columns.items():
                if f"{cond.value}.{name}" not in state:
                    raise ValidationError("scorer state", [f"missing entry '{cond.value}.{name}'"])
                cols[name] = _state_sums(state[f"{cond.value}.{name}"], f"{cond.value}.{name}", (len(videos), *shape))
            _check_sum_bounds(cols, f"{cond.value}")
            rows[cond] = {v: {name: cols[name][i].copy() for name in self._columns} for i, v in enumerate(videos)}
        self.reset()
        self._category = category
        self._rows = rows

    def sync(self, group: Any = None) -> "Scorer":
        """All-reduce the state over torch.distributed ranks (no-op when not initialised).

        Keys (condition, video, category) are exchanged as padded uint8 tensors, never pickled;
        the union is ordered by rank, then first-seen order; the sums are all-reduced densely.
        """
        dist = _distributed()
        if dist is None or dist.get_world_size(group) < 2:
            return self
        import torch

        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(group) == "nccl" \
            else torch.device("cpu")
        local = [f"{c.value}\x00{v}\x00{self._category.get(v, '')}" for c, t in self._rows.items() for v in t]
        keys = _all_gather_strings(local, dist, group, device)
        union: dict[tuple[Condition, str], int] = {}
        categories: dict[str, str] = {}
        for key in keys:
            cond_s, video, cat = key.split("\x00")
            union.setdefault((Condition(cond_s), video), len(union))
            if cat:
                categories.setdefault(video, cat)
        n = len(union)
        dense = {name: np.zeros((n, *shape)) for name, shape in self._columns.items()}
        for (cond, video), i in union.items():
            row = self._rows.get(cond, {}).get(video)
            if row is not None:
                for name in self._columns:
                    dense[name][i] = row[name]
        for name in self._columns:
            tensor = torch.from_numpy(dense[name]).to(device)
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
            dense[name] = tensor.cpu().numpy()
        self._rows = {}
        for (cond, video), i in union.items():
            self._rows.setdefault(cond, {})[video] = {name: dense[name][i].copy() for name in self._columns}
        self._category = categories
        return self

    # ------------------------------------------------------------------ results
    def _table(self, cond: Condition, videos: Iterable[str] | None = None, keep_order: bool = False
               ) -> dict[str, np.ndarray]:
        rows = self._rows.get(cond, {})
        names = list(rows) if videos is None else [v for v in videos if v in rows]
        if self._order_pos is not None and not keep_order:
            names.sort(key=self._order_pos.__getitem__)
        if not names:
            return agg.empty_table(self._columns)
        return {name: np.stack([rows[v][name] for v in names]) for name in self._columns}

    def compute(self, sync: bool = True, require_global: bool = True) -> Results:
        """Aggregate everything fed so far (all ranks' data when torch.distributed is running).

        Global metrics need the positive condition and at least one negative one; without them this
        raises (say `require_global=False` for a partial result whose `global_` is None).
        """
        scorer = copy.deepcopy(self).sync() if sync and _distributed() is not None else self
        results = scorer._compute()
        if require_global and results.global_ is None:
            fed = ", ".join(c.value for c in results.conditions)
            raise ValidationError("scorer", [f"global metrics need positive and at least one negative condition "
                                              f"(silence, noise, offscreen); fed: {fed}. Use "
                                              f"compute(require_global=False) for per-condition results only"])
        return results

    def compute_flat(self, prefix: str = "", sync: bool = True) -> dict[str, float]:
        """`compute()` as a flat dict of floats for a logger, e.g. `self.log_dict(scorer.compute_flat("val/"))`."""
        return self.compute(sync=sync, require_global=False).flat(prefix)

    def _compute(self) -> Results:
        present = [c for c in Condition if self._rows.get(c)]
        if not present:
            raise ValidationError("scorer", ["no frames were scored"])
        tables = {c: self._table(c) for c in present}
        negatives = [c for c in NEGATIVE_CONDITIONS if c in tables]
        curves = None
        if self.subset.is_semantic:
            over = "present" if self.protocol == "canonical" else "all"
            conditions = {c: _metrics(agg.aggregate_semantic([tables[c]], over).overall) for c in present}
            negative = (_metrics(agg.aggregate_semantic([tables[c] for c in negatives], over).overall)
                        if negatives else None)
            breakdown = {c: _class_breakdown(agg.aggregate_semantic([tables[c]], over)) for c in present}
            kind = "class"
        else:
            curves = {c.value: _curves([tables[c]]) for c in present}
            if negatives:
                curves["negative"] = _curves([tables[c] for c in negatives])
            conditions = {c: _metrics(agg.aggregate_binary([tables[c]], self.batch_size)) for c in present}
            negative = (_metrics(agg.aggregate_binary([tables[c] for c in negatives], self.batch_size))
                        if negatives else None)
            breakdown, kind = self._category_breakdown(present)
        glob = None
        positive = conditions.get(Condition.POSITIVE)
        if positive is not None and negative is not None:
            glob = GlobalMetrics(agg.g_metric(positive.miou, negative.miou),
                                 agg.g_metric(positive.f_score, negative.f_score), negative.fpr)
        names = {c: self._video_names(c) for c in present}
        if self.protocol == "canonical" and self._order_pos is None:  # rows by name: same JSON whatever the feed order
            names = {c: sorted(v) for c, v in names.items()}
        per_video = PerVideo.from_tables("semantic" if self.subset.is_semantic else "binary", names,
                                         {c: self._table(c, names[c], keep_order=True) for c in present},
                                         self._category)
        intervals = None
        if self.resamples:
            from .intervals import bootstrap_intervals

            intervals = bootstrap_intervals(per_video, self.subset, self.protocol, self.batch_size,
                                            resamples=self.resamples, seed=self.seed)
        return Results(subset=self.subset, protocol=self.protocol, batch_size=self.batch_size,
                       conditions=conditions, negative=negative, global_=glob, breakdown=breakdown,
                       breakdown_kind=kind, split=self.split, curves=curves, intervals=intervals,
                       per_video=per_video)

    def _video_names(self, cond: Condition) -> list[str]:
        """Row order of `_table(cond)`."""
        names = list(self._rows.get(cond, {}))
        if self._order_pos is not None:
            names.sort(key=self._order_pos.__getitem__)
        return names

    def _category_breakdown(self, present: list[Condition]) -> tuple[dict, str]:
        """Per S4 category, per-frame (canonical) means whatever the protocol: batches span categories."""
        if not self._category:
            return {}, "none"
        by_cat: dict[str, list[str]] = {}
        for video, cat in self._category.items():
            by_cat.setdefault(cat, []).append(video)
        out: dict[Condition, dict[str, dict[str, float]]] = {}
        for cond in present:
            per: dict[str, dict[str, float]] = {}
            for cat in sorted(by_cat):
                table = self._table(cond, by_cat[cat])
                if table["frames"].size:
                    per[cat] = _metrics(agg.aggregate_binary([table], None)).to_dict()
            out[cond] = per
        return out, "category"


def _ndim(x: Any) -> int:
    return len(getattr(x, "shape", np.shape(x)))


def _curves(tables: list[dict[str, np.ndarray]]) -> dict[str, list[float]]:
    return {k: v.tolist() for k, v in agg.mean_curves(tables).items()}


def _metrics(a: agg.Aggregate) -> Metrics:
    return Metrics(a.miou, a.f_score, a.fpr, a.frames, dict(a.extra))


def _class_breakdown(s: agg.SemanticAggregate) -> dict[str, dict[str, float]]:
    """Per AVSS class seen in the set: IoU, F and the number of frames where it occurs (union > 0)."""
    return {AVSS_CLASSES[i]: {"miou": float(s.per_class_iou[i]), "f_score": float(s.per_class_f[i]),
                              "frames": int(s.class_count[i])}
            for i in np.flatnonzero(s.class_count > 0)}


def _check_shapes(pshape: tuple, gshape: tuple, where: str) -> None:
    if tuple(pshape) != tuple(gshape):
        raise ValidationError(where, [f"prediction shape {tuple(pshape)} differs from ground truth shape {tuple(gshape)}"])
    if len(pshape) not in (2, 3):
        raise ValidationError(where, [f"expected [T,H,W] or [H,W] arrays, got shape {tuple(pshape)}"])
    if any(int(d) == 0 for d in pshape):
        raise ValidationError(where, [f"empty array of shape {tuple(pshape)} (every frame needs H, W >= 1)"])


def _check_real_frames(real_frames: Any, frames: int, where: str) -> None:
    """`real_frames` (frames before the zero padding) must be a whole number in 1..frames."""
    if real_frames is None:
        return
    if isinstance(real_frames, bool) or not isinstance(real_frames, (int, np.integer)) or not 1 <= real_frames <= frames:
        raise ValidationError(where, [f"real_frames must be an integer in 1..{frames} (the frames fed), "
                                      f"got {safe_text(repr(real_frames), 80)}"])


def _video_order(order: Any) -> "list[str] | None":
    """A list of distinct-or-not video names; anything that is not a sequence of strings is a ValidationError."""
    if order is None:
        return None
    if isinstance(order, (str, bytes)) or not isinstance(order, (Sequence, np.ndarray)):
        raise ValidationError("scorer", [f"video_order must be a sequence of video names, got {type(order).__name__}"])
    bad = [v for v in order if not isinstance(v, (str, np.str_))]
    if bad:
        raise ValidationError("scorer", [f"video_order holds non-string names (e.g. {safe_text(repr(bad[0]), 80)})"])
    return [str(v) for v in order]


def _state_int(value: Any, key: str) -> int:
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind not in "iu":
        raise ValidationError("scorer state", [f"{key} must be an integer scalar, got {arr.dtype} {list(arr.shape)}"])
    return int(arr)


def _state_strings(value: Any, key: str) -> list[str]:
    arr = np.asarray(value)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind != "U"):
        raise ValidationError("scorer state", [f"{key} must be a 1-D array of strings, got {arr.dtype} {list(arr.shape)}"])
    return [str(v) for v in arr]


def _state_sums(value: Any, key: str, shape: tuple[int, ...]) -> np.ndarray:
    """A column of per-video sums: numeric (never strings), the right shape, finite and non-negative."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise ValidationError("scorer state", [f"{key} must be numeric, got dtype {arr.dtype}"])
    if arr.shape != shape:
        raise ValidationError("scorer state", [f"{key} has shape {arr.shape}, expected {shape}"])
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValidationError("scorer state", [f"{key} holds negative, NaN or infinite sums"])
    return arr


def _check_sum_bounds(cols: dict[str, np.ndarray], where: str) -> None:
    """Per-frame metrics lie in [0, 1], so no video's sum exceeds its frame count (counts are whole)."""
    frames = cols["frames"]
    if not np.array_equal(frames, np.round(frames)):
        raise ValidationError("scorer state", [f"{where}.frames holds non-integer counts"])
    slack = 1e-6 * np.maximum(frames, 1.0)
    for name, col in cols.items():
        if name == "frames":
            continue
        bound = (frames if col.ndim == 1 else frames[:, None]) + (slack if col.ndim == 1 else slack[:, None])
        if (col > bound).any():
            raise ValidationError("scorer state", [f"{where}.{name} exceeds the frame count of a video"])


def _check_binary_numpy(pred: np.ndarray, logits: bool, where: str) -> None:
    if np.issubdtype(pred.dtype, np.floating):
        if not np.isfinite(pred).all():
            raise ValidationError(where, ["prediction holds NaN or inf"])
        if not logits and pred.size and (pred.min() < 0 or pred.max() > 1):
            raise ValidationError(where, ["probabilities outside [0, 1] (pass logits=True for logits)"])
    elif pred.dtype not in (np.uint8, np.bool_):
        raise ValidationError(where, [f"unsupported prediction dtype {pred.dtype} (float, uint8 or bool)"])


def _distributed() -> Any:
    """torch.distributed when it is importable and initialised, else None (torch stays optional)."""
    import sys

    if "torch" not in sys.modules:
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def _all_gather_strings(items: list[str], dist: Any, group: Any, device: Any) -> list[str]:
    """Gather every rank's strings in rank order, as padded uint8 tensors (no pickle)."""
    import torch

    blob = "\x01".join(items).encode("utf-8")
    size = torch.tensor([len(blob)], dtype=torch.int64, device=device)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size(group))]
    dist.all_gather(sizes, size, group=group)
    longest = max(int(s.item()) for s in sizes)
    buf = torch.zeros(max(longest, 1), dtype=torch.uint8, device=device)
    buf[: len(blob)] = torch.frombuffer(bytearray(blob), dtype=torch.uint8) if blob else buf[:0]
    bufs = [torch.zeros_like(buf) for _ in sizes]
    dist.all_gather(bufs, buf, group=group)
    out: list[str] = []
    for b, s in zip(bufs, sizes):
        n = int(s.item())
        if n:
            out.extend(b[:n].cpu().numpy().tobytes().decode("utf-8").split("\x01"))
    return out
