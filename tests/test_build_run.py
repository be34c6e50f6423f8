"""End-to-end builds on real files from the synthetic generator: invariants, determinism, resume, verify, bad input."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avsbench_robust.audio import clip_features, read_audio, read_audio_as_avsbench
from avsbench_robust.build.layout import JOURNAL_DIR, MANIFEST_NAME
from avsbench_robust.build.manifest import read_manifest, verify
from avsbench_robust.build.run import build
from avsbench_robust.cli import main
from avsbench_robust.errors import AVSBRobustError, InputFileError, ValidationError

DATA = Path(__file__).parent / "data" / "build"


def tree_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def s4_audio_copy(synth_root: Path, dest: Path) -> Path:
    """Just what a build reads (S4 CSV + WAVs): a private root the test may break."""
    root = dest / "AVSBench"
    (root / "Single-source").mkdir(parents=True)
    shutil.copy(synth_root / "Single-source" / "s4_meta_data.csv", root / "Single-source")
    shutil.copytree(synth_root / "Single-source" / "s4_data" / "audio_wav", root / "Single-source" / "s4_data" / "audio_wav")
    return root


@pytest.fixture(scope="module")
def s4_root(synth_root, tmp_path_factory) -> Path:
    return s4_audio_copy(synth_root, tmp_path_factory.mktemp("s4root"))


@pytest.fixture(scope="module")
def built_s4(s4_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "s4"
    build("s4", root=s4_root, out=out, split="all", workers=1, progress=False)
    return out


def test_manifest_describes_every_file(built_s4, synth_counts):
    m = read_manifest(built_s4)
    assert m["subset"] == "s4" and m["seed"] == 42 and m["splits"] == ["train", "val", "test"]
    assert m["conditions"] == ["positive", "silence", "noise", "offscreen", "fused"]
    assert len(m["clips"]) == sum(synth_counts["s4"].values())
    assert m["summary"]["files"] == 10 * len(m["clips"])
    assert verify(built_s4) == []
    assert not (built_s4 / JOURNAL_DIR).exists()
    assert sorted(tree_files(built_s4)) == sorted(
        [MANIFEST_NAME] + [o[k] for c in m["clips"] for o in c["outputs"].values() for k in ("wav", "features")])


def test_condition_invariants(built_s4):
    """SPEC §2 on the files: same front end for all, offscreen = another clip's audio, real silence/noise/fused."""
    m = read_manifest(built_s4)
    by_video = {(c["split"], c["video"]): c for c in m["clips"]}
    noises = []
    for clip in m["clips"]:
        o = clip["outputs"]
        wav = {k: read_audio(built_s4 / v["wav"]) for k, v in o.items()}
        for k, v in o.items():  # features are the front end applied to the stored WAV, for every condition
            samples, sr, _ = wav[k]
            np.testing.assert_array_equal(np.load(built_s4 / v["features"]), clip_features(samples, sr, 5, "repeat"))
            assert v["features_shape"] == [5, 1, 96, 64]
        pos, sr, info = wav["positive"]
        assert sr == 16000 and info.subtype == "PCM_16" and info.channels == 1
        sil, sil_sr, _ = wav["silence"]
        assert sil_sr == 16000 and sil.shape == pos.shape and not sil.any()
        noise, n_sr, n_info = wav["noise"]
        assert n_sr == 44100 and n_info.subtype == "FLOAT" and noise.shape == (220500, 1)
        assert noise.min() >= -1 and noise.max() <= 1 and abs(noise.std() - 1 / np.sqrt(3)) < 0.01
        noises.append(noise[:1000, 0])
        src = by_video[(clip["split"], o["offscreen"]["source_video"])]
        assert src["video"] != clip["video"]
        assert (built_s4 / o["offscreen"]["wav"]).read_bytes() == (built_s4 / src["outputs"]["positive"]["wav"]).read_bytes()
        fused, f_sr, f_info = wav["fused"]
        assert f_sr == 16000 and f_info.subtype == "FLOAT" and fused.shape == pos.shape
        assert not np.allclose(fused, pos)  # the authors' "fused" returned the clip unchanged
        corr = np.corrcoef(fused[:, 0], pos[:, 0])[0, 1]
        assert 0.4 < corr < 0.95  # 0 dB SNR: half the power is the clip's own
    assert len({n.tobytes() for n in noises}) == len(noises)  # per-clip streams, not one shared file


def test_two_workers_give_identical_bytes(s4_root, built_s4, tmp_path, monkeypatch):
    from avsbench_robust.build import run

    # 8 clips are too few to start a pool (MIN_CLIPS_PER_WORKER): no pool, one process.
    assert build("s4", root=s4_root, out=tmp_path / "w2a", split="all", workers=2, progress=False).workers_used == 1
    monkeypatch.setattr(run, "MIN_CLIPS_PER_WORKER", 1)  # force the pool: the bytes must not depend on it
    out = tmp_path / "w2"
    assert build("s4", root=s4_root, out=out, split="all", workers=2, progress=False).workers_used == 2
    assert tree_files(out) == tree_files(built_s4) == tree_files(tmp_path / "w2a")


