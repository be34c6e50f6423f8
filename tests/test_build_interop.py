"""Interoperability with AVSBench's own files and front end, the unseen condition, the authors' pipeline.

Goldens in tests/data/frontend/ are outputs of the official code (torchvggish `wavfile_to_examples`,
the authors' `extract_log_mel_features`) run on the inputs `_frontend_inputs` regenerates here.
"""
from __future__ import annotations

import hashlib
import importlib.util
import pickle
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _frontend_inputs import VGGISH_INPUTS, make_inputs, make_pool
from test_build_run import s4_audio_copy

from avsbench_robust.audio import clip_features, fit_examples, read_audio, read_audio_as_avsbench, seeded_rng
from avsbench_robust.build.manifest import read_manifest, verify
from avsbench_robust.build.run import _load, build, probe_source
from avsbench_robust.errors import AVSBRobustError
from avsbench_robust.types import Condition

FRONTEND = Path(__file__).parent / "data" / "frontend"
HAS_LIBROSA = importlib.util.find_spec("librosa") is not None
needs_librosa = pytest.mark.skipif(not HAS_LIBROSA, reason="librosa (optional extra 'authors') not installed")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("frontend_inputs"))


@pytest.fixture(scope="module")
def mixed_root(synth_root, tmp_path_factory, inputs) -> Path:
    """The synthetic S4 test split with four clips replaced by 16 kHz stereo, 44.1/48 kHz stereo, 24 kHz mono audio."""
    root = s4_audio_copy(synth_root, tmp_path_factory.mktemp("mixed"))
    wavs = _train_wavs(root)
    assert len(wavs) >= len(VGGISH_INPUTS)
    for wav, name in zip(wavs, VGGISH_INPUTS):
        shutil.copy(inputs[name], wav)
    return root


def _train_wavs(root: Path) -> list[Path]:
    return sorted((root / "Single-source" / "s4_data" / "audio_wav" / "train").rglob("*.wav"))


# Digests of the very files the official code was run on.
EXPECTED_SAMPLE_DIGESTS = {"noise_44k_float_5s": "bd5bfed7d1eaea24", "s16k_stereo_5s": "18af1a6c0321dff9",
                           "s24k_mono_3s": "537e316e35b7eb7c", "s44k_stereo_6p5s": "1e4daab10a59a410",
                           "s48k_stereo_5s": "90259e1f5b6208f7", "silence_16k_5s": "5f2c49cb3c436baa"}


def test_inputs_regenerate_the_golden_files_bytes(inputs):
    # The goldens were computed on files with these samples; a drift in the generator would void them.
    # (Samples, not file bytes: libsndfile stamps float WAVs with a time in a PEAK chunk.)
    digests = {}
    for k, p in inputs.items():
        x, sr = sf.read(str(p), dtype="float32")
        digests[k] = hashlib.sha256(x.tobytes() + str(sr).encode()).hexdigest()[:16]
    assert digests == EXPECTED_SAMPLE_DIGESTS


@pytest.mark.parametrize("name", list(VGGISH_INPUTS))
def test_positive_features_match_the_official_front_end(inputs, name):
    golden = np.load(FRONTEND / "vggish_official.npz")[name]  # official wavfile_to_examples, all examples
    c = _load(str(inputs[name]), 5.0)
    ours = clip_features(c.stored, c.stored_rate, 5, "repeat")
    assert np.abs(ours - fit_examples(golden, 5, "repeat")).max() <= 1e-5  # seen: 0.0 (16/24/48 kHz), 2.4e-7 (44.1)


def test_build_positive_wav_reads_back_the_official_way(mixed_root, tmp_path):
    out = tmp_path / "b"
    build("s4", root=mixed_root, out=out, split="train", conditions=["positive", "offscreen"], progress=False, pkl=True)
    m = read_manifest(out)
    golden = np.load(FRONTEND / "vggish_official.npz")
    by_src = {Path(c["source"]["path"]).name: c for c in m["clips"]}
    for wav, name in zip(_train_wavs(mixed_root), VGGISH_INPUTS):
        pos = by_src[wav.name]["outputs"]["positive"]
        feats = np.load(out / pos["features"])
        assert np.abs(feats - fit_examples(golden[name], 5, "repeat")).max() <= 1e-5, name
        x, sr = read_audio_as_avsbench(out / pos["wav"])  # int16 / 32768, as AVSBench reads
        np.testing.assert_array_equal(clip_features(x, sr), feats)
        rate, ch = VGGISH_INPUTS[name][:2]
        assert (pos["sample_rate"], sf.info(str(out / pos["wav"])).channels) == (rate, ch)
        assert pos["source_bytes_kept"] == (name != "s44k_stereo_6p5s")  # only the 6.5 s file had to be trimmed
        if pos["source_bytes_kept"]:
            assert (out / pos["wav"]).read_bytes() == wav.read_bytes()
        # --pkl: read exactly as AVSBench's load_audio_lm does (our own freshly written file).
        with open(out / pos["pkl"], "rb") as fr:
            audio_log_mel = pickle.load(fr)
        assert audio_log_mel.requires_grad  # as AVSBench's autograd-made tensors: their loader detaches
        audio_log_mel = audio_log_mel.detach()
        assert str(audio_log_mel.dtype) == "torch.float32" and tuple(audio_log_mel.shape) == (5, 1, 96, 64)
        np.testing.assert_array_equal(audio_log_mel.numpy(), feats)
    assert by_src[_train_wavs(mixed_root)[1].name]["adjustments"]["trimmed"] == [6.5, 5.0]
    assert verify(out) == []
    # the pickles are byte-deterministic (rerun = same bytes)
    out2 = tmp_path / "b2"
    build("s4", root=mixed_root, out=out2, split="train", conditions=["positive", "offscreen"], progress=False, pkl=True)
    assert (out / "manifest.json").read_bytes() == (out2 / "manifest.json").read_bytes()


