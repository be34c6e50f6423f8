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


def read_audio(path: "str | Path", max_frames: "int | None" = None, max_seconds: "float | None" = None
               ) -> tuple[np.ndarray, int, AudioInfo]:
    """(samples float32 [n, channels] in [-1, 1], sample rate, info) of an audio file.

    PCM16 comes back as int16 / 32768 exactly (the values VGGish sees). `max_frames` reads only the
    start of the file (`max_seconds`: that long plus one frame; a 30-minute recording trimmed to 5 s
    never sits in memory whole); `info.frames`
    still describes the whole file. Empty files and NaN/inf samples are rejected, naming the file.
    """
    path = Path(path)
    meta = _open_info(path)
    if max_seconds is not None:
        max_frames = int(round(max_seconds * meta.samplerate)) + 1  # one more: "longer than" stays visible
    frames = -1 if max_frames is None else max(int(max_frames), 0)
    try:
        data, sr = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(path, f"cannot decode audio ({_short(exc)})") from None
    if data.shape[0] == 0:
        raise InputFileError(path, "contains no audio samples")
    if not np.isfinite(data).all():
        raise InputFileError(path, "contains NaN or infinite samples")
    total = int(meta.frames) if max_frames is not None and meta.frames > 0 else int(data.shape[0])
    info = AudioInfo(str(path), int(sr), int(data.shape[1]), total, meta.format, meta.subtype)
    return data, int(sr), info


#: Frames decoded at a time by `scan_audio` (bounded memory whatever the file's length).
SCAN_BLOCK_FRAMES = 1 << 18


@dataclass(frozen=True)
class AudioScan:
    """A whole file decoded block by block: what it really holds, and what its header claimed."""

    info: AudioInfo  # frames = frames actually decoded
    header_frames: "int | None"  # frames the WAV header's data chunk declares (None: not a RIFF/WAVE file)
    peak: float  # max |sample| over the file

    @property
    def truncated(self) -> bool:
        return self.header_frames is not None and self.header_frames > self.info.frames


def wav_header_frames(path: "str | Path", channels: int, subtype: str) -> "int | None":
    """Frames the RIFF 'data' chunk declares (its size field / frame bytes), or None if not RIFF/WAVE PCM.

    libsndfile quietly reads what is there when a header promises more, so a file cut short in
    transfer would pass for a short clip; comparing with this count tells the two apart.
    """
    width = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8, "PCM_U8": 1}.get(subtype)
    if width is None:
        return None
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                return size // (width * channels) if size != 0xFFFFFFFF else None
            f.seek(size + (size & 1), 1)


def scan_audio(path: "str | Path") -> AudioScan:
    """Decode every sample in blocks (corrupt data shows before a build plans), never holding the file whole."""
    path = Path(path)
    meta = _open_info(path)
    frames, peak = 0, 0.0
    try:
        with sf.SoundFile(str(path)) as f:
            for block in f.blocks(SCAN_BLOCK_FRAMES, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    raise InputFileError(path, "contains NaN or infinite samples")
                frames += block.shape[0]
                peak = max(peak, float(np.abs(block).max(initial=0.0)))
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(path, f"cannot decode audio ({_short(exc)})") from None
    if frames == 0:
        raise InputFileError(path, "contains no audio samples")
    info = AudioInfo(str(path), int(meta.samplerate), int(meta.channels), frames, meta.format, meta.subtype)
    header = wav_header_frames(path, info.channels, info.subtype) if meta.format == "WAV" else None
    return AudioScan(info, header, peak)


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
