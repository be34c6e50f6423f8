"""Build recipes (`builders/recipes/<subset>.json`): durations, feature padding, WAV formats, conditions, fused defaults."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from ..errors import ValidationError
from ..io_utils import read_json
from ..schemas import validate
from ..types import Condition, Subset
from .taxonomy import builders_dir


@dataclass(frozen=True)
class ClipSpec:
    """Nominal duration of a clip kind and the shape of its features (`examples` x [1, 96, 64])."""

    seconds: float
    examples: int
    pad: str  # "repeat" (AVSBench 5 s clips) or "zero" (AVSS v2)


@dataclass(frozen=True)
class WavSpec:
    sample_rate: int | str  # Hz, or "source": the source recording's own rate and channels
    subtype: str  # "PCM_16" or "FLOAT"


#: Conditions whose WAV is a recording (the clip's own, another clip's, a pool file): kept at its own rate
#: and channels, PCM16, so AVSBench's reader (int16 / 32768, channel mean, resampy) gets our features from it.
RECORDED = (Condition.POSITIVE, Condition.OFFSCREEN, Condition.UNSEEN)
_DEFAULT_UNSEEN_WAV = {"sample_rate": "source", "subtype": "PCM_16"}


@dataclass(frozen=True)
class Recipe:
    subset: Subset
    clip: ClipSpec
    by_label: Mapping[str, ClipSpec]
    conditions: tuple[Condition, ...]
    wav: Mapping[Condition, WavSpec]
    fused_snr_db: float
    fused_negative: Condition
    same_duration: bool
    doc: Mapping  # the JSON as loaded (with overrides applied), recorded in the manifest

    def clip_spec(self, label: str = "") -> ClipSpec:
        return self.by_label.get(label, self.clip)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _clip(d: Mapping) -> ClipSpec:
    return ClipSpec(float(d["seconds"]), int(d["examples"]), str(d["pad"]))


def parse_recipe(doc: object, what: str = "recipe") -> Recipe:
    validate(doc, "recipe.schema.json", what)
    doc = {k: v for k, v in cast(dict, doc).items() if k != "$comment"}
    problems = []
    if doc["fused"]["negative"] not in ("noise", "offscreen"):
        problems.append("fused.negative must be noise or offscreen")
    for name, spec in {"clip": doc["clip"], **{f"by_label.{k}": v for k, v in doc.get("by_label", {}).items()}}.items():
        # VGGish examples are 0.96 s: more examples than the clip holds would be pure padding.
        if spec["examples"] > int(spec["seconds"] / 0.96 + 1e-9):
            problems.append(f"{name}: {spec['examples']} examples do not fit in {spec['seconds']} s")
    doc["wav"] = {**doc["wav"]}
    doc["wav"].setdefault("unseen", dict(_DEFAULT_UNSEEN_WAV))
    for cond, spec in doc["wav"].items():
        if Condition(cond) in RECORDED:
            if spec != _DEFAULT_UNSEEN_WAV:
                problems.append(f"wav.{cond} must be {{'sample_rate': 'source', 'subtype': 'PCM_16'}}: a recording is "
                                "stored as AVSBench reads it, at its own rate")
        elif cond != "noise" and spec["sample_rate"] != 16000:
            # Made at the VGGish rate; only the noise keeps its own (44.1 kHz per SPEC §2).
            problems.append(f"wav.{cond}.sample_rate must be 16000 (made at the VGGish rate)")
        elif cond == "noise" and not isinstance(spec["sample_rate"], int):
            problems.append("wav.noise.sample_rate must be a rate in Hz")
    if doc["wav"]["fused"]["subtype"] != "FLOAT":
        problems.append("wav.fused.subtype must be FLOAT: the mixture is stored unclipped")
    if problems:
        raise ValidationError(what, problems)
    return Recipe(
        subset=Subset(doc["subset"]),
        clip=_clip(doc["clip"]),
        by_label={k: _clip(v) for k, v in doc.get("by_label", {}).items()},
        conditions=tuple(Condition(c) for c in doc["conditions"]),
        wav={Condition(k): WavSpec(v["sample_rate"], str(v["subtype"])) for k, v in doc["wav"].items()},
        fused_snr_db=float(doc["fused"]["snr_db"]),
        fused_negative=Condition(doc["fused"]["negative"]),
        same_duration=bool(doc["offscreen"]["same_duration"]),
        doc=doc,
    )


def load_recipe(
    subset: Subset | str,
    path: Path | None = None,
    conditions: list[Condition | str] | None = None,
    fused_snr_db: float | None = None,
    fused_negative: Condition | str | None = None,
) -> Recipe:
    """The subset's recipe with the command-line overrides applied (and re-validated)."""
    subset = Subset.parse(subset)
    path = path or builders_dir() / "recipes" / f"{subset.value}.json"
    doc = cast(dict, read_json(path))
    if isinstance(doc, dict):
        doc = json.loads(json.dumps(doc))  # a private deep copy to apply overrides to
        if isinstance(doc.get("subset"), str) and doc["subset"] != subset.value:
            raise ValidationError(str(path), [f"recipe is for subset {doc['subset']!r}, not {subset.value!r}"])
        if conditions is not None:
            wanted = {Condition.parse(c) for c in conditions}
            doc["conditions"] = [c.value for c in Condition if c in wanted]  # canonical order: same set, same build
        if isinstance(doc.get("fused"), dict):
            if fused_snr_db is not None:
                doc["fused"]["snr_db"] = float(fused_snr_db)
            if fused_negative is not None:
                doc["fused"]["negative"] = Condition.parse(fused_negative).value
    return parse_recipe(doc, str(path))
