"""Reader for an AVSBench copy on disk: one uniform frame index per subset and split (SPEC §1).

Everything downstream (build, score, train) sees the same DataFrame whatever quirks the real release
has: MS3 frames named `<video>.mp4_<k>.png` with no split level, S4 train with one mask per clip,
AVSS 0-based JPEG frames with RGB palette labels, CSV columns read by name with a positional fallback.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from ..errors import DatasetLayoutError, InputFileError, ValidationError
from ..io_utils import read_json
from ..types import AVSSLabel, Split, Subset
from .classes import AVSS_CLASSES, AVSS_PALETTE, S4_CATEGORY_TO_AVSS

INDEX_COLUMNS: tuple[str, ...] = (
    "subset", "split", "video", "vid", "category", "objects", "label", "t", "frame",
    "frames_in_clip", "frame_path", "mask_path", "audio_path", "audio_seconds",
)
CLIP_COLUMNS: tuple[str, ...] = (
    "subset", "split", "video", "vid", "category", "objects", "label", "frames_in_clip",
    "audio_path", "audio_seconds",
)

S4_CSV = Path("Single-source") / "s4_meta_data.csv"
MS3_CSV = Path("Multi-sources") / "ms3_meta_data.csv"
AVSS_CSV = Path("AVSS") / "metadata.csv"
AVSS_LABEL2IDX = Path("AVSS") / "label2idx.json"
SUBSET_CSV: dict[Subset, Path] = {Subset.S4: S4_CSV, Subset.MS3: MS3_CSV, Subset.AVSS: AVSS_CSV}

_NAME_COLUMNS = ("name", "video_id", "video_name", "video", "vid", "uid")
_MAX_LISTED = 10


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputFileError(path, "metadata CSV not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
        # A headerless CSV shows a split value among its "column names": read it again without a header.
        if {str(c).strip().lower() for c in df.columns} & {s.value for s in Split}:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig",
                             header=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not a readable CSV ({type(exc).__name__}: {exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise InputFileError(path, "metadata CSV has no rows")
    return df


def _pick(df: pd.DataFrame, path: Path, field: str, candidates: Iterable[str], position: int) -> pd.Series:
    """A column by (case-insensitive) name, else by position; error names the file and the field."""
    lower = {c.lower(): c for c in df.columns}
    for cand in candidates:
        if cand in lower:
            return df[lower[cand]].astype(str).str.strip()
    if position < len(df.columns):
        return df.iloc[:, position].astype(str).str.strip()
    raise InputFileError(
        path,
        f"no column for {field!r}: expected a header among {list(candidates)} or at least "
        f"{position + 1} columns, found {list(df.columns)}",
    )


def _parse_splits(values: pd.Series, path: Path) -> pd.Series:
    norm = values.str.lower()
    bad = sorted(set(norm) - {s.value for s in Split})
    if bad:
        raise InputFileError(path, f"unknown split value(s) {bad[:5]} (expected train, val, test)")
    return norm


def _wanted(splits: "Split | str | Sequence[Split | str] | None") -> list[Split]:
    if splits is None:
        return list(Split)
    if isinstance(splits, (str, Split)):
        splits = [splits]
    return [Split.parse(s) for s in splits]  # type: ignore[misc]


def _check_root(root: Path, subset: Subset) -> None:
    if not root.exists():
        raise DatasetLayoutError(f"AVSBench root {root} does not exist")
    if not root.is_dir():
        raise DatasetLayoutError(f"AVSBench root {root} is not a folder")
    if not any((root / p).is_file() for p in SUBSET_CSV.values()):
        raise DatasetLayoutError(
            f"{root} is not an AVSBench root: expected {S4_CSV}, {MS3_CSV} or {AVSS_CSV} under it "
            "(the folder holding Single-source/, Multi-sources/, AVSS/)"
        )
    if not (root / SUBSET_CSV[subset]).is_file():
        raise DatasetLayoutError(
            f"{root} has no {subset.value.upper()} subset: expected {root / SUBSET_CSV[subset]}"
        )


def read_avss_metadata(path: Path) -> pd.DataFrame:
    """AVSS `metadata.csv` as a frame with vid, uid, a_obj, split, label (columns by name, else position)."""
    df = _read_csv(path)
    out = pd.DataFrame({
        "vid": _pick(df, path, "vid", ["vid"], 0),
        "uid": _pick(df, path, "uid", ["uid"], 1),
        "a_obj": _pick(df, path, "a_obj", ["a_obj"], 4),
        "split": _parse_splits(_pick(df, path, "split", ["split"], 5), path),
        "label": _pick(df, path, "label", ["label"], 6).str.lower(),
    })
    bad = sorted(set(out["label"]) - {label.value for label in AVSSLabel})
    if bad:
        raise InputFileError(path, f"unknown label value(s) {bad[:5]} (expected v1s, v1m, v2)")
    return out


def _objects(a_obj: str) -> tuple[str, ...]:
    return tuple(o for o in a_obj.split("_") if o)


def _avss_objects_by_vid(root: Path, avss_metadata: "Path | None", label: AVSSLabel) -> "dict[str, tuple[str, ...]] | None":
    path = Path(avss_metadata) if avss_metadata is not None else root / AVSS_CSV
    if not path.is_file():
        if avss_metadata is not None:
            raise InputFileError(path, "AVSS metadata CSV not found")
        return None
    meta = read_avss_metadata(path)
    rows = meta[meta["label"] == label.value]
    return {vid: _objects(a) for vid, a in zip(rows["vid"], rows["a_obj"])}


def _rows_s4(root: Path, splits: list[Split], avss_metadata: "Path | None") -> list[dict]:
    path = root / S4_CSV
    df = _read_csv(path)
    names = _pick(df, path, "video name", _NAME_COLUMNS, 0)
    cats = _pick(df, path, "category", ["category", "label", "class"], 2)
    split_col = _parse_splits(_pick(df, path, "split", ["split"], 3), path)
    objects_by_vid = _avss_objects_by_vid(root, avss_metadata, AVSSLabel.V1S) or {}
    base = os.path.join(root, "Single-source", "s4_data")
    rows = []
    for video, category, split in zip(names, cats, split_col):
        if Split(split) not in splits:
            continue
        objects = objects_by_vid.get(video) or (
            (S4_CATEGORY_TO_AVSS[category],) if category in S4_CATEGORY_TO_AVSS else ()
        )
        clip = dict(subset=Subset.S4.value, split=split, video=video, vid=video, category=category,
                    objects=objects, label="", frames_in_clip=5, audio_seconds=5.0,
                    audio_path=f"{base}/audio_wav/{split}/{category}/{video}.wav")
        for t in range(5):
            k = t + 1
            # S4 train is semi-supervised: only the first frame of each clip carries a mask.
            optional = split == Split.TRAIN.value and k > 1
            rows.append(dict(clip, t=t, frame=k,
                             frame_path=f"{base}/visual_frames/{split}/{category}/{video}/{video}_{k}.png",
                             mask_path=f"{base}/gt_masks/{split}/{category}/{video}/{video}_{k}.png",
                             mask_optional=optional))
    return rows


def _rows_ms3(root: Path, splits: list[Split], avss_metadata: "Path | None") -> list[dict]:
    path = root / MS3_CSV
    df = _read_csv(path)
    names = _pick(df, path, "video name", _NAME_COLUMNS, 0)
    split_col = _parse_splits(_pick(df, path, "split", ["split"], len(df.columns) - 1), path)
    objects_by_vid = _avss_objects_by_vid(root, avss_metadata, AVSSLabel.V1M)
    base = os.path.join(root, "Multi-sources", "ms3_data")
    rows = []
    for video, split in zip(names, split_col):
        if Split(split) not in splits:
            continue
        objects = objects_by_vid.get(video, ()) if objects_by_vid else ()
        clip = dict(subset=Subset.MS3.value, split=split, video=video, vid=video, category="",
                    objects=objects, label="", frames_in_clip=5, audio_seconds=5.0,
                    audio_path=f"{base}/audio_wav/{split}/{video}.wav")
        for t in range(5):
            k = t + 1
            # Frames have no split level and keep the ".mp4" of the source file name.
            frame = f"{base}/visual_frames/{video}/{video}.mp4_{k}.png"
            if not os.path.isfile(frame):
                alt = f"{base}/visual_frames/{video}/{video}_{k}.png"
                frame = alt if os.path.isfile(alt) else frame
            rows.append(dict(clip, t=t, frame=k, frame_path=frame,
                             mask_path=f"{base}/gt_masks/{split}/{video}/{video}_{k}.png",
                             mask_optional=False))
    return rows


def read_label2idx(path: Path) -> dict[str, int]:
    """`label2idx.json`, checked against the 71 AVSS classes (1-based, background = 1)."""
    mapping = read_json(path, "AVSS label2idx.json not found")
    if not isinstance(mapping, dict) or not all(isinstance(v, int) for v in mapping.values()):
        raise InputFileError(path, "expected an object mapping class names to integer indices")
    expected = {name: i + 1 for i, name in enumerate(AVSS_CLASSES)}
    if mapping != expected:
        diff = sorted(set(mapping.items()) ^ set(expected.items()))[:5]
        raise InputFileError(path, f"does not list the 71 AVSS classes in the expected order (differs at {diff})")
    return mapping


def _rows_avss(root: Path, splits: list[Split]) -> list[dict]:
    read_label2idx(root / AVSS_LABEL2IDX)
    meta = read_avss_metadata(root / AVSS_CSV)
    rows = []
    for vid, uid, a_obj, split, label in meta.itertuples(index=False):
        if Split(split) not in splits:
            continue
        n = 10 if label == AVSSLabel.V2.value else 5
        folder = os.path.join(root, "AVSS", label, uid)
        clip = dict(subset=Subset.AVSS.value, split=split, video=uid, vid=vid, category="",
                    objects=_objects(a_obj), label=label, frames_in_clip=n, audio_seconds=float(n),
                    audio_path=f"{folder}/audio.wav")
        for t in range(n):
            frame = f"{folder}/frames/{t}.jpg"
            if not os.path.isfile(frame) and os.path.isfile(f"{folder}/frames/{t}.png"):
                frame = f"{folder}/frames/{t}.png"
            # v1s train clips repeat S4 train, which is annotated on the first frame only.
            optional = split == Split.TRAIN.value and label == AVSSLabel.V1S.value and t > 0
            rows.append(dict(clip, t=t, frame=t, frame_path=frame,
                             mask_path=f"{folder}/labels_rgb/{t}.png", mask_optional=optional))
    return rows


def load_index(
    root: "str | Path",
    subset: "Subset | str",
    split: "Split | str | Sequence[Split | str] | None" = None,
    avss_metadata: "str | Path | None" = None,
    check_files: bool = True,
) -> pd.DataFrame:
    """One row per frame of `subset` (all splits, or the given ones), columns `INDEX_COLUMNS`.

    Every referenced frame, mask and audio file is checked before returning, so a broken copy
    fails here with the full list of what is missing instead of halfway through a build or score.
    """
    root = Path(root).expanduser().resolve()
    subset = Subset.parse(subset)
    splits = _wanted(split)
    _check_root(root, subset)
    if subset is Subset.S4:
        rows = _rows_s4(root, splits, Path(avss_metadata) if avss_metadata else None)
    elif subset is Subset.MS3:
        rows = _rows_ms3(root, splits, Path(avss_metadata) if avss_metadata else None)
    else:
        rows = _rows_avss(root, splits)
    if check_files:
        _check_files(rows, root)
    df = pd.DataFrame(rows, columns=[*INDEX_COLUMNS, "mask_optional"])
    if df.empty:
        return df.drop(columns="mask_optional")
    # A mask that the release does not have (S4 train frames 2..5) is None, not a dangling path.
    missing_opt = df["mask_optional"] & ~df["mask_path"].map(os.path.isfile)
    df.loc[missing_opt, "mask_path"] = None
    dup = df.duplicated(["split", "video", "t"])
    if dup.any():
        first = df.loc[dup, "video"].iloc[0]
        raise DatasetLayoutError(f"{root / SUBSET_CSV[subset]}: video {first!r} is listed more than once")
    return df.drop(columns="mask_optional").reset_index(drop=True)


def _check_files(rows: list[dict], root: Path) -> None:
    problems: list[str] = []
    seen_audio: set[str] = set()
    for r in rows:
        if not os.path.isfile(r["frame_path"]):
            problems.append(f"missing frame {r['frame_path']}")
        if not r["mask_optional"] and not os.path.isfile(r["mask_path"]):
            problems.append(f"missing mask {r['mask_path']}")
        audio = r["audio_path"]
        if audio not in seen_audio:
            seen_audio.add(audio)
            if not os.path.isfile(audio):
                problems.append(f"missing audio {audio}")
    if problems:
        raise ValidationError(f"AVSBench root {root}", problems, shown=_MAX_LISTED)


def clip_table(index: pd.DataFrame) -> pd.DataFrame:
    """One row per clip, in index order (the metadata order the official protocol batches by)."""
    return index.drop_duplicates(["split", "video"])[list(CLIP_COLUMNS)].reset_index(drop=True)


def _open_image(path: "str | Path") -> Image.Image:
    try:
        img = Image.open(path)
        img.load()
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InputFileError(path, f"unreadable image ({exc})") from None
    return img


def rgb_to_class_map(rgb: np.ndarray) -> np.ndarray:
    """Map exact AVSS palette colours to class indices; any other colour is background (as official)."""
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    pal = (AVSS_PALETTE[:, 0].astype(np.int32) << 16) | (AVSS_PALETTE[:, 1].astype(np.int32) << 8) | AVSS_PALETTE[:, 2]
    order = np.argsort(pal)
    pos = np.clip(np.searchsorted(pal[order], codes), 0, len(pal) - 1)
    cls = order[pos]
    return np.where(pal[cls] == codes, cls, 0).astype(np.uint8)


def _has_palette(png: np.ndarray) -> bool:
    """Whether PNG bytes declare colour type 3 (palette): byte 25 of the IHDR chunk."""
    return png.size > 25 and png[:8].tobytes() == b"\x89PNG\r\n\x1a\n" and int(png[25]) == 3


def read_mask(path: "str | Path", subset: "Subset | str") -> np.ndarray:
    """A GT mask as uint8 `[H, W]`: {0, 1} for S4/MS3 (any non-zero = foreground), class indices for AVSS."""
    subset = Subset.parse(subset)
    if not subset.is_semantic:
        # Fast path for the common 8-bit single-channel PNG (also 1-bit, which OpenCV expands to 0/255);
        # palette and colour masks go through PIL below, which keeps their exact semantics.
        data = np.fromfile(str(path), dtype=np.uint8) if os.path.isfile(path) else None
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data is not None and data.size else None
        if arr is not None and arr.ndim == 2 and arr.dtype == np.uint8 and not _has_palette(data):
            return (arr > 0).view(np.uint8)
    img = _open_image(path)
    if subset.is_semantic:
        if img.mode in ("L", "I", "I;16"):
            arr = np.asarray(img)
            if arr.max(initial=0) >= len(AVSS_CLASSES):
                raise InputFileError(path, f"class index {int(arr.max())} out of range 0..{len(AVSS_CLASSES) - 1}")
            return arr.astype(np.uint8)
        return rgb_to_class_map(np.asarray(img.convert("RGB")))
    if img.mode in ("RGB", "RGBA"):
        return (np.asarray(img.convert("RGB")).max(axis=2) > 0).astype(np.uint8)
    return (np.asarray(img.convert("L")) > 0).astype(np.uint8)


def read_frame(path: "str | Path") -> np.ndarray:
    """An RGB frame as uint8 `[H, W, 3]`."""
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    if data is None:
        raise InputFileError(path, "file not found")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputFileError(path, "unreadable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def index_summary(index: pd.DataFrame) -> pd.DataFrame:
    """Clips, frames and masks per subset and split: what `avsb-robust index` prints."""
    if index.empty:
        return pd.DataFrame(columns=["subset", "split", "clips", "frames", "masks"])
    g = index.groupby(["subset", "split"], sort=False)
    return pd.DataFrame({
        "clips": g["video"].nunique(),
        "frames": g.size(),
        "masks": g["mask_path"].count(),
    }).reset_index()
