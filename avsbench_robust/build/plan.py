"""The offscreen pairing plan: which clip lends its audio to which (SPEC §2). Pure: clip table in, plan out.

Rule: a source is another clip of the same split (and, by default, the same nominal duration) whose
major categories share nothing with the clip's and contain none of their least-suitable contrasts.
Candidates are sorted by name and one is drawn with the clip's own seeded generator, so the plan
depends only on (seed, clip table) — never on directory order, worker count or processing order.
A clip without a candidate (or with unknown objects) takes any other clip and is flagged `fallback`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DatasetLayoutError
from ..types import Condition, Subset
from .taxonomy import Taxonomy

RngFactory = Callable[[str, str], np.random.Generator]  # (split, video) -> generator for the draw


@dataclass(frozen=True)
class Pairing:
    split: str
    video: str
    source_video: str
    fallback: bool
    candidates: int  # how many clips satisfied the rule (0 for a fallback)
    reason: str = ""  # why a fallback was needed


def clip_majors(clips: pd.DataFrame, subset: Subset | str, taxonomy: Taxonomy) -> list[frozenset[str]]:
    """Major categories of each clip: S4 by category, MS3/AVSS by the objects heard (may be empty)."""
    subset = Subset.parse(subset)
    if subset is Subset.S4:
        names = [(c,) for c in clips["category"]]
    else:
        names = [tuple(o) for o in clips["objects"]]
    return [taxonomy.majors_of(subset, n, source=f"clip {v!r}") for n, v in zip(names, clips["video"])]


def _bits(majors: frozenset[str], order: dict[str, int]) -> int:
    return sum(1 << order[m] for m in majors)


def default_rng_factory(seed: int, subset: Subset | str) -> RngFactory:
    """The per-clip generator of the offscreen draw, from the audio module's seeding scheme."""
    from ..audio.conditions import seeded_rng

    subset = Subset.parse(subset)
    return lambda split, video: seeded_rng(seed, subset, split, video, Condition.OFFSCREEN)


def plan_offscreen(
    clips: pd.DataFrame,
    subset: Subset | str,
    taxonomy: Taxonomy,
    seed: int,
    same_duration: bool = True,
    rng_factory: RngFactory | None = None,
    eligible: np.ndarray | None = None,
) -> list[Pairing]:
    """One Pairing per row of `clips` (columns split, video, category, objects, audio_seconds), same order.

    `eligible` (bool per row, default all) says which clips may be sources: silent or too short clips
    are still built, but never lend their audio.
    """
    subset = Subset.parse(subset)
    rng_factory = rng_factory or default_rng_factory(seed, subset)
    order = {m: i for i, m in enumerate(taxonomy.majors)}
    majors = clip_majors(clips, subset, taxonomy)
    own = np.array([_bits(m, order) for m in majors], dtype=np.int64)
    forbidden = np.array([_bits(taxonomy.forbidden(m), order) for m in majors], dtype=np.int64)
    videos = clips["video"].astype(str).to_numpy()
    splits = clips["split"].astype(str).to_numpy()
    seconds = clips["audio_seconds"].astype(float).to_numpy() if same_duration else np.zeros(len(clips))
    ok = np.ones(len(clips), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)

    out: list[Pairing | None] = [None] * len(clips)
    for split in pd.unique(splits):
        in_split = np.flatnonzero(splits == split)
        if in_split.size < 2:
            raise DatasetLayoutError(
                f"split {split!r} of {subset.value.upper()} has {in_split.size} clip: the offscreen condition needs "
                "another clip to borrow audio from (drop offscreen with --conditions)"
            )
        # Sorted by name once per split; every candidate list below is a filtered view of this order.
        by_name = in_split[np.argsort(videos[in_split], kind="stable")]
        lenders = by_name[ok[by_name]]
        if lenders.size == 0:
            raise DatasetLayoutError(
                f"split {split!r} of {subset.value.upper()} has no clip that can lend offscreen audio "
                "(all silent or too short; see the warnings) — drop offscreen with --conditions"
            )
        for i in in_split:
            same = lenders[seconds[lenders] == seconds[i]]
            if own[i]:
                cand = same[(own[same] != 0) & ((own[same] & forbidden[i]) == 0)]
            else:
                cand = same[:0]
            reason = ""
            if cand.size == 0:
                reason = ("objects unknown (no AVSS v1m metadata row)" if not own[i]
                          else "no clip of a compatible major category")
                pool = same[same != i]
                cand_fb = pool if pool.size else lenders[lenders != i]
                if cand_fb.size == 0:
                    raise DatasetLayoutError(
                        f"clip {videos[i]!r} ({split}) has no other clip that can lend offscreen audio (the others are "
                        "digitally silent or shorter than the clip; see the warnings) — drop offscreen with --conditions")
                j = cand_fb[int(rng_factory(split, videos[i]).integers(cand_fb.size))]
                out[i] = Pairing(split, videos[i], videos[j], True, 0, reason)
            else:
                j = cand[int(rng_factory(split, videos[i]).integers(cand.size))]
                out[i] = Pairing(split, videos[i], videos[j], False, int(cand.size))
    return [p for p in out if p is not None]
