"""A synthetic dataset in exactly the AVSBench layout, whose content makes the benchmark meaningful.

Every AVSS class (and so every S4 category and MS3 object) has its own look (shape, colour, stripe
texture) and its own sound (pitch, harmonics, rhythm). Masks cover only the objects heard in the
audio; MS3, AVSS and half of the S4 clips also show a visible but silent object, so a model that
segments whatever is salient is caught out exactly as on the real benchmark.

`plan()` is pure (seed -> clip specs), `render_clip()` is pure (spec -> pixels and samples), and
`generate()` writes files. Same seed -> same bytes.
"""
from __future__ import annotations

import colorsys
import hashlib
import json
import shutil
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import soundfile as sf

from .._version import __version__
from ..errors import AVSBRobustError, InputFileError
from ..types import AVSSLabel, Split, Subset
from .classes import AVSS_CLASSES, AVSS_PALETTE, MS3_OBJECTS, S4_CATEGORIES, S4_CATEGORY_TO_AVSS, avss_class_index

SAMPLE_RATE = 16_000
FRAME_SIZE = (224, 224)  # (width, height) of S4/MS3 frames, as the release
V2_FRAME_SIZE = (320, 240)  # AVSS v2 frames come at their video's size; the scorer must resize
DEFAULT_VIDEOS = 8
MARKER = "SYNTHETIC.json"
PARTIAL_MARKER = "SYNTHETIC.partial.json"  # written first, removed last: an interrupted run's tree is ours to redo
_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


@dataclass(frozen=True)
class SynthObject:
    """One object in a clip: which AVSS class it is, whether it is heard, and its path on screen."""

    cls: int
    sounding: bool
    center: tuple[float, float]  # relative (x, y) at frame 0
    velocity: tuple[float, float]  # relative displacement per frame
    radius: float  # relative to the frame's smaller side


@dataclass(frozen=True)
class SynthClip:
    subset: Subset
    split: Split
    video: str  # S4/MS3 video name; AVSS uid
    vid: str  # original video name (AVSS v1s/v1m: the S4/MS3 clip it repeats)
    category: str  # S4 category, "" otherwise
    label: str  # AVSS label, "" for S4/MS3
    objects: tuple[SynthObject, ...]
    n_frames: int
    size: tuple[int, int]
    seconds: float
    seed: int  # per-clip seed for textures, detuning and noise

    @property
    def heard(self) -> tuple[str, ...]:
        """AVSS class names of the sounding objects, in a stable order (the `a_obj` field)."""
        return tuple(sorted({AVSS_CLASSES[o.cls] for o in self.objects if o.sounding}))


@dataclass
class SynthPlan:
    s4: list[SynthClip] = field(default_factory=list)
    ms3: list[SynthClip] = field(default_factory=list)
    avss: list[SynthClip] = field(default_factory=list)