def test_resume_redoes_only_damaged_clips(built_s4, s4_root, tmp_path):
    out = tmp_path / "resume"
    shutil.copytree(built_s4, out)
    m = read_manifest(out)
    a, b = m["clips"][0], m["clips"][3]
    (out / a["outputs"]["noise"]["wav"]).unlink()
    (out / b["outputs"]["positive"]["features"]).write_bytes(b"damaged")
    stale = out / Path(a["outputs"]["fused"]["wav"]).parent / ".x.wav.abc123.tmp.wav"  # as a killed writer leaves it
    stale.write_bytes(b"RIFF half")
    untouched = out / m["clips"][1]["outputs"]["fused"]["wav"]
    before = untouched.stat().st_mtime_ns
    result = build("s4", root=s4_root, out=out, split="all", progress=False)
    assert (result.built, result.reused) == (2, len(m["clips"]) - 2)
    assert untouched.stat().st_mtime_ns == before
    assert tree_files(out) == tree_files(built_s4)


def test_other_parameters_refuse_the_same_out(built_s4, s4_root, tmp_path):
    out = tmp_path / "other"
    shutil.copytree(built_s4, out)
    with pytest.raises(AVSBRobustError, match="seed"):
        build("s4", root=s4_root, out=out, split="all", seed=1, progress=False)


def test_verify_catches_modified_missing_and_unlisted_files(built_s4, tmp_path, capsys):
    out = tmp_path / "v"
    shutil.copytree(built_s4, out)
    m = read_manifest(out)
    changed = out / m["clips"][2]["outputs"]["offscreen"]["features"]
    arr = np.load(changed)
    arr[0, 0, 0, 0] += 1e-3
    np.save(changed, arr)
    (out / m["clips"][0]["outputs"]["silence"]["wav"]).unlink()
    (out / "Single-source" / "s4_data" / "noise" / "stray.wav").write_bytes(b"x")
    with pytest.raises(SystemExit) as exc:
        main(["build", "--verify", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"drifted {changed}" in err and "missing" in err and "unlisted" in err and "stray.wav" in err


def test_out_inside_root_is_refused_by_the_command(s4_root, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["build", "--subset", "s4", "--root", str(s4_root), "--out", str(s4_root / "robust"), "--quiet"])
    assert exc.value.code == 2
    assert "inside the AVSBench root" in capsys.readouterr().err
    assert not (s4_root / "robust").exists()


def _s4_wavs(root: Path) -> list[Path]:
    return sorted((root / "Single-source" / "s4_data" / "audio_wav" / "test").rglob("*.wav"))


def test_other_rates_channels_lengths_and_golden_parity(synth_root, tmp_path):
    """Stereo/24-bit/44.1/48 kHz, short and long inputs: the positive WAV keeps the source rate and channels
    (PCM16), features match AVSBench's own front end, and every change is recorded."""
    root = s4_audio_copy(synth_root, tmp_path)
    wavs = _s4_wavs(root)
    assert len(wavs) >= 2
    golden = np.load(DATA / "golden_padded5.npz")
    shutil.copy(DATA / "tone_16k_mono_5s.wav", wavs[0])
    t = np.arange(int(6.5 * 44100)) / 44100
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], axis=1)
    sf.write(wavs[1], stereo, 44100, subtype="PCM_24")
    out = tmp_path / "out"
    build("s4", root=root, out=out, split="test", progress=False, conditions=["positive", "silence", "offscreen"])
    clips = {c["source"]["path"]: c for c in read_manifest(out)["clips"]}
    rel = lambda p: p.relative_to(root).as_posix()
    c0, c1 = clips[rel(wavs[0])], clips[rel(wavs[1])]
    assert c0["adjustments"] == {}
    assert c0["outputs"]["positive"]["source_bytes_kept"] is True
    assert (out / c0["outputs"]["positive"]["wav"]).read_bytes() == wavs[0].read_bytes()
    np.testing.assert_array_equal(np.load(out / c0["outputs"]["positive"]["features"]), golden["tone_16k_mono_5s"])
    assert c1["source"] | {"sha256": ""} == {"path": rel(wavs[1]), "sha256": "", "sample_rate": 44100, "channels": 2,
                                            "seconds": 6.5, "subtype": "PCM_24", "format": "WAV"}
    assert c1["adjustments"] == {"mixed_down": [2, 1], "resampled": [44100, 16000], "requantized": ["PCM_24", "PCM_16"],
                                 "trimmed": [6.5, 5.0]}
    pos = c1["outputs"]["positive"]
    assert pos["source_bytes_kept"] is False and pos["front_end"] == {"name": "vggish", "sample_rate_in": 44100,
                                                                     "channels_averaged": 2}
    samples, sr, info = read_audio(out / pos["wav"])
    assert (sr, info.channels, info.subtype, samples.shape[0]) == (44100, 2, "PCM_16", 220500)
    # AVSBench's reader on our WAV gives our features (int16 / 32768 -> channel mean -> kaiser_best -> log-mel).
    official_way, osr = read_audio_as_avsbench(out / pos["wav"])
    np.testing.assert_array_equal(clip_features(official_way, osr), np.load(out / pos["features"]))
    silence, sil_sr, _ = read_audio(out / c1["outputs"]["silence"]["wav"])
    assert (sil_sr, silence.shape) == (16000, (80000, 1))

    # A 3 s 48 kHz clip: kept short, features repeat-padded like AVSBench (golden within resampling tolerance).
    shutil.copy(DATA / "tone_48k_mono_3s.wav", wavs[0])
    sf.write(wavs[1], np.full(4000, 0.25, dtype=np.float32), 16000, subtype="FLOAT")  # 0.25 s: padded
    out2 = tmp_path / "out2"
    build("s4", root=root, out=out2, split="test", progress=False, conditions=["positive", "silence"])
    clips = {c["source"]["path"]: c for c in read_manifest(out2)["clips"]}
    c0, c1 = clips[rel(wavs[0])], clips[rel(wavs[1])]
    assert c0["adjustments"] == {"resampled": [48000, 16000], "short": [3.0, 5.0]}
    feats = np.load(out2 / c0["outputs"]["positive"]["features"])
    assert np.abs(feats - golden["tone_48k_mono_3s"]).max() < 1e-5  # computed from the source samples, not a 16 kHz copy
    np.testing.assert_array_equal(feats[3], feats[2])  # repeated, not a silent tail
    assert c0["outputs"]["silence"]["seconds"] == 3.0
    assert c1["adjustments"] == {"requantized": ["FLOAT", "PCM_16"], "padded": [0.25, 0.975]}