def test_silent_and_short_clips_are_never_offscreen_partners(synth_root, tmp_path):
    root = s4_audio_copy(synth_root, tmp_path)
    wavs = _train_wavs(root)
    x = np.zeros(80000, np.float32)
    x[::1000] = 1 / 32768  # one-LSB ticks: still digital silence at the stated level (-90.3 dBFS)
    sf.write(wavs[0], x, 16000, subtype="PCM_16")
    sf.write(wavs[1], 0.3 * np.sin(np.arange(32000) / 7).astype(np.float32), 16000, subtype="PCM_16")  # 2 s
    said: list[str] = []
    r = build("s4", root=root, out=tmp_path / "o", split="train", conditions=["positive", "offscreen"], progress=False,
              echo=said.append)
    m = read_manifest(tmp_path / "o")
    excl = {e["video"]: e["reason"] for e in m["offscreen_exclusions"]}
    assert set(excl) == {w.stem for w in wavs[:2]} and len(r.excluded_partners) == 2
    assert excl[wavs[0].stem] == "digitally silent (peak <= 1/32768, -90.3 dBFS)"
    assert excl[wavs[1].stem] == "shorter than the clips it would serve (2 s < 4.815 s for 5 whole examples)"
    assert not set(excl) & {c["outputs"]["offscreen"]["source_video"] for c in m["clips"]}
    assert sum("never an offscreen partner" in s for s in said) == 2
    assert {c["video"] for c in m["clips"]} >= set(excl)  # still built as clips themselves
    x[::1000] = 2 / 32768  # two LSB: real (if quiet) sound, a partner again
    sf.write(wavs[0], x, 16000, subtype="PCM_16")
    build("s4", root=root, out=tmp_path / "o2", split="train", conditions=["positive", "offscreen"], progress=False)
    assert [e["video"] for e in read_manifest(tmp_path / "o2")["offscreen_exclusions"]] == [wavs[1].stem]


def test_truncated_and_misnamed_inputs_warn_and_are_recorded(synth_root, tmp_path):
    root = s4_audio_copy(synth_root, tmp_path)
    wavs = _train_wavs(root)
    full = wavs[0].read_bytes()
    wavs[0].write_bytes(full[: 44 + 40000 * 2])  # header says 5 s, data 2.5 s
    x, sr, _ = read_audio(wavs[1])
    sf.write(str(wavs[2]), x, sr, format="FLAC")  # FLAC bytes named .wav
    sf.write(str(wavs[1]), x, sr, format="MP3")  # MP3 bytes named .wav
    said: list[str] = []
    build("s4", root=root, out=tmp_path / "o", split="train", conditions=["positive", "silence"], progress=False,
          echo=said.append)
    src = {Path(c["source"]["path"]).name: c["source"] for c in read_manifest(tmp_path / "o")["clips"]}
    assert src[wavs[0].name]["header_seconds"] == 5.0 and src[wavs[0].name]["seconds"] == 2.5
    assert src[wavs[1].name]["format"] == "MP3" and src[wavs[2].name]["format"] == "FLAC"
    assert src[wavs[3].name]["format"] == "WAV" and "header_seconds" not in src[wavs[3].name]
    text = "\n".join(said)
    assert f"{wavs[0].name}: truncated WAV: the header declares 5 s but the file holds 2.5 s" in text
    assert f"{wavs[1].name}: named .wav but holds MP3 audio" in text
    assert f"{wavs[2].name}: named .wav but holds FLAC audio" in text


def test_long_recording_is_trimmed_before_resampling_in_bounded_memory(tmp_path):
    n = 90 * 48000  # 90 s of 48 kHz stereo: 34.6 MB as float32, ~100 MB if resampled whole in float64
    path = tmp_path / "long.wav"
    with sf.SoundFile(str(path), "w", 48000, 2, "PCM_16") as f:
        for s in range(0, n, 480000):
            t = np.arange(s, min(n, s + 480000)) / 48000
            f.write(np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1))
    clip_features(_load(str(path), 5.0).stored, 48000)  # warm the resampling tables (built once per process)
    tracemalloc.start()
    probe = probe_source((str(path), 5.0))
    c = _load(str(path), 5.0)
    feats = clip_features(c.stored, c.stored_rate)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert probe["seconds"] == 90.0 and c.adjustments["trimmed"] == [90.0, 5.0]
    assert c.stored.shape == (240000, 2) and feats.shape == (5, 1, 96, 64)
    assert peak < 20e6, f"peak {peak / 1e6:.1f} MB"  # the whole file as float32 would be 34.6 MB