def split_counts(videos: int) -> dict[Subset, dict[Split, int]]:
    """Clips per subset and split for `--videos N`: N test/val clips, 2N train (MS3 and AVSS v2 half)."""
    half = max(2, (videos + 1) // 2)
    return {
        Subset.S4: {Split.TRAIN: 2 * videos, Split.VAL: videos, Split.TEST: videos},
        Subset.MS3: {Split.TRAIN: 2 * half, Split.VAL: half, Split.TEST: half},
        Subset.AVSS: {Split.TRAIN: 2 * half, Split.VAL: half, Split.TEST: half},  # v2 clips only
    }


def _clip_seed(seed: int, *parts: str) -> int:
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _video_id(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        name = "".join(rng.choice(list(_ID_ALPHABET), 11)) + f"_{int(rng.integers(0, 300)) * 1000}"
        if name not in taken:
            taken.add(name)
            return name


def _place(rng: np.random.Generator, cls: int, sounding: bool, slot: int, slots: int) -> SynthObject:
    # Objects of one clip get separate horizontal slots so that each stays mostly visible.
    x0 = (slot + 0.5) / slots + rng.uniform(-0.08, 0.08) / slots
    return SynthObject(
        cls=cls,
        sounding=sounding,
        center=(float(x0), float(rng.uniform(0.3, 0.7))),
        velocity=(float(rng.uniform(-0.012, 0.012)), float(rng.uniform(-0.01, 0.01))),
        radius=float(rng.uniform(0.11, 0.2) if slots > 1 else rng.uniform(0.16, 0.26)),
    )


def _objects(rng: np.random.Generator, heard: Sequence[int], silent: Sequence[int]) -> tuple[SynthObject, ...]:
    classes = [(c, True) for c in heard] + [(c, False) for c in silent]
    order = rng.permutation(len(classes))
    return tuple(_place(rng, *classes[i], slot=j, slots=len(classes)) for j, i in enumerate(order))


def plan(seed: int = 0, videos: int = DEFAULT_VIDEOS) -> SynthPlan:
    """Every clip of the synthetic release; the same for a seed whichever subsets get written."""
    if videos < 1:
        raise AVSBRobustError(f"--videos must be at least 1, got {videos}")
    rng = np.random.default_rng(_clip_seed(seed, "plan"))
    counts = split_counts(videos)
    taken: set[str] = set()
    out = SynthPlan()
    music_ms3 = [avss_class_index(o) for o in MS3_OBJECTS if o != "background"]
    all_classes = list(range(1, len(AVSS_CLASSES)))
    for split in Split:
        cats = [S4_CATEGORIES[i] for i in rng.permutation(len(S4_CATEGORIES))]
        for i in range(counts[Subset.S4][split]):
            category = cats[i % len(cats)]
            cls = avss_class_index(S4_CATEGORY_TO_AVSS[category])
            silent = [int(rng.choice([c for c in all_classes if c != cls]))] if rng.random() < 0.5 else []
            name = _video_id(rng, taken)
            out.s4.append(SynthClip(Subset.S4, split, name, name, category, "", _objects(rng, [cls], silent),
                                    5, FRAME_SIZE, 5.0, _clip_seed(seed, "s4", name)))
        for _ in range(counts[Subset.MS3][split]):
            n_heard = int(rng.integers(1, 3))
            picks = [int(c) for c in rng.choice(music_ms3, n_heard + 1, replace=False)]
            name = _video_id(rng, taken)
            out.ms3.append(SynthClip(Subset.MS3, split, name, name, "", "", _objects(rng, picks[:n_heard], picks[n_heard:]),
                                     5, FRAME_SIZE, 5.0, _clip_seed(seed, "ms3", name)))
        for _ in range(counts[Subset.AVSS][split]):
            n_heard = int(rng.integers(1, 3))
            picks = [int(c) for c in rng.choice(all_classes, n_heard + 1, replace=False)]
            vid = _video_id(rng, taken)
            uid = f"{vid}_{int(rng.integers(0, 9))}"
            out.avss.append(SynthClip(Subset.AVSS, split, uid, vid, "", AVSSLabel.V2.value,
                                      _objects(rng, picks[:n_heard], picks[n_heard:]), 10, V2_FRAME_SIZE, 10.0,
                                      _clip_seed(seed, "avss", uid)))
    # AVSS v1s / v1m repeat the S4 / MS3 clips (same pixels and sound) under their own uid, 0-based frames.
    for clip, label in [(c, AVSSLabel.V1S) for c in out.s4] + [(c, AVSSLabel.V1M) for c in out.ms3]:
        out.avss.append(SynthClip(Subset.AVSS, clip.split, f"{clip.video}_{label.value}", clip.video, "", label.value,
                                  clip.objects, 5, clip.size, 5.0, clip.seed))
    return out


# ---------------------------------------------------------------------------------------------
# Looks and sounds


def class_colour(cls: int) -> tuple[int, int, int]:
    """A saturated RGB colour per class, spread round the hue circle by the golden ratio."""
    hue = (cls * 0.6180339887) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def _polygon(shape: int, cx: float, cy: float, r: float) -> np.ndarray:
    sides = {0: 32, 1: 4, 2: 3, 3: 4, 4: 6, 5: 10}[shape]
    angles = np.linspace(0, 2 * np.pi, sides, endpoint=False) + {1: np.pi / 4, 2: -np.pi / 2, 5: -np.pi / 2}.get(shape, 0.0)
    radii = np.full(sides, r)
    if shape == 5:  # star
        radii[1::2] *= 0.45
    pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    return np.round(pts).astype(np.int32)


def _object_mask(obj: SynthObject, t: int, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    cx = (obj.center[0] + obj.velocity[0] * t) * w
    cy = (obj.center[1] + obj.velocity[1] * t) * h
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [_polygon(obj.cls % 6, cx, cy, obj.radius * min(w, h))], 1, lineType=cv2.LINE_8)
    return mask.astype(bool)


def _texture(cls: int, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    period = 6 + 3 * ((cls // 6) % 4)
    yy, xx = np.mgrid[0:h, 0:w]
    direction = (cls // 24) % 3
    coord = xx if direction == 0 else yy if direction == 1 else xx + yy
    return ((coord // (period // 2)) % 2).astype(bool)


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    a, b = rng.uniform(60, 190, size=(2, 3))
    ramp = np.linspace(0, 1, w)[None, :, None]
    bg = a * (1 - ramp) + b * ramp
    return np.broadcast_to(bg, (h, w, 3)).astype(np.float32)


def class_sound(cls: int, seconds: float, sr: int = SAMPLE_RATE, detune: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """The sound of a class: its own pitch, harmonic mix and rhythm, float32 in [-1, 1]."""
    t = np.arange(int(round(seconds * sr))) / sr
    f0 = 110.0 * 2 ** (((cls * 7) % 31) / 12) * detune
    n_harm = 1 + cls % 6
    rolloff = 0.6 + 0.5 * ((cls // 6) % 3)
    tone = sum((1.0 / k**rolloff) * np.sin(2 * np.pi * k * f0 * t + phase * k) for k in range(1, n_harm + 1))
    rate = (0.0, 1.5, 2.5, 4.0, 6.0)[(cls // 2) % 5]
    envelope = 1.0 if rate == 0 else 0.55 + 0.45 * np.sign(np.sin(2 * np.pi * rate * t + phase))
    wave = tone * envelope
    return (wave / np.max(np.abs(wave))).astype(np.float32)


@dataclass(frozen=True)
class RenderedClip:
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB
    classes: np.ndarray  # [T, H, W] uint8 AVSS class of each sounding pixel, 0 elsewhere
    audio: np.ndarray  # [n] float32 at SAMPLE_RATE

    @property
    def masks(self) -> np.ndarray:
        return (self.classes > 0).astype(np.uint8)


def render_clip(clip: SynthClip) -> RenderedClip:
    """Pixels, labels and sound of one clip (pure; deterministic from the clip's seed)."""
    rng = np.random.default_rng(clip.seed)
    w, h = clip.size
    bg = _background(rng, clip.size)
    grain = rng.normal(0, 5, size=(h, w, 1)).astype(np.float32)
    frames = np.empty((clip.n_frames, h, w, 3), np.uint8)
    classes = np.zeros((clip.n_frames, h, w), np.uint8)
    textures = {o.cls: _texture(o.cls, clip.size) for o in clip.objects}
    for t in range(clip.n_frames):
        img = bg + grain
        for obj in clip.objects:  # later objects are drawn over earlier ones
            m = _object_mask(obj, t, clip.size)
            colour = np.array(class_colour(obj.cls), np.float32)
            shade = np.where(textures[obj.cls][..., None], 0.7, 1.0)
            img = np.where(m[..., None], colour * shade, img)
            classes[t][m] = obj.cls if obj.sounding else 0
        frames[t] = np.clip(np.round(img), 0, 255).astype(np.uint8)
    n = int(round(clip.seconds * SAMPLE_RATE))
    audio = np.zeros(n, np.float32)
    for obj in clip.objects:
        if obj.sounding:
            audio += class_sound(obj.cls, clip.seconds, detune=2 ** (rng.uniform(-0.3, 0.3) / 12),
                                 phase=float(rng.uniform(0, 2 * np.pi)))
    peak = float(np.max(np.abs(audio))) or 1.0
    audio = 0.6 * audio / peak + rng.normal(0, 0.003, n).astype(np.float32)
    return RenderedClip(frames, classes, np.clip(audio, -1, 1).astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Writing the AVSBench layout


def _write_png(path: Path, image: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise AVSBRobustError(f"{path}: PNG encoding failed")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())


def _write_jpg(path: Path, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise AVSBRobustError(f"{path}: JPEG encoding failed")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())


def _write_wav(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_binary_clip(root: Path, clip: SynthClip, r: RenderedClip) -> int:
    """S4 or MS3 frames, masks and audio; returns the number of masks written."""
    masks = 0
    if clip.subset is Subset.S4:
        base = root / "Single-source" / "s4_data"
        rel = Path(clip.split.value) / clip.category
        frame_dir = base / "visual_frames" / rel / clip.video
        audio = base / "audio_wav" / rel / f"{clip.video}.wav"
        mask_dir = base / "gt_masks" / rel / clip.video
    else:
        base = root / "Multi-sources" / "ms3_data"
        frame_dir = base / "visual_frames" / clip.video
        audio = base / "audio_wav" / clip.split.value / f"{clip.video}.wav"
        mask_dir = base / "gt_masks" / clip.split.value / clip.video
    for t in range(clip.n_frames):
        k = t + 1
        name = f"{clip.video}.mp4_{k}.png" if clip.subset is Subset.MS3 else f"{clip.video}_{k}.png"
        _write_png(frame_dir / name, cv2.cvtColor(r.frames[t], cv2.COLOR_RGB2BGR))
        if clip.subset is Subset.S4 and clip.split is Split.TRAIN and k > 1:
            continue  # S4 train is annotated on the first frame only
        _write_png(mask_dir / f"{clip.video}_{k}.png", r.masks[t] * 255)
        masks += 1
    _write_wav(audio, r.audio)
    return masks


def _write_avss_clip(root: Path, clip: SynthClip, r: RenderedClip) -> int:
    folder = root / "AVSS" / clip.label / clip.video
    masks = 0
    for t in range(clip.n_frames):
        _write_jpg(folder / "frames" / f"{t}.jpg", r.frames[t])
        if clip.split is Split.TRAIN and clip.label == AVSSLabel.V1S.value and t > 0:
            continue
        _write_png(folder / "labels_rgb" / f"{t}.png", cv2.cvtColor(AVSS_PALETTE[r.classes[t]], cv2.COLOR_RGB2BGR))
        masks += 1
    _write_wav(folder / "audio.wav", r.audio)
    return masks


def _parse_subsets(subsets: "str | Iterable[str | Subset]") -> list[Subset]:
    if isinstance(subsets, (str, Subset)):
        subsets = list(Subset) if str(subsets) == "all" else [subsets]
    chosen = {Subset.parse(s) for s in subsets}  # type: ignore[misc]
    return [s for s in Subset if s in chosen]  # S4/MS3 render before their AVSS v1s/v1m copies


def generate(
    out: "str | Path",
    subsets: "str | Iterable[str | Subset]" = "all",
    videos: "int | None" = None,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Write a synthetic AVSBench tree into `out`; returns clip/frame/mask counts per subset and split.

    `out` must be empty or a previous synthetic tree (it is overwritten in place, same bytes for
    the same seed), never a real dataset.
    """
    from tqdm import tqdm

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputFileError(out, "exists and is not a folder: cannot write a synthetic tree there")
    ours = (out / MARKER).is_file() or (out / PARTIAL_MARKER).is_file()
    if out.exists() and any(out.iterdir()) and not ours:
        raise AVSBRobustError(f"{out} is not empty and holds no {MARKER}: refusing to write a synthetic tree into it")
    videos = DEFAULT_VIDEOS if videos is None else videos
    wanted = _parse_subsets(subsets)
    p = plan(seed, videos)  # bad options fail here, before anything is touched
    # From here until the end the tree carries PARTIAL_MARKER, so a rerun after an interruption redoes it.
    out.mkdir(parents=True, exist_ok=True)
    (out / PARTIAL_MARKER).write_text(json.dumps({"generator": "avsbench_robust.data.synthetic", "complete": False})
                                      + "\n", encoding="utf-8")
    # Rewriting a previous synthetic tree starts clean, so no clip of an earlier, larger run survives.
    for stale in ("Single-source", "Multi-sources", "AVSS", MARKER):
        target = out / stale
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    counts: dict[str, dict[str, dict[str, int]]] = {}

    def tally(clip: SynthClip, masks: int) -> None:
        c = counts.setdefault(clip.subset.value, {}).setdefault(clip.split.value, {"clips": 0, "frames": 0, "masks": 0})
        c["clips"] += 1
        c["frames"] += clip.n_frames
        c["masks"] += masks

    jobs = [c for s in wanted for c in getattr(p, s.value)]
    cache: dict[tuple[int, str], RenderedClip] = {}
    for clip in tqdm(jobs, desc="synth", unit="clip", disable=None if progress else True):
        key = (clip.seed, clip.vid)
        rendered = cache.pop(key, None) or render_clip(clip)
        if clip.subset is Subset.AVSS:
            tally(clip, _write_avss_clip(out, clip, rendered))
        else:
            tally(clip, _write_binary_clip(out, clip, rendered))
            if Subset.AVSS in wanted:
                cache[key] = rendered  # the AVSS v1s/v1m copy of this clip reuses the pixels
    if Subset.S4 in wanted:
        _write_csv(out / "Single-source" / "s4_meta_data.csv", ["name", "start", "category", "split"],
                   [(c.video, int(c.video.rsplit("_", 1)[1]) // 1000, c.category, c.split.value) for c in p.s4])
    if Subset.MS3 in wanted:
        _write_csv(out / "Multi-sources" / "ms3_meta_data.csv", ["video_id", "split"],
                   [(c.video, c.split.value) for c in p.ms3])
    if Subset.AVSS in wanted:
        _write_csv(out / "AVSS" / "metadata.csv", ["vid", "uid", "s_min", "s_sec", "a_obj", "split", "label"],
                   [(c.vid, c.video, 0, int(c.vid.rsplit("_", 1)[1]) // 1000, "_".join(c.heard), c.split.value, c.label)
                    for c in p.avss])
        (out / "AVSS" / "label2idx.json").write_text(
            json.dumps({name: i + 1 for i, name in enumerate(AVSS_CLASSES)}, indent=2) + "\n", encoding="utf-8")
    summary = {"generator": "avsbench_robust.data.synthetic", "toolkit_version": __version__, "seed": seed,
               "videos": videos, "subsets": [s.value for s in wanted], "counts": counts}
    (out / MARKER).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / PARTIAL_MARKER).unlink()
    return summary
