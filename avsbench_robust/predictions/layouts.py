"""Prediction folder layouts (SPEC §4) and their detection from the files a condition folder holds.

Pure: everything here works on clip specs and sets of relative paths, so detection is testable
without touching the disk and cannot depend on directory listing order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Iterable

from ..types import Subset


@dataclass(frozen=True)
class ClipSpec:
    """One clip to score: the frames that have a GT mask, with their names as written in files."""

    video: str
    category: str
    label: str
    t: tuple[int, ...]  # 0-based positions in the clip
    k: tuple[int, ...]  # frame numbers as in GT file names (1-based S4/MS3, 0-based AVSS)
    frames_in_clip: int
    gt_paths: tuple[str, ...]


class Layout(str, Enum):
    """How one condition folder names its files; the value is what provenance reports."""

    SAVE_MASK = "save_mask"  # official save_mask / save_color_mask: <...>/<video>_<t>.png, 0-based
    GT_MIRROR = "gt_mirror"  # the GT mask tree: S4/MS3 1-based k, AVSS <label>/<uid>/labels_*/<k>.png
    GT_MIRROR_RGB = "gt_mirror_rgb"  # AVSS only: <label>/<uid>/labels_rgb/<k>.png
    FLAT0 = "flat_0based"  # <video>/<t>.png
    FLAT1 = "flat_1based"  # <video>/<t+1>.png
    ARRAY = "array"  # <video>.npz or <video>.npy holding [T,H,W]

    def __str__(self) -> str:
        return self.value

    @property
    def is_array(self) -> bool:
        return self is Layout.ARRAY


ARRAY_SUFFIXES: tuple[str, ...] = (".npz", ".npy")

_FramePath = Callable[[ClipSpec, int, int], str]


def _frame_rule(layout: Layout, subset: Subset) -> "_FramePath | None":
    """Relative path of frame (t, k) of a clip under `layout`, or None if the layout does not apply."""
    if layout is Layout.SAVE_MASK:
        if subset is Subset.S4:
            return lambda c, t, k: f"{c.category}/{c.video}/{c.video}_{t}.png"
        return lambda c, t, k: f"{c.video}/{c.video}_{t}.png"
    if layout is Layout.GT_MIRROR:
        if subset is Subset.S4:
            return lambda c, t, k: f"{c.category}/{c.video}/{c.video}_{k}.png"
        if subset is Subset.MS3:
            return lambda c, t, k: f"{c.video}/{c.video}_{k}.png"
        return lambda c, t, k: f"{c.label}/{c.video}/labels_semantic/{k}.png"
    if layout is Layout.GT_MIRROR_RGB:
        if subset is not Subset.AVSS:
            return None
        return lambda c, t, k: f"{c.label}/{c.video}/labels_rgb/{k}.png"
    if layout is Layout.FLAT0:
        return lambda c, t, k: f"{c.video}/{t}.png"
    if layout is Layout.FLAT1:
        return lambda c, t, k: f"{c.video}/{t + 1}.png"
    return None


#: Frames per clip as the official AVSS loader feeds them: v1s/v1m clips (5 frames) are zero-padded to 10.
AVSS_FED_FRAMES = 10


def padded_t(subset: Subset, clip: ClipSpec) -> tuple[int, ...]:
    """Positions of the zero-padded frames the official AVSS loop adds to a v1s/v1m clip (5..9), else ()."""
    if subset is not Subset.AVSS or clip.frames_in_clip >= AVSS_FED_FRAMES:
        return ()
    return tuple(range(clip.frames_in_clip, AVSS_FED_FRAMES))


def padding_paths(layout: Layout, subset: Subset, clip: ClipSpec) -> tuple[str, ...]:
    """Where a PNG layout puts the padded frames of an AVSS v1s/v1m clip (AVSS k = t); () when none."""
    rule = _frame_rule(layout, subset)
    if rule is None:
        raise ValueError(f"layout {layout} has no per-frame files for {subset}")
    return tuple(rule(clip, t, t) for t in padded_t(subset, clip))


def frame_paths(layout: Layout, subset: Subset, clip: ClipSpec) -> tuple[str, ...]:
    """The expected PNG path of every GT-bearing frame of `clip` (PNG layouts only)."""
    rule = _frame_rule(layout, subset)
    if rule is None:
        raise ValueError(f"layout {layout} has no per-frame files for {subset}")
    return tuple(rule(clip, t, k) for t, k in zip(clip.t, clip.k))


def png_layouts(subset: Subset) -> tuple[Layout, ...]:
    """PNG layouts that apply to `subset`, in tie-break order (official saves first)."""
    return tuple(lay for lay in Layout if not lay.is_array and _frame_rule(lay, subset) is not None)


@dataclass(frozen=True)
class LayoutMatch:
    """Where each clip's prediction lives under the chosen layout, and what does not fit it."""

    layout: Layout
    files: dict[str, tuple["str | None", ...]]  # video -> per-frame relpath (PNG) or (array relpath,)
    missing: tuple[str, ...]  # expected relpaths absent (for arrays: "<video>.npz|.npy")
    extra: tuple[str, ...]  # present relpaths no clip asked for
    matched: int
    # AVSS v1s/v1m, PNG layouts: video -> relpath (or None) of each zero-padded frame 5..9. Optional
    # files: scored under the official protocol (background when absent), ignored under canonical.
    padding: dict[str, tuple["str | None", ...]] = field(default_factory=dict)

    @property
    def missing_videos(self) -> tuple[str, ...]:
        return tuple(v for v, fs in self.files.items() if all(f is None for f in fs))


