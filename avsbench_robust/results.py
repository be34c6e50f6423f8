"""The results document: what a scoring run found, with the provenance needed to reproduce it.

All metric values are fractions (the report layer prints percent). The JSON is deterministic:
sorted keys, floats rounded to 10 decimals, validated against the shipped schema on write.
"""
from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._version import __version__
from .io_utils import atomic_write_text
from .metrics.binary import NUM_THRESHOLDS, THRESHOLDS_DESCRIPTION
from .schemas import validate
from .types import NEGATIVE_CONDITIONS, Condition, Subset

SCHEMA_VERSION = 1
FLOAT_DECIMALS = 10
PROTOCOLS: tuple[str, ...] = ("canonical", "official")


@dataclass(frozen=True)
class Metrics:
    """mIoU, F and FPR of a set of frames; `extra` holds AVSS no-background variants."""

    miou: float
    f_score: float
    fpr: float
    frames: int
    extra: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"miou": self.miou, "f_score": self.f_score, "fpr": self.fpr, "frames": self.frames, **self.extra}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Metrics":
        core = ("miou", "f_score", "fpr", "frames")
        return cls(float(d["miou"]), float(d["f_score"]), float(d["fpr"]), int(d["frames"]),
                   {k: float(v) for k, v in d.items() if k not in core})


@dataclass(frozen=True)
class GlobalMetrics:
    g_miou: float
    g_f: float
    g_fpr: float

    def to_dict(self) -> dict[str, float]:
        return {"g_miou": self.g_miou, "g_f": self.g_f, "g_fpr": self.g_fpr}


#: Per-video columns kept in the results (what the bootstrap needs) and the dtype each is stored in:
#: curves and per-class sums as float32 (relative error 6e-8, half the bytes), counts and scalars as float64.
PER_VIDEO_COLUMNS: dict[str, dict[str, str]] = {
    "binary": {"frames": "<f8", "nonempty": "<f8", "iou_sum": "<f8", "fpr_sum": "<f8", "f_sum": "<f4"},
    "semantic": {"frames": "<f8", "fpr_sum": "<f8", "iou_sum": "<f4", "f_sum": "<f4", "count": "<f8"},
}
PER_VIDEO_ENCODING = "zlib-compressed little-endian array bytes, base64; row-major, one row per video"


def _encode(arr: np.ndarray, dtype: str) -> str:
    return base64.b64encode(zlib.compress(np.ascontiguousarray(arr, dtype=dtype).tobytes(), 9)).decode("ascii")


def _decode(text: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(text.encode("ascii"), validate=True))
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(np.float64)


