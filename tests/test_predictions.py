"""Prediction loader: decoding of every PNG mode and array kind, resizing, layout detection (real files)."""
from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from PIL import Image

from avsbench_robust.data.classes import AVSS_PALETTE
from avsbench_robust.predictions import (
    ClipSpec,
    DecodeProblem,
    Kind,
    Layout,
    decode_array,
    decode_png,
    detect_layout,
    frame_paths,
    is_binary_u8,
    resize_nearest,
    to_eval,
)
from avsbench_robust.types import Subset


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


MASK = np.zeros((6, 8), np.uint8)
MASK[2:5, 3:7] = 1


# ---------------------------------------------------------------- PNG modes, binary task
def test_png_l_binary_and_probability():
    dec = decode_png(_png(Image.fromarray(MASK * 255, "L")), semantic=False)
    assert dec.kind is Kind.U8 and np.array_equal(dec.array, MASK * 255) and is_binary_u8(dec.array)
    prob = (MASK * 200 + 17).astype(np.uint8)
    dec = decode_png(_png(Image.fromarray(prob, "L")), semantic=False)
    assert dec.kind is Kind.U8 and np.array_equal(dec.array, prob) and not is_binary_u8(dec.array)


def test_png_save_mask_p_mode_is_grey_levels():
    # what the official save_mask writes: Image.fromarray(0/255).convert('P')
    img = Image.fromarray(MASK * 255, "L").convert("P")
    dec = decode_png(_png(img), semantic=False)
    assert np.array_equal(dec.array, MASK * 255)


def test_png_p_mode_coloured_palette_any_colour_is_foreground():
    img = Image.fromarray(MASK, "P")
    img.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
    dec = decode_png(_png(img), semantic=False)
    assert np.array_equal(dec.array, MASK * 255)


def test_png_mode_1_and_rgb():
    dec = decode_png(_png(Image.fromarray(MASK.astype(bool)).convert("1")), semantic=False)
    assert np.array_equal(dec.array, MASK * 255)
    grey = np.repeat((MASK * 255)[..., None], 3, axis=2)
    assert np.array_equal(decode_png(_png(Image.fromarray(grey, "RGB")), semantic=False).array, MASK * 255)
    red = np.zeros((*MASK.shape, 3), np.uint8)
    red[..., 0] = MASK * 128
    assert np.array_equal(decode_png(_png(Image.fromarray(red, "RGB")), semantic=False).array, MASK * 255)


def test_png_unsupported_mode_and_garbage():
    with pytest.raises(DecodeProblem, match="unsupported PNG mode"):
        decode_png(_png(Image.fromarray(MASK.astype(np.uint16) * 1000)), semantic=False)
    with pytest.raises(DecodeProblem, match="not a readable image"):
        decode_png(b"hello", semantic=False)
    with pytest.raises(DecodeProblem, match="not a PNG"):
        buf = io.BytesIO()
        Image.fromarray(MASK * 255).save(buf, format="BMP")
        decode_png(buf.getvalue(), semantic=False)