def test_unseen_condition_draws_one_pool_recording_per_clip(synth_root, tmp_path):
    pool = make_pool(tmp_path / "pool")
    out = tmp_path / "o"
    said: list[str] = []
    build("s4", root=synth_root, out=out, unseen_pool=tmp_path / "pool", progress=False, echo=said.append)
    m = read_manifest(out)
    assert m["conditions"] == ["positive", "silence", "noise", "offscreen", "unseen", "fused"]
    usable = ["a_engine.wav", "b_horn.wav", "c_bell.wav"]  # sorted, the silent one left out
    assert [e["name"] for e in m["unseen_pool"]] == usable
    assert {e["name"]: e["sha256"] for e in m["unseen_pool"]} == {
        k: hashlib.sha256(pool[k].read_bytes()).hexdigest() for k in usable}
    assert [f["name"] for f in m["unseen_pool_files"] if "excluded" in f] == ["d_quiet.wav"]
    assert any("d_quiet.wav left out" in s for s in said)
    used = set()
    for c in m["clips"]:
        un = c["outputs"]["unseen"]
        k = int(seeded_rng(42, "s4", c["split"], c["video"], Condition.UNSEEN).integers(len(usable)))
        assert un["pool_file"] == usable[k] and un["pool_sha256"] == m["unseen_pool"][k]["sha256"]
        used.add(un["pool_file"])
        x, sr, info = read_audio(out / un["wav"])
        src, ssr, sinfo = read_audio(pool[un["pool_file"]])
        assert (sr, info.channels) == (ssr, sinfo.channels)
        n = int(round(5.0 * sr))
        assert x.shape[0] == n  # trimmed or padded to the clip's duration
        np.testing.assert_array_equal(x[: min(n, src.shape[0])], src[:n])
        np.testing.assert_array_equal(np.load(out / un["features"]), clip_features(x, sr))
    assert len(used) >= 2
    bell = next(c for c in m["clips"] if c["outputs"]["unseen"]["pool_file"] == "c_bell.wav")
    assert bell["outputs"]["unseen"]["adjustments"]["padded"] == [3.0, 5.0]
    assert verify(out) == []
    with pytest.raises(AVSBRobustError, match="--unseen-pool"):
        build("s4", root=synth_root, out=tmp_path / "o2", conditions=["positive", "unseen"], progress=False)


@needs_librosa
def test_authors_front_end_matches_their_script(inputs):
    from avsbench_robust.audio.authors import authors_features

    golden = np.load(FRONTEND / "authors_official.npz")  # their extract_log_mel_features on these files
    for name in golden.files:
        ours = authors_features(inputs[name])
        assert ours.shape == (5, 1, 96, 64) and ours.dtype == np.float32
        assert np.abs(ours - golden[name]).max() <= 1e-4, name  # seen: 0.0


AUTHORS_ORIG = Path("/work/orig/AVSBench-Robust/unseen_audio")


@needs_librosa
@pytest.mark.skipif(not AUTHORS_ORIG.is_dir(), reason="the authors' repository checkout is not here")
def test_authors_front_end_matches_their_shipped_unseen_features():
    """Their 15 unseen recordings and the features they ship for them (their own repository files, a trusted oracle)."""
    from avsbench_robust.audio.authors import authors_features

    worst = 0.0
    for wav in sorted((AUTHORS_ORIG / "raw_audio").glob("*.wav")):
        with open(AUTHORS_ORIG / "pkl_files" / f"{wav.stem}.pkl", "rb") as f:
            theirs = pickle.load(f).detach().numpy()
        worst = max(worst, float(np.abs(authors_features(wav) - theirs).max()))
    assert worst <= 1e-4  # seen: 7.6e-6


@needs_librosa
def test_authors_build_marks_itself_leaky_and_uses_their_features(synth_root, tmp_path):
    from avsbench_robust.audio.authors import authors_features
    from avsbench_robust.provenance import LEAKY_LABEL

    make_pool(tmp_path / "pool")
    out = tmp_path / "o"
    build("s4", root=synth_root, out=out, unseen_pool=tmp_path / "pool", negative_features="authors",
          conditions=["positive", "silence", "noise", "offscreen", "unseen"], pkl=True, progress=False)
    m = read_manifest(out)
    assert m["negative_features"] == "authors" and m["pipeline"] == LEAKY_LABEL
    c = m["clips"][0]
    assert c["outputs"]["positive"]["front_end"]["name"] == "vggish"
    for cond in ("silence", "noise", "offscreen", "unseen"):
        o = c["outputs"][cond]
        assert o["front_end"] == {"name": "authors", "label": LEAKY_LABEL}
        np.testing.assert_array_equal(np.load(out / o["features"]), authors_features(out / o["wav"]))
        with open(out / o["pkl"], "rb") as fr:
            t = pickle.load(fr)
        assert not t.requires_grad and tuple(t.shape) == (5, 1, 96, 64)
