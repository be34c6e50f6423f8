"""Model inputs for training and prediction: clips, frames, masks and per-condition audio features.

Audio features of each condition come from a build output (`avsb-robust build`, CONTRACTS.md) when one
is given, else they are computed on the fly with the build's own pure functions (same conditioning,
same seeds, same VGGish front end), so a model never sees features from a different pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..errors import AVSBRobustError, InputFileError
from ..types import Condition, Subset

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
BUILD_SEED = 42  # `avsb-robust build` default: on-the-fly features match a default build


@dataclass(frozen=True)
class Clip:
    subset: str
    split: str
    video: str
    category: str
    label: str
    objects: tuple
    audio_path: str
    audio_seconds: float
    frame_paths: tuple[str, ...]
    mask_paths: tuple[str | None, ...]
    frame_ids: tuple[int, ...]  # k as written in file names


def clips_from_index(index: pd.DataFrame) -> list[Clip]:
    """Group the frame index (CONTRACTS.md) into clips, metadata order kept."""
    out: list[Clip] = []
    for (split, video), g in index.groupby(["split", "video"], sort=False):
        g = g.sort_values("t")
        r = g.iloc[0]
        out.append(Clip(str(r["subset"]), str(split), str(video), str(r["category"]), str(r["label"]),
                        tuple(r["objects"]), str(r["audio_path"]), float(r["audio_seconds"]),
                        tuple(g["frame_path"].astype(str)),
                        tuple(None if m is None or isinstance(m, float) else str(m) for m in g["mask_path"]),
                        tuple(int(k) for k in g["frame"])))
    return out


def load_frame(path: str, size: int) -> np.ndarray:
    """[3, size, size] float32, ImageNet-normalised (as both originals)."""
    from ..data.avsbench import read_frame

    rgb = cv2.resize(read_frame(path), (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    return ((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)


def load_mask(path: str, subset: str, size: int) -> np.ndarray:
    """[size, size] uint8 ({0,1} or class index), nearest-neighbour resized."""
    from ..data.avsbench import read_mask

    return cv2.resize(read_mask(path, subset), (size, size), interpolation=cv2.INTER_NEAREST)


def fit_features(feats: np.ndarray, frames: int) -> np.ndarray:
    """One VGGish example per frame: cut, or zero-pad (AVSS v1s/v1m clips inside a 10-frame model)."""
    if feats.shape[0] >= frames:
        return np.ascontiguousarray(feats[:frames], dtype=np.float32)
    pad = np.zeros((frames - feats.shape[0],) + feats.shape[1:], dtype=np.float32)
    return np.concatenate([feats.astype(np.float32), pad])


class FeatureSource:
    """Features [n, 1, 96, 64] of (clip, condition), from `build_out` or computed on the fly."""

    def __init__(self, subset: Subset | str, clips: list[Clip], build_out: Path | None = None,
                 seed: int = BUILD_SEED, cache: bool = True) -> None:
        self.subset = Subset.parse(subset)
        self.build_out = None if build_out is None else Path(build_out)
        self.seed = seed
        self.clips = {(c.split, c.video): c for c in clips}
        self._pairs: dict[tuple[str, str], str] | None = None
        self._cache: dict | None = {} if cache else None
        if self.build_out is not None and not self.build_out.is_dir():
            raise InputFileError(self.build_out, "build output folder not found")

    def _pairing(self) -> dict[tuple[str, str], str]:
        if self._pairs is None:
            from ..build.plan import plan_offscreen
            from ..build.recipe import load_recipe
            from ..build.run import partner_eligibility, probe_source
            from ..build.taxonomy import load_taxonomy

            table = pd.DataFrame([{"split": c.split, "video": c.video, "category": c.category, "objects": c.objects,
                                   "audio_seconds": c.audio_seconds, "label": c.label, "audio_path": c.audio_path}
                                  for c in self.clips.values()])
            # The build's partner rule (no silent or too-short lenders), so on-the-fly pairs are the build's.
            probes = {c.audio_path: probe_source((c.audio_path, c.audio_seconds)) for c in self.clips.values()}
            bad = [p for p, pr in probes.items() if not pr["ok"]]
            if bad:
                raise InputFileError(bad[0], probes[bad[0]]["problem"])
            eligible, _ = partner_eligibility(table, probes, load_recipe(self.subset))
            pairs = plan_offscreen(table, self.subset, load_taxonomy(), self.seed, eligible=eligible)
            self._pairs = {(p.split, p.video): p.source_video for p in pairs}
        return self._pairs

    def _conformed(self, clip: Clip):  # -> build.clip.Conformed
        from ..audio.wavio import read_audio
        from ..build.clip import conform

        # As the build does: only the clip's duration is read, and the positive keeps its rate and
        # channels so its features are AVSBench's (condition_audio picks the right form per condition).
        samples, sr, info = read_audio(clip.audio_path, max_seconds=clip.audio_seconds)
        return conform(samples, sr, clip.audio_seconds, info.subtype)

    def _on_the_fly(self, clip: Clip, cond: Condition) -> np.ndarray:
        from ..audio.vggish import clip_features
        from ..build.clip import condition_audio

        own = self._conformed(clip)
        source = None
        if cond in (Condition.OFFSCREEN, Condition.FUSED):
            source = self._conformed(self.clips[(clip.split, self._pairing()[(clip.split, clip.video)])])
        audio = condition_audio(cond, own=own, source=source, seconds=clip.audio_seconds, seed=self.seed,
                                subset=self.subset, split=clip.split, video=clip.video, fused_snr_db=0.0,
                                fused_negative=Condition.NOISE)
        n = 10 if clip.audio_seconds > 5.5 else 5  # 5 s clips -> 5 examples, AVSS v2 (10 s) -> 10
        return clip_features(audio.samples, audio.sample_rate, n, "zero" if self.subset is Subset.AVSS else "repeat")

    def _from_build(self, clip: Clip, cond: Condition) -> np.ndarray:
        from ..build.layout import clip_outputs

        rel = clip_outputs(self.subset, cond, clip.split, clip.video, clip.category, clip.label).features
        path = self.build_out / rel
        if not path.is_file():
            raise InputFileError(path, f"features of condition {cond.value} missing from the build output")
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputFileError(path, f"not a readable .npy array ({exc})") from None
        if arr.ndim != 4 or tuple(arr.shape[1:]) != (1, 96, 64) or not np.isfinite(arr).all():
            raise InputFileError(path, f"expected finite features [n,1,96,64], got {arr.shape}")
        return arr.astype(np.float32, copy=False)

    def features(self, clip: Clip, condition: Condition | str) -> np.ndarray:
        cond = Condition.parse(condition)
        key = (clip.split, clip.video, cond)
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        if cond is Condition.UNSEEN and self.build_out is None:
            raise AVSBRobustError("unseen features exist only in a build: pass --build OUT, made with "
                                  "`avsb-robust build --unseen-pool DIR`")
        arr = self._from_build(clip, cond) if self.build_out is not None else self._on_the_fly(clip, cond)
        if self._cache is not None:
            self._cache[key] = arr
        return arr


def clip_arrays(clip: Clip, condition: Condition | str, features: FeatureSource, frames: int, size: int,
                with_gt: bool = True, original_gt: bool = False) -> dict[str, np.ndarray]:
    """Everything one clip contributes to a batch, padded to `frames` (AVSS v1 clips: 5 real of 10).

    gt: [T,1,S,S] float {0,1} (binary) or [T,S,S] int64 (AVSS); a negative condition gets an empty
    GT for training, or the clip's own GT with `original_gt` (scoring negatives: SPEC §3).
    valid: frames whose GT supervises (masks present: S4 train -> frame 1 only).
    """
    cond = Condition.parse(condition)
    subset = Subset.parse(clip.subset)
    real = len(clip.frame_paths)
    imgs = np.zeros((frames, 3, size, size), dtype=np.float32)
    imgs[:real] = np.stack([load_frame(p, size) for p in clip.frame_paths])
    out = {
        "frames": imgs,
        "audio": fit_features(features.features(clip, cond), frames),
        "frame_mask": (np.arange(frames) < real).astype(np.float32),
        "positive": np.full(frames, 0.0 if cond.is_negative else 1.0, dtype=np.float32),
    }
    if with_gt:
        has = np.array([m is not None for m in clip.mask_paths] + [False] * (frames - real))
        gt = np.zeros((frames, size, size), dtype=np.int64 if subset.is_semantic else np.float32)
        if original_gt or not cond.is_negative:
            for i, m in enumerate(clip.mask_paths):
                if m is not None:
                    gt[i] = load_mask(m, clip.subset, size)
        out["gt"] = gt if subset.is_semantic else gt[:, None]
        out["valid"] = has.astype(np.float32)
    return out