def test_bad_input_names_the_file_or_is_skipped(synth_root, tmp_path):
    root = s4_audio_copy(synth_root, tmp_path)
    wavs = sorted((root / "Single-source" / "s4_data" / "audio_wav" / "train").rglob("*.wav"))
    wavs[0].write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    with pytest.raises(InputFileError, match=str(wavs[0]).replace("\\", "\\\\")):
        build("s4", root=root, out=tmp_path / "o1", split="train", progress=False)
    assert not (tmp_path / "o1" / MANIFEST_NAME).exists()
    wavs[1].unlink()
    with pytest.raises(ValidationError, match="2 unreadable audio files"):
        build("s4", root=root, out=tmp_path / "o2", split="train", progress=False)
    result = build("s4", root=root, out=tmp_path / "o3", split="train", progress=False, skip_bad=True)
    m = read_manifest(tmp_path / "o3")
    skipped = {s["file"]: s["problem"] for s in m["skipped"]}
    assert set(skipped) == {w.relative_to(root).as_posix() for w in wavs[:2]}
    assert "not found" in skipped[wavs[1].relative_to(root).as_posix()]
    bad_videos = {w.stem for w in wavs[:2]}
    assert result.clips == len(m["clips"]) and not bad_videos & {c["video"] for c in m["clips"]}
    assert not bad_videos & {c["outputs"]["offscreen"]["source_video"] for c in m["clips"]}
    assert verify(tmp_path / "o3") == []


def test_ms3_without_avss_metadata_warns_and_falls_back(synth_root, tmp_path):
    root = tmp_path / "AVSBench"
    (root / "Multi-sources").mkdir(parents=True)
    shutil.copy(synth_root / "Multi-sources" / "ms3_meta_data.csv", root / "Multi-sources")
    shutil.copytree(synth_root / "Multi-sources" / "ms3_data" / "audio_wav", root / "Multi-sources" / "ms3_data" / "audio_wav")
    said: list[str] = []
    r = build("ms3", root=root, out=tmp_path / "o", progress=False, conditions=["positive", "offscreen"], echo=said.append)
    assert any("no AVSS metadata" in w for w in said)
    m = read_manifest(tmp_path / "o")
    assert m["objects_source"] == "none" and r.fallbacks == len(m["clips"]) > 0
    assert all(c["outputs"]["offscreen"]["fallback"] for c in m["clips"])
    # with the metadata given explicitly the objects are known again
    build("ms3", root=root, out=tmp_path / "o2", progress=False, conditions=["positive", "offscreen"],
          avss_metadata=synth_root / "AVSS" / "metadata.csv", echo=said.append)
    m2 = read_manifest(tmp_path / "o2")
    assert m2["objects_source"] == "avss-metadata" and all(c["objects"] for c in m2["clips"])


def test_unknown_s4_category_is_named(synth_root, tmp_path):
    root = s4_audio_copy(synth_root, tmp_path)
    csv = root / "Single-source" / "s4_meta_data.csv"
    lines = csv.read_text().splitlines()
    first = lines[1].split(",")
    old_dir = root / "Single-source" / "s4_data" / "audio_wav" / first[3] / first[2]
    first[2] = "kazoo_solo"
    lines[1] = ",".join(first)
    csv.write_text("\n".join(lines) + "\n")
    shutil.copytree(old_dir, old_dir.parent / "kazoo_solo")
    with pytest.raises(AVSBRobustError, match="'kazoo_solo'"):
        build("s4", root=root, out=tmp_path / "o", split=first[3], progress=False)
