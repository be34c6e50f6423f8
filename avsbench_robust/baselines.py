"""Sanity baselines written as real prediction folders, so they exercise the whole scoring path.

- visual-prior oracle: the GT in every condition (what a purely visual model at its best does);
  scores 1 on positives, 1 on negatives too, FPR = GT area, G-mIoU 0.
- audio-visual oracle: the GT for positive (and fused) audio, empty masks for negative audio;
  G-mIoU 1 and G-FPR 0 (when no GT is empty).
- empty: nothing anywhere; FPR 0, and F shows the threshold-0 artefact of SPEC §3.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from enum import Enum
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from .data.avsbench import read_mask
from .data.classes import AVSS_PALETTE
from .errors import InputFileError
from .io_utils import make_temp_dir
from .predictions.layouts import Layout, frame_paths
from .predictions.loader import clip_specs
from .types import SCORED_CONDITIONS, Condition, Subset


class Baseline(str, Enum):
    VISUAL_PRIOR = "visual-prior-oracle"
    AV_ORACLE = "av-oracle"
    EMPTY = "empty"

    def __str__(self) -> str:
        return self.value


def baseline_mask(baseline: Baseline, condition: Condition, gt: np.ndarray) -> np.ndarray:
    """The baseline's prediction for one GT mask (label values kept: {0,1} binary, class ids AVSS)."""
    if baseline is Baseline.VISUAL_PRIOR:
        return gt
    if baseline is Baseline.AV_ORACLE and not condition.is_negative:
        return gt
    return np.zeros_like(gt)


def _encode_png(mask: np.ndarray, subset: Subset) -> Image.Image:
    if subset.is_semantic:  # index PNG with the VOC palette, as AVSS label tools write
        img = Image.fromarray(mask.astype(np.uint8), mode="P")
        pal = np.zeros((256, 3), np.uint8)
        pal[: len(AVSS_PALETTE)] = AVSS_PALETTE
        img.putpalette(pal.ravel().tolist())
        return img
    return Image.fromarray((mask != 0).astype(np.uint8) * np.uint8(255), mode="L")


def write_baselines(
    index: pd.DataFrame, subset: Subset, out: "str | Path", baselines: Iterable[Baseline] = tuple(Baseline),
    conditions: Sequence[Condition] = SCORED_CONDITIONS,
) -> dict[Baseline, Path]:
    """Write `out/<baseline>/<condition>/...` in the GT-mirroring layout; returns each baseline's folder.

    Each baseline folder appears whole or not at all (written beside, then renamed); an existing
    one is never overwritten.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputFileError(out, "exists and is not a folder; baselines are written as folders inside OUT")
    wanted = [Baseline(b) for b in baselines]
    for b in wanted:
        if (out / b.value).exists():
            raise InputFileError(out / b.value, "already exists; remove it or pick another output folder")
    created = [p for p in (out, *out.parents) if not p.exists()]  # what to take away again on failure
    out.mkdir(parents=True, exist_ok=True)
    clips = clip_specs(index)
    tmp = {b: make_temp_dir(out, f".{b.value}.") for b in wanted}
    done = False
    try:
        for clip in clips:
            rels = frame_paths(Layout.GT_MIRROR, subset, clip)
            for gt_path, rel in zip(clip.gt_paths, rels):
                gt = read_mask(gt_path, subset)
                for b in wanted:
                    for cond in conditions:
                        target = tmp[b] / cond.value / rel
                        target.parent.mkdir(parents=True, exist_ok=True)
                        _encode_png(baseline_mask(b, cond, gt), subset).save(target, format="PNG")
        for b in wanted:
            os.replace(tmp[b], out / b.value)
        done = True
    finally:
        for path in tmp.values():
            shutil.rmtree(path, ignore_errors=True)
        if not done:
            for folder in created:  # innermost first; only folders this call made, and only if still empty
                with contextlib.suppress(OSError):
                    folder.rmdir()
    return {b: out / b.value for b in wanted}
