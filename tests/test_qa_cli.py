"""New-user QA: the CLI on AVSBench-shaped trees with real-world quirks, broken inputs and hostile predictions.

Every command runs through `avsbench_robust.cli.main` in-process, exactly as the console script does:
an exception escaping `main` is a Python traceback for the user and fails the test. Failures must be
one `error:` line naming the file, a non-zero exit, and nothing written.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from _cli import run  # noqa: E402
from PIL import Image
from reference_metrics import Update, binary_reference

from avsbench_robust.data.avsbench import load_index, read_mask

SUBDIR = {"s4": "Single-source", "ms3": "Multi-sources", "avss": "AVSS"}




def assert_one_line_error(code: int, err: str, *must_name: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].lower().startswith("error"), err
    for name in must_name:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"


def copy_tree(src: Path, dst: Path, subsets=("s4", "ms3", "avss")) -> Path:
    for s in subsets:
        shutil.copytree(src / SUBDIR[s], dst / SUBDIR[s])
    return dst


def rewrite_csv(path: Path, fn) -> None:
    rows = list(csv.reader(open(path, newline="")))
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(fn(rows))


def _index_without_paths(root: Path, subset: str) -> pd.DataFrame:
    df = load_index(root, subset)
    for col in ("frame_path", "mask_path", "audio_path"):
        df[col] = df[col].map(lambda p: os.path.relpath(p, root) if isinstance(p, str) else None)
    return df


# ----------------------------------------------------------------------------- quirks that must just work


def test_csv_quirks_index_the_same(synth_root, tmp_path):
    """Headerless CSVs, extra columns and reordered columns give the same index as the original."""
    headerless = copy_tree(synth_root, tmp_path / "headerless")
    for s in ("s4", "ms3", "avss"):
        name = {"s4": "s4_meta_data.csv", "ms3": "ms3_meta_data.csv", "avss": "metadata.csv"}[s]
        rewrite_csv(headerless / SUBDIR[s] / name, lambda rows: rows[1:])
    shuffled = copy_tree(synth_root, tmp_path / "shuffled")
    rewrite_csv(shuffled / "Single-source/s4_meta_data.csv",
                lambda rows: [[r[3], "note" if i == 0 else "x", r[2], r[0], r[1]] for i, r in enumerate(rows)])
    rewrite_csv(shuffled / "Multi-sources/ms3_meta_data.csv", lambda rows: [[r[1], r[0], "extra"] for r in rows])
    rewrite_csv(shuffled / "AVSS/metadata.csv",
                lambda rows: [[r[6], r[5], r[4], r[1], r[0], r[2], r[3], "extra"] for r in rows])
    for s in ("s4", "ms3", "avss"):
        want = _index_without_paths(synth_root, s)
        pd.testing.assert_frame_equal(_index_without_paths(headerless, s), want)
        pd.testing.assert_frame_equal(_index_without_paths(shuffled, s), want)


def test_ms3_frames_without_mp4_in_name(synth_root, tmp_path):
    root = copy_tree(synth_root, tmp_path / "r", ("ms3", "avss"))
    for p in (root / "Multi-sources/ms3_data/visual_frames").rglob("*.mp4_*.png"):
        p.rename(p.with_name(p.name.replace(".mp4_", "_")))
    df = load_index(root, "ms3")
    assert len(df) == len(load_index(synth_root, "ms3"))
    assert all(Path(p).is_file() and ".mp4_" not in p for p in df["frame_path"])


def _convert(path: Path, mode: str) -> None:
    a = np.array(Image.open(path).convert("L"))
    if mode == "P":
        im = Image.fromarray((a > 0).astype(np.uint8)).convert("P")
        im.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    elif mode == "1":
        im = Image.fromarray(a > 0)
    elif mode == "RGB":
        im = Image.fromarray(np.stack([a] * 3, -1))
    elif mode == "RGBA":
        im = Image.fromarray(np.stack([a, a, a, np.full_like(a, 255)], -1))
    elif mode == "LA":
        im = Image.fromarray(np.stack([a, np.full_like(a, 255)], -1), mode="LA")
    else:  # 16-bit grey
        im = Image.fromarray(a.astype(np.uint16) * 257)
    im.save(path)


@pytest.mark.parametrize("mode", ["P", "1", "RGB", "RGBA", "LA", "I;16"])
def test_gt_mask_modes_read_the_same(synth_root, tmp_path, mode):
    src = sorted((synth_root / "Single-source/s4_data/gt_masks/test").rglob("*.png"))[0]
    dst = tmp_path / "m.png"
    shutil.copy(src, dst)
    _convert(dst, mode)
    assert Image.open(dst).mode == mode
    want = read_mask(str(src), "s4")
    assert want.any()
    np.testing.assert_array_equal(read_mask(str(dst), "s4"), want)


def _png_predictions(root: Path, subset: str, out: Path, seed: int) -> list[Update]:
    """8-bit probability PNGs in the GT-mirroring layout; returns what the reference needs."""
    rng = np.random.default_rng(seed)
    df = load_index(root, subset, "test")
    ups = []
    for cond in ("positive", "silence", "noise", "offscreen"):
        for video, clip in df.groupby("video", sort=False):
            preds, gts = [], []
            for _, row in clip.iterrows():
                gt = read_mask(row["mask_path"], subset)
                pred = (rng.random(gt.shape) * 255).astype(np.uint8)
                pred[gt > 0] = np.maximum(pred[gt > 0], 100)
                rel = Path(row["mask_path"]).relative_to(root / SUBDIR[subset] / f"{subset}_data/gt_masks/test")
                dest = out / cond / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pred).save(dest)
                preds.append(pred)
                gts.append(gt)
            ups.append(Update(cond, video, np.stack(preds), np.stack(gts), "u8", category=clip["category"].iloc[0]))
    return ups


def test_quirky_paths_and_masks_end_to_end(synth_root, tmp_path, capsys):
    """Unicode + spaces in ROOT and PRED, a PRED named '-preds', RGBA/16-bit GT masks, every output format.

    The scored numbers are checked against the independent reference on the same PNG files."""
    root = copy_tree(synth_root, tmp_path / "dätä sét ✓" / "AVS Bench", ("ms3", "avss"))
    masks = sorted((root / "Multi-sources/ms3_data/gt_masks").rglob("*.png"))
    for i, p in enumerate(masks):
        _convert(p, ("RGBA", "I;16", "P")[i % 3])
    pred = tmp_path / "prédictions ✓" / "-preds"
    ups = _png_predictions(root, "ms3", pred, seed=3)
    res = tmp_path / "out ✓"
    code, out, err = run(capsys, "score", pred, "--subset", "ms3", "--root", root, "--workers", "1",
                         "--json", res / "r.json", "--csv", res / "r.csv", "--format", "markdown")
    assert code == 0, err
    assert out.lstrip().startswith("|")
    doc = json.loads((res / "r.json").read_text())
    ref = binary_reference(ups)
    for c, r in ref["conditions"].items():
        for k in ("miou", "f_score", "fpr"):
            assert doc["conditions"][c][k] == pytest.approx(r[k], abs=1e-6), (c, k)
    assert doc["global"]["g_miou"] == pytest.approx(ref["global"]["g_miou"], abs=1e-6)
    assert (res / "r.csv").read_text().count("\n") == 2
    code, out, err = run(capsys, "score", pred, "--subset", "ms3", "--root", root, "--workers", "1",
                         "--protocol", "official", "--batch-size", "2", "--format", "latex", "--json", res / "o.json")
    assert code == 0, err
    assert "\\end{tabular}" in out
    off = json.loads((res / "o.json").read_text())
    ref_off = binary_reference(ups, "official", 2)
    assert off["conditions"]["positive"]["f_score"] == pytest.approx(ref_off["conditions"]["positive"]["f_score"],
                                                                     abs=1e-6)
    code, out, err = run(capsys, "score", pred, "--subset", "ms3", "--root", root, "--workers", "1",
                         "--eval-size", "112", "96", "--json", res / "e.json")
    assert code == 0, err
    assert json.loads((res / "e.json").read_text())["provenance"]["eval_size"] == [112, 96]
    shutil.rmtree(pred / "noise")
    code, out, err = run(capsys, "score", pred, "--subset", "ms3", "--root", root, "--workers", "1",
                         "--missing", "empty", "--json", res / "m.json")
    assert code == 0, err
    assert json.loads((res / "m.json").read_text())["provenance"]["missing_filled"] == 10


def _convert_wav(path: Path, sr: int, channels: int, subtype: str, seconds: float) -> None:
    import scipy.signal
    x, s0 = sf.read(path, dtype="float32")
    x = scipy.signal.resample_poly(x, sr, s0).astype(np.float32) if sr != s0 else x
    n = int(seconds * sr)
    x = np.pad(x, (0, max(0, n - len(x))))[:n] * 0.5
    if channels == 2:
        x = np.stack([x, -x], -1)
    sf.write(path, x, sr, subtype=subtype)


def test_build_on_real_world_wavs(synth_root, tmp_path, capsys):
    """Stereo 44.1 kHz 7 s and 48 kHz 24-bit 3 s WAVs: build, verify, audit; adjustments recorded."""
    root = copy_tree(synth_root, tmp_path / "root", ("s4",))
    wavs = sorted((root / "Single-source/s4_data/audio_wav/train").rglob("*.wav"))
    assert len(wavs) == 4  # train: the 3 s clip cannot lend offscreen audio, so it needs 3 others
    _convert_wav(wavs[0], 44100, 2, "PCM_16", 7.0)
    _convert_wav(wavs[1], 48000, 1, "PCM_24", 3.0)
    out = tmp_path / "out dir ✓"
    code, _, err = run(capsys, "build", "--subset", "s4", "--root", root, "--out", out, "--quiet",
                       "--split", "train", "--conditions", "positive,silence,noise,offscreen")
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    adj = {Path(c["source"]["path"]).name: c["adjustments"] for c in manifest["clips"]}
    assert set(adj[wavs[0].name]) >= {"mixed_down", "resampled", "trimmed"}
    assert set(adj[wavs[1].name]) >= {"resampled", "short"}
    for clip in manifest["clips"]:
        for cond, o in clip["outputs"].items():
            assert np.load(out / o["features"]).shape == (5, 1, 96, 64), (clip["video"], cond)
            info = sf.info(out / o["wav"])
            if cond in ("positive", "offscreen"):  # recordings keep their own rate and channels (PCM16)
                src = clip if cond == "positive" else next(
                    c for c in manifest["clips"] if c["video"] == o["source_video"])
                assert (info.channels, info.samplerate) == (src["source"]["channels"], src["source"]["sample_rate"])
                assert info.subtype == "PCM_16"
            else:
                assert info.channels == 1 and info.samplerate == (44100 if cond == "noise" else 16000)
    assert run(capsys, "build", "--verify", out)[0] == 0
    code, out_txt, err = run(capsys, "audit", out, "--folds", "2")
    assert code == 0, err
    assert "offscreen" in out_txt


# ----------------------------------------------------------------------------- broken inputs


def test_empty_root_and_empty_subset_folders(tmp_path, capsys):
    (tmp_path / "e" / "Single-source").mkdir(parents=True)
    for root in (tmp_path / "e", tmp_path):
        code, _, err = run(capsys, "index", "--subset", "s4", "--root", root)
        assert_one_line_error(code, err, "s4_meta_data.csv")


def test_truncated_gt_mask_fails_cleanly(synth_root, tmp_path, capsys):
    root = copy_tree(synth_root, tmp_path / "root", ("s4",))
    pred = tmp_path / "pred"
    code, _, err = run(capsys, "baselines", pred, "--subset", "s4", "--root", root, "--which", "empty",
                       "--no-score", "--workers", "1")
    assert code == 0, err
    mask = sorted((root / "Single-source/s4_data/gt_masks/test").rglob("*.png"))[-1]
    mask.write_bytes(mask.read_bytes()[:300])
    code, _, err = run(capsys, "score", pred / "empty", "--subset", "s4", "--root", root, "--workers", "1",
                       "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv")
    assert_one_line_error(code, err, mask.name)
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.csv").exists()


def test_zero_byte_wav_and_unknown_category_stop_the_build(synth_root, tmp_path, capsys):
    root = copy_tree(synth_root, tmp_path / "root", ("s4",))
    wav = sorted((root / "Single-source/s4_data/audio_wav/test").rglob("*.wav"))[0]
    wav.write_bytes(b"")
    code, _, err = run(capsys, "build", "--subset", "s4", "--root", root, "--out", tmp_path / "o1", "--quiet")
    assert_one_line_error(code, err, wav.name)
    assert not (tmp_path / "o1").exists()
    # a category outside the taxonomy, with its files moved consistently (the index is fine, the build is not)
    root2 = copy_tree(synth_root, tmp_path / "root2", ("s4",))
    rows = list(csv.reader(open(root2 / "Single-source/s4_meta_data.csv")))
    row = next(r for r in rows if r[3] == "test")
    old, row[2] = row[2], "kazoo_playing"
    with open(root2 / "Single-source/s4_meta_data.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    for kind in ("visual_frames", "gt_masks", "audio_wav"):
        src = root2 / "Single-source/s4_data" / kind / "test" / old
        (src.parent / "kazoo_playing").mkdir()
        for p in src.glob(row[0] + "*"):
            p.rename(src.parent / "kazoo_playing" / p.name)
    assert run(capsys, "index", "--subset", "s4", "--root", root2)[0] == 0
    code, _, err = run(capsys, "build", "--subset", "s4", "--root", root2, "--out", tmp_path / "o2", "--quiet")
    assert_one_line_error(code, err, "kazoo_playing")
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize("content", [None, "{not json"])
def test_label2idx_missing_or_corrupt(synth_root, tmp_path, capsys, content):
    root = copy_tree(synth_root, tmp_path / "root", ("avss",))
    path = root / "AVSS/label2idx.json"
    path.unlink() if content is None else path.write_text(content)
    code, _, err = run(capsys, "index", "--subset", "avss", "--root", root)
    assert_one_line_error(code, err, "label2idx.json")


def test_synth_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    code, _, err = run(capsys, "synth", "--out", target, "--subset", "s4", "--videos", "1")
    assert_one_line_error(code, err, "afile")
    assert target.read_text() == "x"


# ----------------------------------------------------------------------------- hostile prediction folders


def _npz_folder(root: Path, out: Path, make) -> Path:
    df = load_index(root, "s4", "test")
    for cond in ("positive", "silence", "noise", "offscreen"):
        (out / cond).mkdir(parents=True)
        for video in df["video"].unique():
            make(out / cond, video)
    return out


def _bomb_png(path: Path, side: int = 60000) -> None:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
                     + chunk(b"IEND", b""))


def test_hostile_predictions_are_refused(synth_root, tmp_path, capsys):
    good = tmp_path / "good"
    assert run(capsys, "baselines", good, "--subset", "s4", "--root", synth_root, "--which", "empty",
               "--no-score", "--workers", "1")[0] == 0
    cases = {}
    d = tmp_path / "symlink"
    shutil.copytree(good / "empty", d)
    victim = sorted((d / "positive").rglob("*.png"))[0]
    victim.unlink()
    os.symlink("/etc/passwd", victim)
    cases["symlink"] = (d, victim.name)
    d = tmp_path / "bomb"
    shutil.copytree(good / "empty", d)
    victim = sorted((d / "silence").rglob("*.png"))[0]
    _bomb_png(victim)
    cases["bomb"] = (d, victim.name)
    cases["pickle"] = (_npz_folder(synth_root, tmp_path / "pickle", lambda f, v: np.save(
        f / f"{v}.npy", np.array([{"x": 1}] * 5, dtype=object), allow_pickle=True)), ".npy")
    rng = np.random.default_rng(0)

    def nan_npz(folder: Path, video: str) -> None:
        a = rng.random((5, 224, 224), dtype=np.float32)
        a[2, 3, 4] = np.nan
        np.savez(folder / f"{video}.npz", pred=a)
    cases["nan"] = (_npz_folder(synth_root, tmp_path / "nan", nan_npz), "NaN")
    for name, (folder, named) in cases.items():
        js = tmp_path / f"{name}.json"
        code, _, err = run(capsys, "score", folder, "--subset", "s4", "--root", synth_root, "--workers", "1",
                           "--json", js)
        assert_one_line_error(code, err, named)
        assert code == 2 and not js.exists(), name


# ----------------------------------------------------------------------------- leaderboard CI


def test_ci_counts_broken_entries_sanely(tmp_path, capsys):
    subs = tmp_path / "subs"
    (subs / "mine").mkdir(parents=True)
    (subs / "mine" / "metadata.json").write_text("{")
    code, _, err = run(capsys, "ci", subs, "--leaderboard", tmp_path / "lb", "--no-rescore")
    assert code == 2 and "Traceback" not in err
    summary = err.strip().splitlines()[-1]
    broken, checked = (int(x) for x in summary.split("problem(s): ")[1].split(" entries")[0].split(" of "))
    assert 1 <= broken <= checked, summary
    assert "FAIL mine: " in err


# ----------------------------------------------------------------------------- routed bugs (owners: score CLI)


def test_unknown_torch_device_is_one_line(synth_root, tmp_path, capsys):
    run(capsys, "baselines", tmp_path / "b", "--subset", "s4", "--root", synth_root, "--which", "empty",
        "--no-score", "--workers", "1")
    code, _, err = run(capsys, "score", tmp_path / "b" / "empty", "--subset", "s4", "--root", synth_root,
                       "--backend", "torch", "--device", "banana", "--workers", "1")
    assert_one_line_error(code, err, "banana")


def test_json_path_that_is_a_folder(synth_root, tmp_path, capsys):
    run(capsys, "baselines", tmp_path / "b", "--subset", "s4", "--root", synth_root, "--which", "empty",
        "--no-score", "--workers", "1")
    (tmp_path / "dir").mkdir()
    code, _, err = run(capsys, "score", tmp_path / "b" / "empty", "--subset", "s4", "--root", synth_root,
                       "--json", tmp_path / "dir", "--workers", "1")
    assert_one_line_error(code, err, "dir")


def test_baselines_out_is_a_file(synth_root, tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    code, _, err = run(capsys, "baselines", target, "--subset", "s4", "--root", synth_root, "--no-score")
    assert_one_line_error(code, err, "afile")
