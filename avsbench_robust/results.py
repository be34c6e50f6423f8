"""The results document: what a scoring run found, with the provenance needed to reproduce it.

All metric values are fractions (the report layer prints percent). The JSON is deterministic:
sorted keys, floats rounded to 10 decimals, validated against the shipped schema on write.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

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
