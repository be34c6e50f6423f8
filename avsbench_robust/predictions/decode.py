"""Decode one prediction file (PNG or .npy/.npz bytes) into frames, refusing anything unsafe or odd.

Pure functions on bytes: the caller reads the file (and hashes the same bytes for provenance).
Binary tasks (S4, MS3) return uint8 v/255 or float32 probabilities/logits; the semantic task (AVSS)
returns uint8 class maps. Every refusal is a `DecodeProblem` whose text completes "<file>: ...".
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np
from PIL import Image

from ..data.classes import AVSS_PALETTE, NUM_AVSS_CLASSES
from .bounded import (
    DEFAULT_MAX_ARRAY_BYTES,
    ArrayProblem,
    NpyHeader,
    array_from_bytes,
    check_size,
    open_npz,
    png_size,
    read_member,
)

#: Pixels per frame above which a file is refused before decoding (decompression-bomb guard).
DEFAULT_MAX_PIXELS = 1 << 24  # 16.7 MP: any real mask is far smaller (4K video is 8.3 MP)

#: Array names that hold the prediction when an .npz has several arrays (`logits` means logits).
PREFERRED_ARRAY_NAMES: tuple[str, ...] = ("logits", "pred", "preds", "probs", "prob", "masks", "mask")


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class DecodeProblem(Exception):
    """The file cannot be used as a prediction; the message says why in a few words."""


class Kind(str, Enum):
    """What decoded values mean, which decides how they are resized and turned into probabilities."""

    BINARY = "binary"  # uint8 0/255: nearest
    U8 = "u8"  # uint8 v/255, binary or probability: decided only if a resize needs to know
    PROB = "prob"  # uint8 v/255 or float32 in [0, 1]: bilinear
    LOGITS = "logits"  # float32, sigmoid after (bilinear) resizing, as models upsample logits
    CLASS = "class"  # uint8 class index 0..70: nearest


@dataclass(frozen=True)
class Decoded:
    array: np.ndarray  # [H,W] for a PNG, [T,H,W] for an array file
    kind: Kind


def _guard_pixels(h: int, w: int, max_pixels: int) -> None:
    if h * w > max_pixels:
        raise DecodeProblem(f"{w}x{h} image exceeds the mask size cap of {max_pixels} pixels (not decoded)")
    if h == 0 or w == 0:
        raise DecodeProblem(f"empty image ({w}x{h})")


def _used(values: np.ndarray) -> np.ndarray:
    """Boolean [256] of which uint8 values occur (a bincount: one pass, no sort)."""
    return np.bincount(values.ravel(), minlength=256) > 0


def is_binary_u8(v: np.ndarray) -> bool:
    """True when 8-bit values are only 0 and 255 (a hard mask, resized by nearest neighbour)."""
    used = _used(v)
    used[[0, 255]] = False
    return not used.any()


def _palette(im: Image.Image) -> np.ndarray:
    pal = np.asarray(im.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
    out = np.zeros((256, 3), np.uint8)
    out[: min(256, len(pal))] = pal[:256]
    return out


def nearest_palette_index(rgb: np.ndarray) -> np.ndarray:
    """Map RGB pixels `[...,3]` to the nearest AVSS palette colour (Euclidean), as class indices."""
    code = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    colours, inverse = np.unique(code.ravel(), return_inverse=True)
    cols = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
    d2 = ((cols[:, None, :] - AVSS_PALETTE[None, :, :].astype(np.int32)) ** 2).sum(-1)
    return d2.argmin(1).astype(np.uint8)[inverse].reshape(code.shape)


def _check_classes(idx: np.ndarray) -> np.ndarray:
    top = int(idx.max()) if idx.size else 0
    if top >= NUM_AVSS_CLASSES:
        raise DecodeProblem(f"class index {top} out of range 0..{NUM_AVSS_CLASSES - 1}")
    return idx.astype(np.uint8, copy=False)


def decode_png(data: bytes, semantic: bool, max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """One PNG mask: modes L, P, 1, RGB (alpha ignored). Binary: 0/255 or v/255; AVSS: index or palette.

    The size is read from IHDR and capped before anything is inflated; 8-bit grey PNGs (what models
    and `save_mask` write) decode through OpenCV, everything else through PIL.
    """
    if data[:8] == _PNG_MAGIC:
        try:
            w, h, depth, colour = png_size(data)
        except ArrayProblem as exc:
            raise DecodeProblem(str(exc)) from None
        _guard_pixels(h, w, max_pixels)
        if depth == 8 and colour == 0:
            arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            if arr is not None and arr.shape == (h, w) and arr.dtype == np.uint8:
                return Decoded(_check_classes(arr), Kind.CLASS) if semantic else Decoded(arr, Kind.U8)
    try:
        im = Image.open(io.BytesIO(data))
    except Exception as exc:  # PIL raises many types for garbage; all mean "not an image"
        raise DecodeProblem(f"not a readable image ({type(exc).__name__})") from None
    if im.format != "PNG":
        raise DecodeProblem(f"not a PNG (found {im.format or 'unknown format'})")
    w, h = im.size
    _guard_pixels(h, w, max_pixels)
    try:
        im.load()
    except Exception as exc:
        raise DecodeProblem(f"unreadable or truncated PNG ({exc})") from None
    mode = im.mode
    if mode not in ("L", "P", "1", "RGB", "LA", "PA", "RGBA"):
        raise DecodeProblem(f"unsupported PNG mode {mode} (expected L, P, 1 or RGB)")
    arr = np.asarray(im)
    if mode in ("LA", "PA"):  # alpha is ignored: the value channel carries the mask
        arr, mode = arr[..., 0], mode[0]
    elif mode == "RGBA":
        arr, mode = arr[..., :3], "RGB"
    if semantic:
        if mode == "RGB":
            return Decoded(nearest_palette_index(arr), Kind.CLASS)
        return Decoded(_check_classes(arr.astype(np.uint8)), Kind.CLASS)
    if mode == "1":
        return Decoded(arr.astype(np.uint8) * np.uint8(255), Kind.BINARY)
    if mode == "L":
        return Decoded(arr, Kind.U8)
    if mode == "P":
        pal = _palette(im)
        used = _used(arr)
        gray = (pal[:, 0] == pal[:, 1]) & (pal[:, 1] == pal[:, 2])
        # Grey palettes (what save_mask's convert('P') writes) carry the grey level; coloured ones
        # (VOC-style label PNGs) mean "any non-black index is foreground".
        lut = pal[:, 0] if gray[used].all() else (pal.any(1) * 255).astype(np.uint8)
        return Decoded(lut[arr], Kind.U8)
    if (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all():
        return Decoded(np.ascontiguousarray(arr[..., 0]), Kind.U8)
    return Decoded(arr.any(-1).astype(np.uint8) * np.uint8(255), Kind.BINARY)


def _header_check(name: str, frames: int, semantic: bool, max_pixels: int, max_bytes: int):
    """The checks a prediction array's header must pass before a byte of its data is read."""
    where = f"array {name!r}: " if name else ""

    def check(header: NpyHeader) -> None:
        shape = header.shape
        if len(shape) not in (3, 4):
            raise DecodeProblem(f"{where}shape {list(shape)}; expected [T,H,W]")
        if 0 in shape:
            raise DecodeProblem(f"{where}empty array of shape {list(shape)}")
        try:
            _guard_pixels(shape[-2], shape[-1], max_pixels)
        except DecodeProblem as exc:
            raise DecodeProblem(f"{where}{exc}") from None
        if len(shape) == 4 and shape[1] > NUM_AVSS_CLASSES:
            raise DecodeProblem(f"{where}shape {list(shape)}; expected [T,H,W]")
        # AVSS v1s/v1m clips (5 frames) may come zero-padded to 10, as the official loader feeds them.
        padded = semantic and frames == 5 and shape[0] == 10
        if shape[0] != frames and not padded:
            raise DecodeProblem(f"{where}shape {list(shape)}: {shape[0]} frames, the clip has {frames} (not read)")
        try:
            check_size(header, max_bytes)
        except ArrayProblem as exc:
            raise DecodeProblem(f"{where}{exc}") from None

    return check


