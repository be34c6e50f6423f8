"""Helpers for the prediction-loader, score and baseline tests: write real prediction folders from GT."""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from avsbench_robust.data.avsbench import load_index, read_mask
from avsbench_robust.data.classes import AVSS_PALETTE
from avsbench_robust.predictions.layouts import Layout, frame_paths
from avsbench_robust.predictions.loader import clip_specs
from avsbench_robust.scorer import Scorer
from avsbench_robust.types import SCORED_CONDITIONS, Condition, Subset

# cond, clip video, t, GT -> prediction array ([H,W]) for PNG layouts
Transform = Callable[[Condition, str, int, np.ndarray], np.ndarray]


def gt_transform(cond: Condition, video: str, t: int, gt: np.ndarray) -> np.ndarray:
    return gt


def prob_transform(cond: Condition, video: str, t: int, gt: np.ndarray) -> np.ndarray:
    """A deterministic uint8 probability map that depends on GT, condition and frame."""
    rng = np.random.default_rng(zlib.crc32(f"{cond.value}/{video}/{t}".encode()))
    noise = rng.integers(0, 120, size=gt.shape)
    base = np.where(gt != 0, 150, 10) if cond is Condition.POSITIVE else np.where(gt != 0, 90, 5)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def test_index(root: Path, subset: Subset):
    return load_index(root, subset, "test")


def write_png_folder(pred: Path, root: Path, subset: Subset, layout: Layout, encode: Callable[[np.ndarray], Image.Image],
                     transform: Transform = gt_transform, conditions=SCORED_CONDITIONS) -> dict:
    """Write PRED/<cond>/<layout paths> and return {(cond, video): [T,H,W] prediction arrays as written}."""
    clips = clip_specs(test_index(root, subset))
    written = {}
    for cond in conditions:
        for clip in clips:
            frames = []
            for t, gt_path, rel in zip(clip.t, clip.gt_paths, frame_paths(layout, subset, clip)):
                arr = transform(cond, clip.video, t, read_mask(gt_path, subset))
                target = pred / cond.value / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                encode(arr).save(target, format="PNG")
                frames.append(arr)
            written[(cond, clip.video)] = np.stack(frames)
    return written


def write_array_folder(pred: Path, root: Path, subset: Subset, make: Callable[[Condition, str, np.ndarray], np.ndarray],
                       suffix: str = ".npz", name: str = "pred", conditions=SCORED_CONDITIONS) -> None:
    """One array file per clip: make(cond, video, gt[T,H,W]) -> array saved as-is."""
    clips = clip_specs(test_index(root, subset))
    for cond in conditions:
        (pred / cond.value).mkdir(parents=True, exist_ok=True)
        for clip in clips:
            gt = np.stack([read_mask(p, subset) for p in clip.gt_paths])
            arr = make(cond, clip.video, gt)
            path = pred / cond.value / f"{clip.video}{suffix}"
            if suffix == ".npz":
                np.savez(path, **{name: arr})
            else:
                np.save(path, arr)


def direct_results(root: Path, subset: Subset, preds: Callable[[Condition, str, np.ndarray], np.ndarray],
                   conditions=SCORED_CONDITIONS, logits: bool = False):
    """What the Scorer says when fed the same predictions in memory (the reference for the loader)."""
    clips = clip_specs(test_index(root, subset))
    scorer = Scorer(subset, split="test", video_order=[c.video for c in clips])
    for clip in clips:
        gt = np.stack([read_mask(p, subset) for p in clip.gt_paths])
        for cond in conditions:
            scorer.update(cond, preds(cond, clip.video, gt), gt, video=clip.video,
                          category=clip.category or None, logits=logits)
    return scorer.compute()


def metrics_only(doc: dict) -> dict:
    return {k: doc[k] for k in ("conditions", "negative", "global", "breakdown")}


def encode_l(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(arr.astype(np.uint8), mode="L")


def binary_255(arr: np.ndarray) -> np.ndarray:
    return (arr != 0).astype(np.uint8) * 255


def encode_index_p(arr: np.ndarray) -> Image.Image:
    img = Image.fromarray(arr.astype(np.uint8), mode="P")
    pal = np.zeros((256, 3), np.uint8)
    pal[: len(AVSS_PALETTE)] = AVSS_PALETTE
    img.putpalette(pal.ravel().tolist())
    return img