def _match_png(layout: Layout, subset: Subset, clips: Iterable[ClipSpec], present: frozenset[str]) -> LayoutMatch:
    files: dict[str, tuple[str | None, ...]] = {}
    missing: list[str] = []
    used: set[str] = set()
    padding: dict[str, tuple[str | None, ...]] = {}
    for clip in clips:
        expected = frame_paths(layout, subset, clip)
        found = tuple(p if p in present else None for p in expected)
        files[clip.video] = found
        missing.extend(p for p, f in zip(expected, found) if f is None)
        used.update(f for f in found if f is not None)
        pads = padding_paths(layout, subset, clip)
        if pads:
            padding[clip.video] = tuple(p if p in present else None for p in pads)
            used.update(p for p in padding[clip.video] if p is not None)
    extra = tuple(sorted(present - used))
    return LayoutMatch(layout, files, tuple(missing), extra, len(used), padding)


def _match_array(clips: Iterable[ClipSpec], present: frozenset[str]) -> LayoutMatch:
    files: dict[str, tuple[str | None, ...]] = {}
    missing: list[str] = []
    used: set[str] = set()
    for clip in clips:
        hits = [clip.video + s for s in ARRAY_SUFFIXES if clip.video + s in present]
        # Both .npz and .npy for one video is ambiguous: keep the first, the other shows up as extra.
        files[clip.video] = (hits[0] if hits else None,)
        if hits:
            used.add(hits[0])
        else:
            missing.append(f"{clip.video}.npz")
    extra = tuple(sorted(present - used))
    return LayoutMatch(Layout.ARRAY, files, tuple(missing), extra, len(used))


def detect_layout(subset: Subset, clips: "list[ClipSpec]", present: "Iterable[str]") -> LayoutMatch:
    """Pick the layout under which most of `present` (POSIX relpaths) are expected files.

    Ties go to the earlier layout in `Layout` order; a folder matching nothing reports the first
    layout with everything missing, so the error lists what was expected.
    """
    present = frozenset(present)
    candidates = [_match_png(lay, subset, clips, present) for lay in png_layouts(subset)]
    candidates.append(_match_array(clips, present))
    best = candidates[0]
    for cand in candidates[1:]:
        if cand.matched > best.matched:
            best = cand
    return best


def expected_files(match: LayoutMatch) -> int:
    """How many files the chosen layout expects in total."""
    return sum(len(v) for v in match.files.values())
