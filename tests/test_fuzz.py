"""Property-based tests (hypothesis): the decoders, parsers and Scorer checks either accept their input or
refuse it with their own error type, never anything else, whatever the bytes; and what they accept
round-trips exactly. Example counts stay modest so the suite keeps to its time on two shared cores."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from avsbench_robust.board.entries import _JSONProblem, parse_json_bytes, relative_path_problem
from avsbench_robust.build.manifest import check_manifest
from avsbench_robust.errors import ValidationError
from avsbench_robust.predictions.bounded import png_size, read_array
from avsbench_robust.predictions.decode import DecodeProblem, decode_array, decode_png
from avsbench_robust.safetext import safe_text
from avsbench_robust.scorer import Scorer

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

small_shapes = st.tuples(st.integers(0, 12), st.integers(0, 9), st.integers(0, 9))
dtypes = st.sampled_from(["|u1", "|b1", "<f4", "<f2", "<i2", ">f4", "<u2", "|O", "<c8", "<U3", "<f8"])


def npy_bytes(shape, descr, data_len, fortran=False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    return buf.getvalue() + bytes(data_len)


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    buf = bytearray(data)
    for pos, val in edits:
        if buf:
            buf[pos % len(buf)] = val
    return bytes(buf[: max(0, len(buf) - cut)])


# ------------------------------------------------------------------ decoders


@FUZZ
@given(shape=small_shapes, descr=dtypes, extra=st.integers(-40, 40), fortran=st.booleans(),
       frames=st.integers(0, 12), semantic=st.booleans(), npz=st.booleans())
def test_array_decoder_accepts_or_refuses_cleanly(shape, descr, extra, fortran, frames, semantic, npz) -> None:
    itemsize = np.dtype(descr).itemsize if descr != "|O" else 8
    exact = int(np.prod(shape)) * itemsize
    data = npy_bytes(shape, descr, max(0, exact + extra), fortran)
    if npz:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("pred.npy", data)
        data = buf.getvalue()
    try:
        dec = decode_array(data, ".npz" if npz else ".npy", frames, semantic)
    except DecodeProblem as exc:
        assert str(exc)  # a reason, on one line once it passes safe_text
        return
    # accepted: only with exactly the declared data, the expected frames and a usable dtype
    assert max(0, exact + extra) == exact and descr not in ("|O", "<c8", "<U3") and 0 not in shape
    assert dec.array.shape[0] in (frames, 10) and dec.array.ndim == 3


@FUZZ
@given(arr=st.integers(1, 6).flatmap(lambda t: st.tuples(st.just(t), st.integers(1, 7), st.integers(1, 7))).map(
    lambda s: np.random.default_rng(sum(s)).integers(0, 256, s, dtype=np.uint8)), fortran=st.booleans())
def test_bounded_reader_round_trips(arr, fortran) -> None:
    src = np.asfortranarray(arr) if fortran else arr
    buf = io.BytesIO()
    np.save(buf, src)
    buf.seek(0)
    out = read_array(buf, lambda h: None)
    assert out.dtype == arr.dtype and np.array_equal(out, arr)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6), cut=st.integers(0, 60),
       mode=st.sampled_from(["L", "P", "1", "RGB", "RGBA", "LA", "I;16"]), semantic=st.booleans())
def test_png_decoder_never_crashes_on_damaged_files(edits, cut, mode, semantic) -> None:
    rng = np.random.default_rng(len(edits) * 7 + cut)
    base = rng.integers(0, 3, (11, 13), dtype=np.uint8) * 60
    im = Image.fromarray(base, "L").convert(mode) if mode != "I;16" else Image.fromarray(base.astype(np.uint16))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    data = mutate(buf.getvalue(), edits, cut)
    try:
        dec = decode_png(data, semantic, max_pixels=10_000)
    except DecodeProblem:
        return
    assert dec.array.ndim == 2 and dec.array.dtype in (np.uint8,)


@FUZZ
@given(w=st.integers(0, 2**32 - 1), h=st.integers(0, 2**32 - 1))
def test_png_size_is_read_from_the_header_and_capped(w, h) -> None:
    ihdr = b"IHDR" + w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    data = b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + ihdr + bytes(4) + bytes(20)
    assert png_size(data)[:2] == (w, h)
    with pytest.raises(DecodeProblem):  # no pixel data at all: refused, whatever the size says
        decode_png(data, False, max_pixels=1 << 24)


# ------------------------------------------------------------------ parsers

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**40, 10**40) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20)


@FUZZ
@given(doc=json_values)
def test_entry_json_parser_round_trips_or_refuses(doc) -> None:
    data = json.dumps(doc).encode()
    try:
        parsed = parse_json_bytes(data)
    except _JSONProblem as exc:
        assert "digits" in str(exc) or "overflows" in str(exc)
        return
    assert parsed == doc


@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=80).map(str.encode))
def test_entry_json_parser_never_raises_anything_else(data) -> None:
    try:
        parse_json_bytes(data)
    except _JSONProblem:
        pass


@FUZZ
@given(rel=st.text(max_size=30))
def test_relative_path_check_never_lets_a_climb_through(rel) -> None:
    why = relative_path_problem(rel)
    if why is None:
        parts = rel.split("/")
        assert ".." not in parts and not rel.startswith("/") and "\\" not in rel and "\x00" not in rel


@FUZZ
@given(doc=json_values)
def test_manifest_check_is_a_validation_error_or_a_manifest(doc) -> None:
    try:
        check_manifest(doc, "fuzzed manifest")
    except ValidationError:
        pass


# ------------------------------------------------------------------ Scorer input checks

arrays = st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 5)).flatmap(
    lambda s: st.tuples(st.just(s), st.sampled_from(["float32", "uint8", "bool", "int64", "float64"]),
                        st.sampled_from([0.0, 1.0, -1.0, np.nan, np.inf, 2.0])))


@FUZZ
@given(spec=arrays, gt_shape_same=st.booleans(), real=st.one_of(st.none(), st.integers(-2, 6)),
       logits=st.booleans(), semantic=st.booleans())
def test_scorer_update_accepts_or_raises_validation_error(spec, gt_shape_same, real, logits, semantic) -> None:
    shape, dtype, fill = spec
    pred = np.full(shape, fill if dtype.startswith("float") else abs(fill) if np.isfinite(fill) else 0).astype(dtype)
    gt = np.zeros(shape if gt_shape_same else (*shape[:-1], shape[-1] + 1), np.uint8)
    scorer = Scorer("avss" if semantic else "s4")
    try:
        scorer.update("positive", pred, gt, video="v", logits=logits, real_frames=real)
    except ValidationError:
        return
    result = scorer.compute(require_global=False).to_dict()  # whatever was accepted gives finite numbers
    assert all(np.isfinite(v) for v in result["conditions"]["positive"].values() if isinstance(v, float))


@FUZZ
@given(key=st.sampled_from(["positive.iou_sum", "positive.f_sum", "positive.frames", "positive.nonempty",
                            "positive.videos", "batch_size", "format", "subset", "category_videos"]),
       value=st.sampled_from([np.array([-1.0]), np.array(["1"]), np.array([np.nan]), np.array(3), np.array([[1.0]]),
                              np.array([1e9]), np.array("s4"), np.array([0.5])]))
def test_scorer_state_loader_accepts_or_raises_validation_error(key, value) -> None:
    s = Scorer("s4")
    gt = np.zeros((2, 3, 3), np.uint8)
    s.update("positive", gt, gt, video="v")
    state = {**s.state_dict(), key: value}
    try:
        loaded = Scorer.from_state_dict(state)
    except ValidationError:
        return
    loaded.compute(require_global=False)


@FUZZ
@given(text=st.text(max_size=2000))
def test_safe_text_is_one_bounded_line(text) -> None:
    out = safe_text(text, 100)
    assert "\n" not in out and "\r" not in out and "\x1b" not in out
    assert len(out) <= 100 + len("... (+99999999 chars)")
    assert safe_text(out, 10_000) == out
