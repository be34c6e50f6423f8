"""VGGish log-mel front end: parity with the official features (golden) and shape rules."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avsbench_robust.audio import clip_features, fit_examples, read_audio, read_audio_as_avsbench, waveform_to_examples
from avsbench_robust.audio.vggish import EXAMPLE_SAMPLES, frame, log_mel, mel_matrix

DATA = Path(__file__).parent / "data" / "audio"
META = json.loads((DATA / "vggish_logmel.json").read_text())
GOLDEN = np.load(DATA / "vggish_logmel.npz")
# golden/README.md: resampled clips may differ slightly from resampy; we reproduce resampy's filter,
# so hold them to a few float32 ulps (measured max 2.4e-7, mean 1.5e-11) instead of README's 0.4.
RESAMPLED_MAX = 1e-5
RESAMPLED_MEAN = 1e-7


def _tone(seconds: float, sr: int, hz: float = 1000.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    x = 0.5 * np.sin(2 * np.pi * hz * t)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize("name", sorted(META))
def test_golden_parity_raw_and_padded(name: str) -> None:
    meta = META[name]
    samples, sr = read_audio_as_avsbench(DATA / meta["file"])
    assert sr == meta["sample_rate"] and samples.shape[1] == meta["channels"]
    ours = waveform_to_examples(samples, sr)
    ref = GOLDEN[name]
    assert ours.dtype == np.float32 and ours.shape == tuple(meta["examples_shape"]) == ref.shape
    padded = clip_features(samples, sr, 5, pad="repeat")
    ref5 = GOLDEN[f"{name}__avsbench_padded5"]
    assert padded.shape == ref5.shape == (5, 1, 96, 64)
    for got, want in ((ours, ref), (padded, ref5)):
        diff = np.abs(got.astype(np.float64) - want)
        if meta["resampled"]:
            assert diff.max() <= RESAMPLED_MAX and diff.mean() <= RESAMPLED_MEAN, (diff.max(), diff.mean())
        else:
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", [n for n, m in META.items() if m["subtype"] == "PCM_16"])
def test_read_audio_gives_the_official_samples_for_pcm16(name: str) -> None:
    ours, sr, info = read_audio(DATA / META[name]["file"])
    official, sr2 = read_audio_as_avsbench(DATA / META[name]["file"])
    assert sr == sr2 and info.subtype == "PCM_16" and ours.dtype == np.float32
    np.testing.assert_array_equal(ours.astype(np.float64), official)


def test_float_wav_is_near_silence_to_the_official_loader() -> None:
    """The golden noise features are ~log(0.01): the official int16 read rounds float samples to -1/0/1."""
    path = DATA / META["uniform_noise_44k_5s_float"]["file"]
    official, _ = read_audio_as_avsbench(path)
    ours, sr, _ = read_audio(path)
    assert np.abs(official).max() <= 1 / 32768 and np.abs(ours).max() > 0.99
    real = clip_features(ours, sr)
    assert real.mean() > 0.0 > GOLDEN["uniform_noise_44k_5s_float"].mean() + 4.5


@pytest.mark.parametrize(
    "seconds, n_raw",
    [(3.0, 3), (5.0, 5), (10.0, 10), (12.0, 12), (0.5, 0), (EXAMPLE_SAMPLES / 16000, 1), ((EXAMPLE_SAMPLES - 1) / 16000, 0)],
)
def test_example_counts_follow_vggish_framing(seconds: float, n_raw: int) -> None:
    x = _tone(seconds, 16000)
    assert waveform_to_examples(x, 16000).shape == (n_raw, 1, 96, 64)
    five = clip_features(x, 16000, 5, "repeat")
    ten = clip_features(x, 16000, 10, "zero")
    assert five.shape == (5, 1, 96, 64) and ten.shape == (10, 1, 96, 64)
    assert five.dtype == ten.dtype == np.float32
    raw = waveform_to_examples(x, 16000)
    k = min(n_raw, 5)
    np.testing.assert_array_equal(five[:k], raw[:k])
    if 0 < n_raw < 5:
        assert all(np.array_equal(five[i], raw[-1]) for i in range(n_raw, 5))
    if n_raw < 10:
        assert not ten[n_raw:].any()
    if n_raw == 0:
        assert not five.any()


def test_fit_examples_rejects_bad_arguments() -> None:
    ex = np.zeros((2, 1, 96, 64), np.float32)
    with pytest.raises(ValueError):
        fit_examples(ex, 0)
    with pytest.raises(ValueError):
        fit_examples(ex, 5, pad="edge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32768"):
        clip_features(np.zeros(16000, np.int16), 16000)


@pytest.mark.parametrize("sr", [24000, 44100, 48000])
def test_other_rates_give_the_same_features_as_16k(sr: int) -> None:
    """A 1 kHz tone resampled from any rate must land in the same mel bands as the native 16 kHz tone."""
    native = clip_features(_tone(5.0, 16000), 16000)
    other = clip_features(_tone(5.0, sr), sr)
    assert other.shape == native.shape
    peak_native = native.mean(axis=(0, 1, 2)).argmax()
    assert other.mean(axis=(0, 1, 2)).argmax() == peak_native
    # Inside the passband the resampled tone matches to a small fraction of a log unit.
    assert np.abs(other[:, :, 2:-2, peak_native - 3 : peak_native + 4] - native[:, :, 2:-2, peak_native - 3 : peak_native + 4]).max() < 0.05


def test_stereo_is_mixed_down_by_mean() -> None:
    left, right = _tone(5.0, 44100, 440.0), _tone(5.0, 44100, 2000.0)
    stereo = np.stack([left, right], axis=1)
    np.testing.assert_array_equal(clip_features(stereo, 44100), clip_features((left + right) / 2, 44100))
    same = np.stack([left, left], axis=1)
    np.testing.assert_array_equal(clip_features(same, 44100), clip_features(left, 44100))


def test_mel_matrix_and_framing_facts() -> None:
    m = mel_matrix()
    assert m.shape == (257, 64) and not m[0].any() and (m >= 0).all()
    hz = np.linspace(0, 8000, 257)
    used = hz[m.any(axis=1)]
    assert used.min() > 125.0 and used.max() < 7500.0
    x = np.arange(1000, dtype=np.float64)
    f = frame(x, 400, 160)
    assert f.shape == (1 + (1000 - 400) // 160, 400) and f[2, 0] == 320.0 and not f.flags.writeable
    assert frame(x[:399], 400, 160).shape == (0, 400)
    silence = log_mel(np.zeros(16000))
    np.testing.assert_allclose(silence, np.log(0.01))


def test_features_of_every_clip_in_the_synthetic_tree(synth_root: Path) -> None:
    """The builder's path: read each AVSBench-layout WAV and extract its features by subset rule."""
    wavs = sorted(synth_root.rglob("*.wav"))
    assert wavs
    silent = clip_features(np.zeros(80000), 16000)
    for wav in wavs:
        x, sr, info = read_audio(wav)
        v2 = "v2" in wav.relative_to(synth_root).parts
        feats = clip_features(x, sr, 10, "zero") if v2 else clip_features(x, sr, 5, "repeat")
        assert feats.shape == ((10 if v2 else 5), 1, 96, 64), wav
        assert np.isfinite(feats).all() and not np.array_equal(feats[:5], silent), wav