def test_png_truncated():
    data = _png(Image.fromarray((np.arange(64 * 64) % 251).reshape(64, 64).astype(np.uint8)))
    with pytest.raises(DecodeProblem, match="truncated"):
        decode_png(data[: len(data) // 2], semantic=False)


def test_png_bomb_is_refused_before_decoding():
    data = _png(Image.new("L", (5000, 4000)))
    with pytest.raises(DecodeProblem, match="exceeds the mask size cap"):
        decode_png(data, semantic=False, max_pixels=1 << 24)


# ---------------------------------------------------------------- PNG, semantic task
def test_png_avss_index_and_palette_rgb_with_off_palette_edges():
    cls = np.array([[0, 1, 5], [70, 33, 0]], np.uint8)
    assert np.array_equal(decode_png(_png(Image.fromarray(cls, "L")), semantic=True).array, cls)
    rgb = AVSS_PALETTE[cls].astype(np.int16)
    rgb[0, 1] += (3, 2, -0)  # off-palette edge pixel, still nearest to class 1
    rgb[1, 1] += (-4, 5, 6)
    dec = decode_png(_png(Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")), semantic=True)
    assert dec.kind is Kind.CLASS and np.array_equal(dec.array, cls)
    with pytest.raises(DecodeProblem, match="class index 71"):
        decode_png(_png(Image.fromarray(np.full((2, 2), 71, np.uint8), "L")), semantic=True)


# ---------------------------------------------------------------- arrays
def test_array_kinds():
    probs = np.random.default_rng(0).random((5, 6, 8)).astype(np.float32)
    dec = decode_array(_npz(pred=probs), ".npz", 5, semantic=False)
    assert dec.kind is Kind.PROB and np.array_equal(dec.array, probs)
    dec = decode_array(_npy(probs[:, None]), ".npy", 5, semantic=False)
    assert dec.array.shape == (5, 6, 8)
    dec = decode_array(_npz(logits=probs * 20 - 10), ".npz", 5, semantic=False)
    assert dec.kind is Kind.LOGITS
    assert decode_array(_npy(probs * 20 - 10), ".npy", 5, semantic=False, logits=True).kind is Kind.LOGITS
    u8 = (probs * 255).astype(np.uint8)
    assert decode_array(_npy(u8), ".npy", 5, semantic=False).kind is Kind.U8
    assert decode_array(_npy(probs > 0.5), ".npy", 5, semantic=False).kind is Kind.BINARY
    cls = (probs * 70).astype(np.int64)
    assert np.array_equal(decode_array(_npy(cls), ".npy", 5, semantic=True).array, cls)
    scores = np.random.default_rng(1).random((5, 71, 6, 8)).astype(np.float32)
    assert np.array_equal(decode_array(_npz(pred=scores), ".npz", 5, semantic=True).array, scores.argmax(1))


@pytest.mark.parametrize("data,suffix,frames,match", [
    (_npy(np.full((5, 4, 4), np.nan, np.float32)), ".npy", 5, "NaN"),
    (_npy(np.full((5, 4, 4), np.inf, np.float32)), ".npy", 5, "NaN or infinite"),
    (_npy(np.zeros((4, 4, 4), np.float32)), ".npy", 5, "4 frames, the clip has 5"),
    (_npy(np.zeros((5, 4), np.float32)), ".npy", 5, "expected \\[T,H,W\\]"),
    (_npy(np.array([[[{"a": 1}]]] * 5, dtype=object), allow_pickle=True), ".npy", 5, "object"),
    (pickle.dumps(np.zeros((5, 4, 4))), ".npy", 5, "not a valid .npy"),
    (_npy(np.full((5, 4, 4), 1.5, np.float32)), ".npy", 5, "outside \\[0, 1\\]"),
    (_npy(np.full((5, 4, 4), 3, np.int32)), ".npy", 5, "outside \\{0, 1\\}"),
    (_npz(a=np.zeros((5, 4, 4)), b=np.zeros((5, 4, 4))), ".npz", 5, "several arrays"),
    (b"PK\x03\x04garbage", ".npz", 5, "not a valid .npz"),
])
def test_array_refusals(data, suffix, frames, match):
    with pytest.raises(DecodeProblem, match=match):
        decode_array(data, suffix, frames, semantic=False)


def test_array_bomb_header_refused_unread():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (5, 30000, 30000)})
    with pytest.raises(DecodeProblem, match="exceeds the mask size cap"):
        decode_array(b"\x93NUMPY\x01\x00" + header.getvalue()[8:], ".npy", 5, semantic=False)


# ---------------------------------------------------------------- resizing
@pytest.mark.parametrize("src,dst", [((224, 224), (512, 512)), ((240, 360), (224, 224)), ((7, 5), (13, 3))])
def test_nearest_matches_pil(src, dst):
    arr = np.random.default_rng(0).integers(0, 255, size=src, dtype=np.uint8)
    ours = resize_nearest(arr, dst)
    pil = np.asarray(Image.fromarray(arr, "L").resize((dst[1], dst[0]), Image.NEAREST))
    assert np.array_equal(ours, pil)


def test_to_eval_kinds():
    u8 = np.array([[[0, 255], [255, 0]]], np.uint8)
    out, resized = to_eval(u8, Kind.U8, (4, 4))  # hard 0/255 mask: nearest
    assert resized and out.dtype == np.uint8 and set(np.unique(out)) == {0, 255}
    out, resized = to_eval(u8, Kind.U8, (2, 2))
    assert not resized and out is u8
    soft = u8 // 2 + 1
    out, _ = to_eval(soft, Kind.U8, (4, 4))  # 8-bit probabilities: bilinear, as float32
    assert out.dtype == np.float32 and 0 < out[0, 1, 1] < 1
    out, _ = to_eval(np.full((1, 2, 2), 80.0, np.float32), Kind.LOGITS, (2, 2))
    assert out.dtype == np.float32 and np.allclose(out, 1.0)


# ---------------------------------------------------------------- layout detection (pure)
CLIPS = [ClipSpec("vidA", "dog_barking", "", (0, 1, 2, 3, 4), (1, 2, 3, 4, 5), 5, ("",) * 5),
         ClipSpec("vidB", "helicopter", "", (0, 1, 2, 3, 4), (1, 2, 3, 4, 5), 5, ("",) * 5)]


@pytest.mark.parametrize("layout", [Layout.SAVE_MASK, Layout.GT_MIRROR, Layout.FLAT0, Layout.FLAT1])
def test_detect_each_png_layout(layout):
    present = {p for c in CLIPS for p in frame_paths(layout, Subset.S4, c)}
    match = detect_layout(Subset.S4, CLIPS, present)
    assert match.layout is layout and not match.missing and not match.extra


def test_detect_reports_missing_and_extra():
    present = {p for c in CLIPS for p in frame_paths(Layout.SAVE_MASK, Subset.S4, c)}
    present.discard("dog_barking/vidA/vidA_3.png")
    present.add("dog_barking/vidA/vidA_9.png")
    match = detect_layout(Subset.S4, CLIPS, present)
    assert match.layout is Layout.SAVE_MASK
    assert match.missing == ("dog_barking/vidA/vidA_3.png",)
    assert match.extra == ("dog_barking/vidA/vidA_9.png",)


def test_detect_arrays_and_paths_per_subset():
    match = detect_layout(Subset.S4, CLIPS, {"vidA.npz", "vidB.npy"})
    assert match.layout is Layout.ARRAY and match.files == {"vidA": ("vidA.npz",), "vidB": ("vidB.npy",)}
    avss = ClipSpec("uid1", "", "v2", (0, 1), (0, 1), 10, ("", ""))
    assert frame_paths(Layout.SAVE_MASK, Subset.AVSS, avss) == ("uid1/uid1_0.png", "uid1/uid1_1.png")
    assert frame_paths(Layout.GT_MIRROR_RGB, Subset.AVSS, avss)[0] == "v2/uid1/labels_rgb/0.png"
    assert frame_paths(Layout.GT_MIRROR, Subset.MS3, CLIPS[0])[0] == "vidA/vidA_1.png"
