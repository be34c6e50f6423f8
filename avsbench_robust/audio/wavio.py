"""WAV I/O at the edges, plus the small pure helpers that normalise a clip (mono, rate, length).

Reads go through soundfile and fail with one `InputFileError` line naming the file. Writes are
byte-deterministic (scipy.io.wavfile: no PEAK chunk, no timestamp) and atomic (temp file + rename),
so a rerun of a build produces identical bytes and an interrupted one leaves no half file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import soundfile as sf

from ..errors import InputFileError
from ..io_utils import atomic_path
from .resampling import resample_kaiser_best

PCM16_SCALE = 32768.0  # AVSBench/VGGish read int16 and divide by 32768


@dataclass(frozen=True)
class AudioInfo:
    """What the file said about itself; callers record it (e.g. in the build manifest)."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def _open_info(path: Path):  # -> soundfile's info record
    if not path.exists():
        raise InputFileError(path, "audio file not found")
    if not path.is_file():
        raise InputFileError(path, "is not a file")
    try:
        return sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(path, f"not a readable audio file ({_short(exc)})") from None


def _short(exc: Exception) -> str:
    """libsndfile's own reason ("Format not recognised."), without the path it repeats."""
    reason = getattr(exc, "error_string", None) or str(exc).strip()
    return reason.strip().rstrip(".") or type(exc).__name__


def read_audio(path: "str | Path") -> tuple[np.ndarray, int, AudioInfo]:
    """(samples float32 [n, channels] in [-1, 1], sample rate, info) of an audio file.

    PCM16 comes back as int16 / 32768 exactly (the values VGGish sees). Empty files and files
    holding NaN/inf samples are rejected, naming the file.
    """
    path = Path(path)
    meta = _open_info(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(path, f"cannot decode audio ({_short(exc)})") from None
    if data.shape[0] == 0:
        raise InputFileError(path, "contains no audio samples")
    if not np.isfinite(data).all():
        raise InputFileError(path, "contains NaN or infinite samples")
    info = AudioInfo(str(path), int(sr), int(data.shape[1]), int(data.shape[0]), meta.format, meta.subtype)
    return data, int(sr), info


def read_audio_as_avsbench(path: "str | Path") -> tuple[np.ndarray, int]:
    """(float64 [n, channels], rate) exactly as AVSBench's `wavfile_to_examples` loads a file.

    That loader reads int16 and divides by 32768. For PCM16 this equals `read_audio`. For float
    WAVs libsndfile converts without scaling (x -> round(x), i.e. -1/0/1), so the official pipeline
    sees near-silence in a float WAV such as our noise condition. Use this only for parity checks.
    """
    path = Path(path)
    _open_info(path)
    try:
        data, sr = sf.read(str(path), dtype="int16", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(path, f"cannot decode audio ({_short(exc)})") from None
    return data / PCM16_SCALE, int(sr)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """float32 [n]: mean of the channels (computed in float64), as VGGish mixes down."""
    x = np.asarray(samples)
    if x.ndim == 1:
        return x.astype(np.float32)
    if x.ndim != 2:
        raise ValueError(f"samples must be [n] or [n, channels], got shape {x.shape}")
    return x.astype(np.float64).mean(axis=1).astype(np.float32)


def resample(samples: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """float32 audio at `sr_out` along axis 0 ([n] or [n, ch]), with AVSBench's resampler (resampy kaiser_best)."""
    if int(sr_in) == int(sr_out):
        return np.asarray(samples, dtype=np.float32).copy()
    return resample_kaiser_best(samples, int(sr_in), int(sr_out)).astype(np.float32)


def fit_length(samples: np.ndarray, n_samples: int) -> np.ndarray:
    """Exactly `n_samples` along axis 0: trim the end, or pad zeros after it."""
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    x = np.asarray(samples)
    if x.shape[0] >= n_samples:
        return x[:n_samples].copy()
    pad = [(0, n_samples - x.shape[0])] + [(0, 0)] * (x.ndim - 1)
    return np.pad(x, pad)


def _check_writable(path: Path, samples: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim not in (1, 2) or x.shape[0] == 0:
        raise ValueError(f"{path}: samples must be non-empty [n] or [n, channels], got shape {x.shape}")
    if int(sr) <= 0:
        raise ValueError(f"{path}: sample rate must be positive, got {sr}")
    if not np.isfinite(x).all():
        raise ValueError(f"{path}: refusing to write NaN or infinite samples")
    return x


def write_wav_pcm16(path: "str | Path", samples: np.ndarray, sr: int) -> None:
    """16-bit PCM WAV, value k/32768 -> k (so PCM16 input round-trips bit-exactly).

    Samples must lie in [-1, 1] (1.0 maps to 32767): scale before writing, never clip silently.
    """
    path = Path(path)
    x = _check_writable(path, samples, sr)
    peak = float(np.abs(x).max())
    if peak > 1.0:
        raise ValueError(f"{path}: samples exceed [-1, 1] (peak {peak:.6g}); scale them before writing PCM16")
    q = np.clip(np.rint(x.astype(np.float64) * PCM16_SCALE), -32768, 32767).astype("<i2")
    with atomic_path(path) as tmp:
        scipy.io.wavfile.write(tmp, int(sr), q)


def write_wav_float32(path: "str | Path", samples: np.ndarray, sr: int) -> None:
    """32-bit float WAV, byte-identical for identical samples (no PEAK chunk / timestamp)."""
    path = Path(path)
    x = _check_writable(path, samples, sr)
    with atomic_path(path) as tmp:
        scipy.io.wavfile.write(tmp, int(sr), np.ascontiguousarray(x, dtype="<f4"))