def _read_npy(data: bytes, check) -> tuple[np.ndarray, str]:
    try:
        return array_from_bytes(data, check), ""
    except ArrayProblem as exc:
        raise DecodeProblem(str(exc)) from None


def _read_npz(data: bytes, frames: int, semantic: bool, max_pixels: int, max_bytes: int) -> tuple[np.ndarray, str]:
    try:
        zf = open_npz(data)
    except ArrayProblem as exc:
        raise DecodeProblem(str(exc)) from None
    members = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}
    if not members:
        raise DecodeProblem("the .npz holds no arrays")
    if len(members) == 1:
        name = next(iter(members))
    else:
        name = next((n for n in PREFERRED_ARRAY_NAMES if n in members), "")
        if not name:
            listed = ", ".join(sorted(members)[:10])
            raise DecodeProblem(f"holds several arrays ({listed}); name the prediction 'pred' or 'logits'")
    try:
        return read_member(zf, members[name], _header_check(name, frames, semantic, max_pixels, max_bytes)), name
    except ArrayProblem as exc:
        raise DecodeProblem(f"array {name!r}: {exc}") from None


def decode_array(
    data: bytes, suffix: str, frames: int, semantic: bool, logits: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int = DEFAULT_MAX_ARRAY_BYTES,
) -> Decoded:
    """A whole clip from .npy/.npz: `[T,H,W]` (or `[T,1,H,W]`; AVSS also `[T,71,H,W]` scores).

    Frames, pixels per frame and bytes are checked from the header, before any data is inflated.
    """
    if suffix == ".npz":
        arr, name = _read_npz(data, frames, semantic, max_pixels, max_bytes)
    else:
        arr, name = _read_npy(data, _header_check("", frames, semantic, max_pixels, max_bytes))
    shape = list(arr.shape)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise DecodeProblem("contains NaN or infinite values")
    if semantic:
        if arr.ndim == 4 and arr.shape[1] == NUM_AVSS_CLASSES:
            return Decoded(arr.argmax(1).astype(np.uint8), Kind.CLASS)
        if arr.ndim == 4 or arr.dtype.kind not in "iu":
            raise DecodeProblem(
                f"{arr.dtype} array of shape {shape}; AVSS expects class indices [T,H,W] "
                f"or scores [T,{NUM_AVSS_CLASSES},H,W]")
        if int(arr.min()) < 0:
            raise DecodeProblem(f"negative class index {int(arr.min())}")
        return Decoded(_check_classes(arr), Kind.CLASS)
    if arr.ndim == 4:
        if arr.shape[1] != 1:
            raise DecodeProblem(f"shape {shape}; expected [T,H,W] or [T,1,H,W]")
        arr = arr[:, 0]
    if arr.dtype.kind == "b":
        return Decoded(arr.astype(np.uint8) * np.uint8(255), Kind.BINARY)
    if arr.dtype == np.uint8:
        return Decoded(arr, Kind.U8)
    if arr.dtype.kind in "iu":
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 1):
            raise DecodeProblem(f"{arr.dtype} values outside {{0, 1}}; store uint8 0..255 or float probabilities")
        return Decoded(arr.astype(np.uint8) * np.uint8(255), Kind.BINARY)
    arr = arr.astype(np.float32, copy=False)
    if logits or name == "logits":
        return Decoded(arr, Kind.LOGITS)
    if arr.size and (float(arr.min()) < 0.0 or float(arr.max()) > 1.0):
        raise DecodeProblem(
            f"probabilities outside [0, 1] (min {float(arr.min()):.3g}, max {float(arr.max()):.3g}); "
            "pass --logits or store the array as 'logits'")
    return Decoded(arr, Kind.PROB)
