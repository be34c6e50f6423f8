"""WAV reading/writing: byte determinism, PCM16 round trips, and one clear error per bad file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avsbench_robust.audio import fit_length, read_audio, to_mono, write_wav_float32, write_wav_pcm16
from avsbench_robust.errors import InputFileError

DATA = Path(__file__).parent / "data" / "audio" / "audio"


def test_float_wav_written_twice_is_byte_identical(tmp_path: Path) -> None:
    x = np.random.default_rng(0).uniform(-1, 1, 44100).astype(np.float32)
    write_wav_float32(tmp_path / "a.wav", x, 44100)
    write_wav_float32(tmp_path / "b.wav", x, 44100)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    back, sr, info = read_audio(tmp_path / "a.wav")
    assert sr == 44100 and info.subtype == "FLOAT" and info.channels == 1 and info.seconds == 1.0
    np.testing.assert_array_equal(back[:, 0], x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]  # no temp files left


def test_pcm16_round_trip_is_bit_exact(tmp_path: Path) -> None:
    src = DATA / "chirp_44k_stereo_5s.wav"
    x, sr, _ = read_audio(src)
    write_wav_pcm16(tmp_path / "c.wav", x, sr)
    y, sr2, info = read_audio(tmp_path / "c.wav")
    assert sr2 == sr and info.subtype == "PCM_16" and info.channels == 2
    np.testing.assert_array_equal(x, y)
    write_wav_pcm16(tmp_path / "d.wav", x, sr)
    assert (tmp_path / "c.wav").read_bytes() == (tmp_path / "d.wav").read_bytes()


def test_pcm16_refuses_to_clip_and_nothing_is_left_behind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exceed"):
        write_wav_pcm16(tmp_path / "loud.wav", np.array([0.5, 1.5]), 16000)
    with pytest.raises(ValueError, match="NaN"):
        write_wav_float32(tmp_path / "nan.wav", np.array([0.5, np.nan]), 16000)
    assert list(tmp_path.iterdir()) == []


def test_missing_and_corrupt_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(InputFileError, match="nope.wav: audio file not found"):
        read_audio(missing)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(InputFileError) as err:
        read_audio(bad)
    assert str(err.value).startswith(f"{bad}: not a readable audio file")
    truncated = tmp_path / "empty.wav"
    write_wav_pcm16(truncated, np.zeros(10), 16000)
    truncated.write_bytes(truncated.read_bytes()[:44])  # header only, no samples
    with pytest.raises(InputFileError, match="empty.wav"):
        read_audio(truncated)
    with pytest.raises(InputFileError, match="is not a file"):
        read_audio(tmp_path)


def test_mono_and_fit_length() -> None:
    x = np.array([[1.0, 0.0], [0.5, -0.5], [0.25, 0.75]], dtype=np.float32)
    np.testing.assert_array_equal(to_mono(x), np.array([0.5, 0.0, 0.5], np.float32))
    np.testing.assert_array_equal(fit_length(x, 2), x[:2])
    padded = fit_length(x, 5)
    assert padded.shape == (5, 2) and not padded[3:].any()
    np.testing.assert_array_equal(fit_length(np.ones(3), 4), [1, 1, 1, 0])