@dataclass
class PerVideo:
    """The Scorer's per-video sums of each condition (rows in scoring order): what intervals and paired
    comparisons resample. `kind` is "binary" (S4, MS3) or "semantic" (AVSS)."""

    kind: str
    videos: dict[Condition, list[str]]
    tables: dict[Condition, dict[str, np.ndarray]]
    categories: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_tables(cls, kind: str, videos: Mapping[Condition, list[str]], tables: Mapping[Condition, Mapping[str, np.ndarray]],
                    categories: Mapping[str, str] | None = None) -> "PerVideo":
        """Keep the stored columns at their stored precision, so what is computed from it here equals
        what is computed later from the JSON."""
        cols = PER_VIDEO_COLUMNS[kind]
        kept = {c: {name: np.asarray(t[name]).astype(dt).astype(np.float64) for name, dt in cols.items()}
                for c, t in tables.items()}
        return cls(kind, {c: list(v) for c, v in videos.items()}, kept, dict(categories or {}))

    def to_dict(self) -> dict[str, Any]:
        cols = PER_VIDEO_COLUMNS[self.kind]
        return {
            "kind": self.kind, "encoding": PER_VIDEO_ENCODING, "dtypes": dict(cols),
            "videos": {c.value: v for c, v in self.videos.items()},
            "categories": dict(self.categories),
            "columns": {c.value: {name: {"shape": list(t[name].shape), "data": _encode(t[name], dt)}
                                  for name, dt in cols.items()} for c, t in self.tables.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PerVideo":
        kind = d["kind"]
        cols = PER_VIDEO_COLUMNS[kind]
        videos = {Condition(c): list(v) for c, v in d["videos"].items()}
        tables = {}
        for c, block in d["columns"].items():
            cond = Condition(c)
            tables[cond] = {}
            for name, dt in cols.items():
                shape = tuple(block[name]["shape"])
                if not shape or shape[0] != len(videos[cond]):
                    raise ValueError(f"per_video.columns.{c}.{name}: shape {list(shape)} for {len(videos[cond])} videos")
                tables[cond][name] = _decode(block[name]["data"], dt, shape)
        return cls(kind, videos, tables, dict(d.get("categories", {})))


@dataclass
class Results:
    """One scoring run. `breakdown[condition][name]` is per S4 category or per AVSS class."""

    subset: Subset
    protocol: str
    batch_size: int | None
    conditions: dict[Condition, Metrics]
    negative: Metrics | None
    global_: GlobalMetrics | None
    breakdown: dict[Condition, dict[str, dict[str, float]]] = field(default_factory=dict)
    breakdown_kind: str = "none"
    split: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    toolkit_version: str = __version__
    curves: dict[str, dict[str, list[float]]] | None = None
    intervals: dict[str, Any] | None = None
    per_video: PerVideo | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (plain types; see schemas/results.schema.json)."""
        doc = {
            "schema_version": SCHEMA_VERSION,
            "subset": self.subset.value,
            "split": self.split,
            "protocol": self.protocol,
            "batch_size": self.batch_size,
            "toolkit_version": self.toolkit_version,
            "thresholds": {"f_curve": THRESHOLDS_DESCRIPTION, "count": NUM_THRESHOLDS,
                           "iou": "foreground p > 0.5", "fpr": "fraction of pixels with p > 0.5"
                           if not self.subset.is_semantic else "fraction of pixels of a non-background class"},
            "conditions": {c.value: m.to_dict() for c, m in self.conditions.items()},
            "negative": None if self.negative is None else self.negative.to_dict(),
            "global": None if self.global_ is None else self.global_.to_dict(),
            "breakdown": {"kind": self.breakdown_kind,
                          "conditions": {c.value: v for c, v in self.breakdown.items()}},
            "provenance": dict(self.provenance),
        }
        if self.curves is not None:
            doc["curves"] = self.curves
        if self.intervals is not None:
            doc["intervals"] = self.intervals
        if self.per_video is not None:
            doc["per_video"] = self.per_video.to_dict()
        return _normalise(doc)

    def to_json(self) -> str:
        """Deterministic text: sorted keys, rounded floats, validated."""
        doc = self.to_dict()
        validate_document(doc)
        return json.dumps(doc, sort_keys=True, indent=2, allow_nan=False) + "\n"

    def write_json(self, path: "str | Path") -> None:
        atomic_write_text(path, self.to_json())

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Results":
        validate_document(doc)
        conditions = {Condition(k): Metrics.from_dict(v) for k, v in doc["conditions"].items()}
        neg = doc.get("negative")
        glob = doc.get("global")
        return cls(
            subset=Subset(doc["subset"]), protocol=doc["protocol"], batch_size=doc["batch_size"],
            conditions=conditions, negative=None if neg is None else Metrics.from_dict(neg),
            global_=None if glob is None else GlobalMetrics(glob["g_miou"], glob["g_f"], glob["g_fpr"]),
            breakdown={Condition(k): v for k, v in doc["breakdown"]["conditions"].items()},
            breakdown_kind=doc["breakdown"]["kind"], split=doc.get("split"),
            provenance=dict(doc.get("provenance", {})), toolkit_version=doc["toolkit_version"],
            curves=doc.get("curves"), intervals=doc.get("intervals"),
            per_video=None if doc.get("per_video") is None else PerVideo.from_dict(doc["per_video"]),
        )

    @classmethod
    def read_json(cls, path: "str | Path") -> "Results":
        from .errors import InputFileError

        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputFileError(path, f"not a readable results JSON ({exc})") from None
        return cls.from_dict(doc)

    @property
    def negative_conditions(self) -> list[Condition]:
        return [c for c in NEGATIVE_CONDITIONS if c in self.conditions]

    def flat(self, prefix: str = "") -> dict[str, float]:
        """Every headline number as one flat dict of floats ("global/g_miou", "positive/miou",
        "negative/fpr", ...), ready for a logger such as Lightning's `self.log_dict`."""
        out: dict[str, float] = {}
        if self.global_ is not None:
            out.update({f"global/{k}": float(v) for k, v in self.global_.to_dict().items()})
        groups = [(c.value, m) for c, m in self.conditions.items()]
        if self.negative is not None:
            groups.append(("negative", self.negative))
        for name, m in groups:
            out.update({f"{name}/{k}": float(v) for k, v in m.to_dict().items()})
        return {prefix + k: v for k, v in out.items()}

    def to_dataframe(self, level: str = "condition") -> "Any":
        """A pandas DataFrame of the results (fractions).

        condition: one row per condition and the pooled `negative`, with `<metric>_low/_high` when the
        results carry intervals (global metrics in `df.attrs["global"]`); category: one row per
        (condition, S4 category or AVSS class); video: one row per (condition, video) from the per-video
        sums (mIoU, max-F of the video's mean F curve, FPR; AVSS: means over the classes present in it).
        """
        from .dataframes import to_dataframe

        return to_dataframe(self, level)


def _normalise(obj: Any) -> Any:
    """Plain JSON types with floats rounded, so equal runs give byte-equal files."""
    if isinstance(obj, dict):
        return {str(k): _normalise(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_normalise(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if hasattr(obj, "item"):  # numpy scalars
        return _normalise(obj.item())
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"non-finite value {obj!r} in results")
        r = round(obj, FLOAT_DECIMALS)
        return 0.0 if r == 0 else r
    return obj


def validate_document(doc: Mapping[str, Any]) -> None:
    """Raise ValidationError listing every schema violation of a results document."""
    validate(doc, "results.schema.json", "results document")
