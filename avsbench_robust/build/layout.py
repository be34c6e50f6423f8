"""Where each output file goes: one AVSBench-shaped tree per condition, so existing loaders can point at it.

    OUT/Single-source/s4_data/<condition>/audio_wav/<split>/<category>/<video>.wav
    OUT/Single-source/s4_data/<condition>/audio_log_mel/<split>/<category>/<video>.npy (.pkl)
    OUT/Multi-sources/ms3_data/<condition>/audio_wav/<split>/<video>.wav
    OUT/Multi-sources/ms3_data/<condition>/audio_log_mel/<split>/<video>.npy (.pkl)
    OUT/AVSS/<condition>/<label>/<uid>/audio.wav
    OUT/AVSS/<condition>/<label>/<uid>/audio_log_mel.npy (.pkl)
    OUT/manifest.json
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import DatasetLayoutError
from ..types import Condition, Subset

MANIFEST_NAME = "manifest.json"
JOURNAL_DIR = ".avsb-build-journal"  # per-clip completion records of an unfinished build; removed at the end
DEFAULT_OUT_PARENT = "avsbench-robust-build"  # default OUT: ./avsbench-robust-build/<subset>


@dataclass(frozen=True)
class ClipOutputs:
    """Paths of one clip's files under one condition, relative to OUT (POSIX, as stored in the manifest)."""

    wav: str
    features: str
    pkl: str


def condition_root(subset: Subset | str, condition: Condition | str) -> PurePosixPath:
    subset, condition = Subset.parse(subset), Condition.parse(condition)
    if subset is Subset.S4:
        return PurePosixPath("Single-source", "s4_data", condition.value)
    if subset is Subset.MS3:
        return PurePosixPath("Multi-sources", "ms3_data", condition.value)
    return PurePosixPath("AVSS", condition.value)


def _safe(part: str, what: str) -> str:
    # Names come from user CSVs: refuse anything that could climb out of OUT.
    if not part or part in (".", "..") or "/" in part or "\\" in part or "\x00" in part:
        raise DatasetLayoutError(f"{what} {part!r} cannot be used as a file name")
    return part


def clip_outputs(
    subset: Subset | str, condition: Condition | str, split: str, video: str, category: str = "", label: str = ""
) -> ClipOutputs:
    subset = Subset.parse(subset)
    root = condition_root(subset, condition)
    video = _safe(video, "video")
    if subset is Subset.AVSS:
        base = root / _safe(label, "AVSS label") / video
        return ClipOutputs(str(base / "audio.wav"), str(base / "audio_log_mel.npy"), str(base / "audio_log_mel.pkl"))
    sub = (PurePosixPath(_safe(split, "split"), _safe(category, "category")) if subset is Subset.S4
           else PurePosixPath(_safe(split, "split")))
    wav = root / "audio_wav" / sub / f"{video}.wav"
    lm = root / "audio_log_mel" / sub
    return ClipOutputs(str(wav), str(lm / f"{video}.npy"), str(lm / f"{video}.pkl"))


def default_out(subset: Subset | str, cwd: Path | None = None) -> Path:
    return (cwd or Path.cwd()) / DEFAULT_OUT_PARENT / Subset.parse(subset).value


def check_out_outside_root(out: Path, root: Path) -> None:
    """Refuse an OUT equal to or inside the AVSBench root: a build must never write into the source data."""
    out_r, root_r = Path(os.path.realpath(out)), Path(os.path.realpath(root))
    if out_r == root_r or root_r in out_r.parents:
        raise DatasetLayoutError(f"output folder {out} is inside the AVSBench root {root}: choose an --out outside it")
