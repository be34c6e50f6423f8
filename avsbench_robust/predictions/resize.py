"""Bring decoded predictions to the evaluation size: nearest for labels, bilinear for probabilities."""
from __future__ import annotations

import cv2
import numpy as np
from scipy.special import expit

from .decode import Kind, is_binary_u8


def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    # Pixel-centre sampling, as PIL's NEAREST (AVSegFormer resizes its GT masks with PIL).
    idx = ((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out)).astype(np.int64)
    return np.minimum(idx, n_in - 1)


def resize_nearest(arr: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of `[..., H, W]` to `hw` by index gathering (any dtype)."""
    h, w = hw
    if arr.shape[-2:] == (h, w):
        return arr
    rows = _nearest_index(arr.shape[-2], h)
    cols = _nearest_index(arr.shape[-1], w)
    return arr[..., rows[:, None], cols[None, :]]


def resize_bilinear(arr: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear (half-pixel centres, no antialias, as torch `interpolate`) float32 resize of `[T,H,W]`."""
    h, w = hw
    src = arr.astype(np.float32, copy=False)
    if src.shape[-2:] == (h, w):
        return src
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in src])


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function computed in float64 and rounded once to float32."""
    return expit(x.astype(np.float64)).astype(np.float32)


def to_eval(arr: np.ndarray, kind: Kind, hw: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """`[T,H,W]` decoded frames of one kind at size `hw`; returns (frames, whether resized).

    Binary and class maps stay uint8; probabilities stay uint8 (v/255) unless resized, when they
    become float32; logits are resized first, then squashed, as models upsample logits.
    """
    resized = arr.shape[-2:] != tuple(hw)
    if kind is Kind.U8:
        if not resized:
            return arr, False
        kind = Kind.BINARY if is_binary_u8(arr) else Kind.PROB
    if kind in (Kind.BINARY, Kind.CLASS):
        return resize_nearest(arr, hw), resized
    if kind is Kind.LOGITS:
        return sigmoid(resize_bilinear(arr, hw)), resized
    if not resized:
        return arr, False
    if arr.dtype == np.uint8:
        return resize_bilinear(arr.astype(np.float32) / np.float32(255.0), hw), True
    return resize_bilinear(arr, hw), True
