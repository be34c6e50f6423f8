"""Hostile and broken input (issue 14): each case is one clear line, exit 2 for invalid input, no hang,
bounded memory, nothing half-written. Every command runs through `avsbench_robust.cli.main` in-process,
as the console script does, on real files from the synthetic generator."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from _cli import run  # noqa: E402
from _scoring_helpers import write_array_folder, write_png_folder
from PIL import Image

from avsbench_robust.baselines import Baseline, write_baselines
from avsbench_robust.board.sanity import sanity_entry_files
from avsbench_robust.data import default as default_data
from avsbench_robust.data import synthetic
from avsbench_robust.data.avsbench import load_index
from avsbench_robust.errors import ValidationError
from avsbench_robust.io_utils import atomic_write_many
from avsbench_robust.predictions import loader
from avsbench_robust.predictions.decode import DecodeProblem, decode_array
from avsbench_robust.predictions.layouts import Layout
from avsbench_robust.safetext import safe_text
from avsbench_robust.scorer import Scorer
from avsbench_robust.types import Subset
from avsbench_robust.workers import WorkerDied, imap_ordered

# ------------------------------------------------------------------ helpers




def one_error_line(code: int, err: str, *fragments: str, exit_code: int = 2) -> str:
    assert code == exit_code, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for f in fragments:
        assert f in lines[0], f"{f!r} not in {lines[0]}"
    return lines[0]


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def raw_zip(name: str, payload: bytes, usize: int, method: int = 8, flags: int = 0, crc: int = 0) -> bytes:
    """A one-member zip written by hand, so the member can claim what no honest writer would."""
    fn = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, len(payload), usize,
                        len(fn), 0) + fn
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc, len(payload),
                          usize, len(fn), 0, 0, 0, 0, 0o644 << 16, 0) + fn
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(payload), 0)
    return local + payload + central + end


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def deflated_zip(name: str, body: bytes, usize: "int | None" = None, **kw) -> bytes:
    """`body` deflated into a one-member zip with its true CRC; `usize` may lie about its length."""
    return raw_zip(name, deflate(body), len(body) if usize is None else usize, crc=zlib.crc32(body), **kw)


def zip_bomb(shape: tuple[int, ...]) -> bytes:
    """A real bomb: a few MB of deflate that inflate to the full declared array (zeros), CRC left at 0."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(npy_header(shape)) + c.flush(zlib.Z_FULL_FLUSH)
    chunk = 1 << 24
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    block_bytes = block.compress(bytes(chunk)) + block.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, repeatable
    total = int(np.prod(shape))
    assert total % chunk == 0
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    payload = head + block_bytes * (total // chunk) + tail
    return raw_zip("pred.npy", payload, len(npy_header(shape)) + total)


@pytest.fixture(scope="module")
def s4_pred(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid S4 prediction folder (the av-oracle baseline), copied per test by `pred`."""
    out = tmp_path_factory.mktemp("bl")
    return write_baselines(load_index(synth_root, "s4", "test"), Subset.S4, out, [Baseline.AV_ORACLE])[Baseline.AV_ORACLE]


@pytest.fixture()
def pred(s4_pred: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "pred"
    shutil.copytree(s4_pred, dst)
    return dst


def score(capsys, pred: Path, root: Path, *extra: object) -> tuple[int, str, str]:
    return run(capsys, "score", pred, "--subset", "s4", "--root", root, "--workers", 1, *extra)


def array_pred(tmp_path: Path, root: Path) -> tuple[Path, Path]:
    """An S4 .npz prediction folder; returns (PRED, the first clip's positive file) for a test to break."""
    pred = tmp_path / "apred"
    write_array_folder(pred, root, Subset.S4, lambda c, v, gt: gt.astype(np.uint8) * 255)
    return pred, sorted((pred / "positive").glob("*.npz"))[0]


# ------------------------------------------------------------------ 1, 5: the bounded decoder


def test_zip_bomb_is_refused_before_inflating() -> None:
    data = zip_bomb((200, 4096, 4096))  # 3.36 GB declared, ~3.3 MB on disk
    assert len(data) < 4 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DecodeProblem, match=r"200 frames, the clip has 5 \(not read\)"):
            decode_array(data, ".npz", 5, semantic=False)
        with pytest.raises(DecodeProblem, match="declares 3355443200 bytes, over the"):
            decode_array(data, ".npz", 200, semantic=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak} bytes while refusing a bomb"


@pytest.mark.parametrize("case, fragment", [
    ("encrypted", "is encrypted"),
    ("method99", "compression method 99"),
    ("short", "header says shape [5, 1024, 1024] uint8 (5242880 bytes) but the data holds 4096 bytes"),
    ("long", "or more"),
])
def test_hostile_npz_members_in_pred(case, fragment, tmp_path, synth_root, capsys) -> None:
    pred, victim = array_pred(tmp_path, synth_root)
    header = npy_header((5, 1024, 1024))
    if case == "encrypted":
        body = header + bytes(5 << 20)
        data = deflated_zip("pred.npy", body, flags=1)
    elif case == "method99":
        body = header + bytes(5 << 20)
        data = raw_zip("pred.npy", body, len(body), method=99, crc=zlib.crc32(body))
    elif case == "short":
        body = header + bytes(4096)
        data = deflated_zip("pred.npy", body, 5 * 1024 * 1024 + len(header))
    else:
        body = npy_header((5, 4, 4)) + bytes(5 * 16 + 100)
        data = deflated_zip("pred.npy", body)
    victim.write_bytes(data)
    code, out, err = score(capsys, pred, synth_root)
    one_error_line(code, err, victim.name, fragment)


def _entry(tmp_path: Path, synth_root: Path) -> Path:
    subs = tmp_path / "submissions"
    for rel, data in sanity_entry_files(synth_root, Subset.S4, Baseline.AV_ORACLE).items():
        (subs / "entry" / rel).parent.mkdir(parents=True, exist_ok=True)
        (subs / "entry" / rel).write_bytes(data)
    return subs


@pytest.mark.parametrize("case, fragment", [
    ("digits", "integer of 5000 digits"),
    ("encrypted", "is encrypted"),
    ("method99", "compression method 99"),
    ("short", "but the member holds 4096 bytes of data"),
])
def test_ci_turns_hostile_entries_into_fail_lines(case, fragment, tmp_path, synth_root, capsys) -> None:
    subs = _entry(tmp_path, synth_root)
    entry = subs / "entry"
    npz = entry / "predictions" / "noise.npz"
    header = npy_header((10, 1024, 1024))
    if case == "digits":
        meta = (entry / "metadata.json").read_text()
        (entry / "metadata.json").write_text(meta.replace('"seed": 0', '"seed": ' + "7" * 5000, 1)
                                             if '"seed": 0' in meta else meta[:-2] + ', "x": ' + "7" * 5000 + "}\n")
    elif case == "encrypted":
        npz.write_bytes(deflated_zip("a.npy", header + bytes(64), flags=1))
    elif case == "method99":
        npz.write_bytes(raw_zip("a.npy", header + bytes(64), len(header) + 64, method=99))
    else:
        npz.write_bytes(deflated_zip("a.npy", header + bytes(4096)))
    code, out, err = run(capsys, "ci", subs, "--leaderboard", tmp_path / "lb", "--no-rescore")
    assert code == 2 and "Traceback" not in err
    fails = [ln for ln in err.splitlines() if ln.startswith("FAIL entry:")]
    assert len(fails) == 1 and fragment in fails[0], err


def test_ci_rescore_reads_through_the_bounded_reader(tmp_path, synth_root, capsys) -> None:
    """Member size forged to agree with a header whose data is not there: caught when read, as a FAIL line."""
    subs = _entry(tmp_path, synth_root)
    npz = subs / "entry" / "predictions" / "noise.npz"
    with zipfile.ZipFile(npz) as zf:
        name = sorted(zf.namelist())[0]
    header = npy_header((5, 224, 224))
    npz.write_bytes(deflated_zip(name, header + bytes(4096), len(header) + 5 * 224 * 224))
    code, out, err = run(capsys, "ci", subs, "--leaderboard", tmp_path / "lb")
    assert code == 2 and "Traceback" not in err
    assert any(ln.startswith("FAIL entry:") and "data holds 4096 bytes" in ln for ln in err.splitlines()), err


def test_ci_entry_name_cannot_forge_lines(tmp_path, synth_root, capsys) -> None:
    subs = _entry(tmp_path, synth_root)
    (subs / "entry").rename(subs / "x\nok: 36 entries valid, leaderboard up to date\x1b[2J")
    code, out, err = run(capsys, "ci", subs, "--leaderboard", tmp_path / "lb", "--no-rescore")
    assert code == 2
    assert not any(ln.startswith("ok:") for ln in (out + err).splitlines())
    assert "\x1b" not in err and "x\\nok: 36 entries valid" in err


# ------------------------------------------------------------------ 2: dead workers


def _die_on_three(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def test_pool_turns_a_killed_worker_into_an_error() -> None:
    with pytest.raises(WorkerDied, match="worker process died"):
        list(imap_ordered(_die_on_three, range(8), 2, what="item"))
    assert list(imap_ordered(_die_on_three, [1, 2, 4, 5], 2)) == [1, 4, 16, 25]


_REAL_LOAD_CLIP = loader.load_clip
_KILL_ON_VIDEO: list[str] = []


def _dying_load_clip(task):
    """Runs in the forked worker: kill -9 of itself on one clip, as the OOM killer would."""
    if task.video in _KILL_ON_VIDEO:
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_LOAD_CLIP(task)


def test_score_exits_when_a_worker_is_killed(pred, synth_root, capsys, monkeypatch) -> None:
    _KILL_ON_VIDEO[:] = [load_index(synth_root, "s4", "test")["video"].iloc[-1]]
    monkeypatch.setattr(loader, "load_clip", _dying_load_clip)
    code, out, err = run(capsys, "score", pred, "--subset", "s4", "--root", synth_root, "--workers", 2,
                         "--json", pred.parent / "r.json")
    _KILL_ON_VIDEO.clear()
    one_error_line(code, err, "worker process died", exit_code=1)
    assert not (pred.parent / "r.json").exists()


# ------------------------------------------------------------------ 3: --eval-size cap


def test_eval_size_is_capped(pred, synth_root, capsys) -> None:
    code, out, err = score(capsys, pred, synth_root, "--eval-size", 100000, 100000)
    assert code == 2 and "1<=x<=2048" in err and "Traceback" not in err
    from avsbench_robust.scoring import score as score_api

    with pytest.raises(ValidationError, match="1..2048"):
        score_api(pred, "s4", synth_root, eval_size=(4096, 10))


# ------------------------------------------------------------------ 4: writers


@pytest.mark.parametrize("kind", ["fifo", "symlink", "device"])
def test_outputs_refuse_non_regular_targets(kind, pred, synth_root, capsys, tmp_path) -> None:
    target = tmp_path / "out.json"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        (tmp_path / "elsewhere.json").write_text("keep")
        target.symlink_to(tmp_path / "elsewhere.json")
    else:
        target = Path("/dev/null")
    code, out, err = score(capsys, pred, synth_root, "--json", target)
    one_error_line(code, err, str(target), "refusing to replace it")
    if kind == "fifo":
        assert target.is_fifo()
    elif kind == "symlink":
        assert target.is_symlink() and (tmp_path / "elsewhere.json").read_text() == "keep"
    else:
        assert target.is_char_device()


def test_json_and_csv_are_both_or_neither(pred, synth_root, capsys, tmp_path) -> None:
    (tmp_path / "afile").write_text("x")
    code, out, err = score(capsys, pred, synth_root, "--json", tmp_path / "r.json", "--csv", tmp_path / "afile" / "x.csv")
    one_error_line(code, err, "afile", "not a folder")
    assert not (tmp_path / "r.json").exists()
    code, out, err = score(capsys, pred, synth_root, "--json", tmp_path / "same", "--csv", tmp_path / "same")
    one_error_line(code, err, "also given as another output")
    assert not (tmp_path / "same").exists()
    code, out, err = score(capsys, pred, synth_root, "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv")
    assert code == 0 and (tmp_path / "r.json").is_file() and (tmp_path / "r.csv").is_file()


def test_atomic_write_many_rolls_back(tmp_path, monkeypatch) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.csv"
    a.write_text("old a")
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if Path(dst) == b:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(Exception, match="no output was changed"):
        atomic_write_many({a: b"new a", b: b"new b"})
    monkeypatch.undo()
    assert a.read_text() == "old a" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temp or backup left behind


def test_long_output_name_and_unwritable_folder(pred, synth_root, capsys, tmp_path) -> None:
    long = tmp_path / ("a" * 245 + ".json")  # a valid 250-character name: its temp sibling must fit too
    code, out, err = score(capsys, pred, synth_root, "--json", long)
    assert code == 0 and long.is_file(), err
    code, out, err = score(capsys, pred, synth_root, "--json", "/proc/x.json")  # unwritable even for root
    one_error_line(code, err, "/proc/x.json", "cannot write there")


# ------------------------------------------------------------------ 6: build --verify


@pytest.fixture(scope="module")
def built(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from avsbench_robust.build.run import build

    out = tmp_path_factory.mktemp("build") / "out"
    build("s4", root=synth_root, out=out, conditions=["positive", "silence"], progress=False)
    return out


@pytest.fixture()
def tree(built: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "out"
    shutil.copytree(built, dst, symlinks=True)
    return dst


def _first_listed(out: Path) -> Path:
    manifest = json.loads((out / "manifest.json").read_text())
    return out / manifest["clips"][0]["outputs"]["silence"]["wav"]


@pytest.mark.parametrize("tamper, fragment", [
    (lambda out: (out / "notes.txt").write_text("x"), "unlisted"),
    (lambda out: (out / "Multi-sources" / "ms3_data").mkdir(parents=True) or
     (out / "Multi-sources" / "ms3_data" / "x.wav").write_bytes(b"x"), "unlisted"),
    (lambda out: (_first_listed(out).unlink(), _first_listed(out).symlink_to("/etc/hostname")), "symlink"),
    (lambda out: (shutil.move(_first_listed(out).parent, out.parent / "moved"),
                  _first_listed(out).parent.symlink_to(out.parent / "moved")), "symlink"),
])
def test_verify_walks_the_whole_tree(tamper, fragment, tree, capsys) -> None:
    assert run(capsys, "build", "--verify", tree)[0] == 0
    tamper(tree)
    code, out, err = run(capsys, "build", "--verify", tree)
    assert code == 2 and fragment in err and "Traceback" not in err


def test_verify_deeply_nested_manifest(tree, capsys) -> None:
    (tree / "manifest.json").write_text("[" * 100_000)
    code, out, err = run(capsys, "build", "--verify", tree)
    one_error_line(code, err, "manifest.json", "nested too deeply")


# ------------------------------------------------------------------ 7: one-line errors, not tracebacks


def test_symlink_loop_in_pred(pred, synth_root, capsys) -> None:
    victim = sorted((pred / "positive").rglob("*_2.png"))[0]
    victim.unlink()
    victim.symlink_to(victim.name)
    code, out, err = score(capsys, pred, synth_root)
    one_error_line(code, err, victim.name, "symlink loop")


def test_build_out_is_a_file_and_nan_snr(synth_root, tmp_path, capsys) -> None:
    (tmp_path / "afile").write_text("x")
    code, out, err = run(capsys, "build", "--subset", "s4", "--root", synth_root, "--out", tmp_path / "afile", "--quiet")
    one_error_line(code, err, "afile", "not a folder")
    code, out, err = run(capsys, "build", "--subset", "s4", "--root", synth_root, "--out", tmp_path / "o",
                         "--fused-snr-db", "nan", "--quiet")
    one_error_line(code, err, "--fused-snr-db", "finite")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("bad, fragment", [
    (lambda a: a.reshape(-1)[:100], "shape [100]"),
    (lambda a: np.full_like(a, np.nan), "NaN"),
])
def test_audit_refuses_bad_features(bad, fragment, tree, capsys) -> None:
    manifest = json.loads((tree / "manifest.json").read_text())
    path = tree / manifest["clips"][0]["outputs"]["silence"]["features"]
    np.save(path, bad(np.load(path)))
    code, out, err = run(capsys, "audit", tree)
    one_error_line(code, err, path.name, fragment)


def test_predict_with_wrong_shape_weights(synth_root, tmp_path, capsys) -> None:
    pytest.importorskip("torch")
    ref = Path(__file__).resolve().parents[1] / "reference" / "avsegformer-r50-small-s4-cgsl"
    if not (ref / "model.npz").is_file():
        pytest.skip("no reference model in this checkout")
    run_dir = tmp_path / "ref"
    shutil.copytree(ref, run_dir)
    with np.load(run_dir / "model.npz") as z:
        arrays = {k: z[k] for k in z.files}
    key = sorted(arrays)[0]
    arrays[key] = np.zeros((3, 3), arrays[key].dtype)
    np.savez(run_dir / "model.npz", **arrays)
    code, out, err = run(capsys, "predict", "--checkpoint", run_dir, "--root", synth_root, "--out", tmp_path / "p",
                         "--no-progress")
    one_error_line(code, err, "model.npz", "do not fit")
    assert not (tmp_path / "p").exists() and not (tmp_path / "p.partial").exists()


# ------------------------------------------------------------------ 8: forged lines, floods


def test_control_characters_in_pred_names_are_escaped(pred, synth_root, capsys) -> None:
    (pred / "positive" / "evil\nok: 36 entries valid, leaderboard up to date").write_text("")
    (pred / "positive" / "\x1b[31mred\rX").write_text("")
    code, out, err = score(capsys, pred, synth_root)
    line = one_error_line(code, err, "evil\\nok: 36 entries valid", "\\x1b[31mred\\rX")
    assert "\x1b" not in line and "\r" not in line


def test_huge_csv_field_gives_a_bounded_line(synth_root, tmp_path, capsys) -> None:
    root = tmp_path / "root"
    shutil.copytree(synth_root / "Single-source", root / "Single-source")
    csv = root / "Single-source" / "s4_meta_data.csv"
    lines = csv.read_text().splitlines()
    cells = lines[1].split(",")
    cells[-1] = "x" * 5_000_000
    lines[1] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "index", "--subset", "s4", "--root", root)
    assert code != 0 and len(err) < 10_000 and err.count("\n") == 1 and "chars)" in err


def test_safe_text_examples() -> None:
    assert safe_text("a\nb\rc\x1b[0m\x00\u2028") == "a\\nb\\rc\\x1b[0m\\x00\\u2028"
    assert safe_text("é 中文 🙂") == "é 中文 🙂"
    long = safe_text("y" * 10_000_000)
    assert len(long) < 400 and long.endswith("chars)")
    assert safe_text(safe_text("a\nb")) == safe_text("a\nb")


# ------------------------------------------------------------------ 9: half-written state


def test_interrupted_synth_is_redone(tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "synth"
    real = synthetic._write_binary_clip
    calls = {"n": 0}

    def interrupted(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(synthetic, "_write_binary_clip", interrupted)
    code, _, err = run(capsys, "synth", "--out", out, "--subset", "s4", "--videos", 1)
    assert code == 130 and (out / synthetic.PARTIAL_MARKER).is_file() and not (out / synthetic.MARKER).exists()
    monkeypatch.undo()
    code, _, err = run(capsys, "synth", "--out", out, "--subset", "s4", "--videos", 1)
    assert code == 0, err
    assert (out / synthetic.MARKER).is_file() and not (out / synthetic.PARTIAL_MARKER).exists()
    again = tmp_path / "again"
    synthetic.generate(again, "s4", 1, 0)
    same = lambda d: {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}
    assert same(out) == same(again)


def test_killed_cache_generation_is_cleaned_up(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AVSB_ROBUST_HOME", str(tmp_path / "home"))
    name = "synthetic-v1-seed0-videos1-s4-ms3"
    stale = tmp_path / "home" / f".{name}.abc123"
    (stale / "Single-source").mkdir(parents=True)  # what a kill -9 during the first run leaves
    root = default_data.synthetic_root(videos=1, binary_only=True)
    assert root.name == name and (root / synthetic.MARKER).is_file()
    assert not stale.exists() and default_data.stale_temps(tmp_path / "home", name) == []


def test_baselines_with_a_bad_root_leave_nothing(synth_root, tmp_path, capsys) -> None:
    root = tmp_path / "root"
    shutil.copytree(synth_root / "Single-source", root / "Single-source")
    mask = sorted((root / "Single-source" / "s4_data" / "gt_masks" / "test").rglob("*.png"))[-1]
    mask.write_bytes(b"junk")
    code, out, err = run(capsys, "baselines", tmp_path / "out" / "deep", "--subset", "s4", "--root", root, "--no-score")
    one_error_line(code, err, mask.name)
    assert not (tmp_path / "out").exists()
    code, out, err = run(capsys, "baselines", tmp_path / "nowhere", "--subset", "s4", "--root", tmp_path / "empty")
    assert code != 0 and not (tmp_path / "nowhere").exists()


# ------------------------------------------------------------------ 10: API input checks


def test_scorer_input_checks() -> None:
    s = Scorer("s4")
    gt = np.zeros((5, 4, 4), np.uint8)
    with pytest.raises(ValidationError, match="empty array"):
        s.update("positive", np.zeros((5, 0, 0), np.float32), np.zeros((5, 0, 0), np.uint8), video="v")
    for bad in (-1, 0, 99, 2.5, True):
        with pytest.raises(ValidationError, match="real_frames"):
            s.update("positive", gt, gt, video="v", real_frames=bad)
    with pytest.raises(ValidationError, match="expected a Scorer"):
        s.merge({"positive": 1})
    with pytest.raises(ValidationError, match="video_order"):
        Scorer("s4", video_order=123)
    with pytest.raises(ValidationError, match="video_order"):
        Scorer("s4", video_order="abc")
    s.update("positive", gt, gt, video="v", real_frames=5)
    state = s.state_dict()
    assert Scorer.from_state_dict(state).compute(require_global=False).to_dict() == s.compute(require_global=False).to_dict()
    for key, value in (("positive.iou_sum", -state["positive.iou_sum"]),
                       ("positive.f_sum", state["positive.f_sum"].astype(str)),
                       ("positive.frames", np.array([np.nan])),
                       ("positive.iou_sum", state["positive.iou_sum"] + 10),
                       ("batch_size", np.array("x")),
                       ("positive.videos", np.array([1.0]))):
        with pytest.raises(ValidationError, match="scorer state"):
            Scorer.from_state_dict({**state, key: value})
    with pytest.raises(ValidationError, match="scorer state"):
        Scorer.from_state_dict([1, 2])


def test_png_fast_path_matches_pil(tmp_path, synth_root) -> None:
    """8-bit grey PNGs decode through OpenCV: the same values as PIL, and the same scores."""
    from avsbench_robust.predictions.decode import decode_png
    from avsbench_robust.scoring import score as score_api

    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (37, 53), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, "L").save(buf, format="PNG")
    dec = decode_png(buf.getvalue(), semantic=False)
    assert dec.array.dtype == np.uint8 and np.array_equal(dec.array, arr)
    grey, pal = tmp_path / "grey", tmp_path / "pal"
    write_png_folder(grey, synth_root, Subset.S4, Layout.GT_MIRROR, lambda a: Image.fromarray(a * 255, "L"))
    write_png_folder(pal, synth_root, Subset.S4, Layout.GT_MIRROR, lambda a: Image.fromarray(a * 255, "L").convert("P"))
    a = score_api(grey, "s4", synth_root, workers=1).to_dict()
    b = score_api(pal, "s4", synth_root, workers=1).to_dict()
    assert a["conditions"] == b["conditions"]
