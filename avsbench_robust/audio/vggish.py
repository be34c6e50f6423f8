"""The VGGish log-mel front end, as AVSBench computed its audio features (SPEC §2).

Every condition, positive included, goes through this one function so that a model cannot tell
conditions apart by feature statistics. Numerics follow the reference numpy code: float64 inside
(numpy's pocketfft rFFT, HTK mel matrix, natural log), float32 only at the end, so 16 kHz input
reproduces the official features exactly; other rates go through the resampy-compatible resampler.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np

from .resampling import resample_kaiser_best

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 400  # round(0.025 s * 16 kHz)
HOP_SAMPLES = 160  # round(0.010 s * 16 kHz)
FFT_LENGTH = 512  # next power of two >= window
NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10 ms frames; examples do not overlap
EXAMPLE_SAMPLES = WINDOW_SAMPLES + (EXAMPLE_FRAMES - 1) * HOP_SAMPLES  # 15600: shortest input giving one example

PadMode = Literal["repeat", "zero"]


def frame(data: np.ndarray, window: int, hop: int) -> np.ndarray:
    """Read-only view [n_frames, window, ...] of `data` along axis 0, no padding.

    n_frames = 1 + (len - window) // hop, and 0 when `data` is shorter than one window.
    """
    n_frames = 1 + (data.shape[0] - window) // hop if data.shape[0] >= window else 0
    shape = (n_frames, window) + data.shape[1:]
    strides = (data.strides[0] * hop,) + data.strides
    return np.lib.stride_tricks.as_strided(data, shape=shape, strides=strides, writeable=False)


def periodic_hann(n: int) -> np.ndarray:
    """Hann window without the repeated end point (the 'periodic' form used by VGGish)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi / n * np.arange(n))


def hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


@lru_cache(maxsize=4)
def mel_matrix(
    num_spectrogram_bins: int = FFT_LENGTH // 2 + 1,
    sample_rate: int = SAMPLE_RATE,
    num_mel_bins: int = NUM_MEL_BINS,
    lower_hz: float = MEL_MIN_HZ,
    upper_hz: float = MEL_MAX_HZ,
) -> np.ndarray:
    """[bins, mels] triangular HTK-mel weights, built in mel space from the spectrogram bin centres.

    As VGGish: band edges equally spaced in mel between the limits, each triangle evaluated at the
    bins' own mel positions (not interpolated in Hz), and the DC bin zeroed.
    """
    if not 0.0 <= lower_hz < upper_hz <= sample_rate / 2:
        raise ValueError(f"mel band limits must satisfy 0 <= {lower_hz} < {upper_hz} <= {sample_rate / 2}")
    bins_mel = hertz_to_mel(np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins))
    edges = np.linspace(hertz_to_mel(lower_hz), hertz_to_mel(upper_hz), num_mel_bins + 2)
    lo, centre, hi = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lo[None, :]) / (centre - lo)[None, :]
    falling = (hi[None, :] - bins_mel[:, None]) / (hi - centre)[None, :]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    weights.flags.writeable = False
    return weights


def log_mel(samples_16k: np.ndarray) -> np.ndarray:
    """[frames, 64] float64 log-mel spectrogram of mono 16 kHz float64 samples."""
    frames = frame(np.ascontiguousarray(samples_16k, dtype=np.float64), WINDOW_SAMPLES, HOP_SAMPLES)
    spectrum = np.abs(np.fft.rfft(frames * periodic_hann(WINDOW_SAMPLES), FFT_LENGTH))
    return np.log(np.dot(spectrum, mel_matrix(spectrum.shape[1])) + LOG_OFFSET)


def to_vggish_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono (mean of channels) float64 at 16 kHz, the input VGGish expects."""
    if not np.issubdtype(np.asarray(samples).dtype, np.floating):
        raise ValueError("samples must be floats in [-1, 1] (divide int16 PCM by 32768 first)")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise ValueError(f"samples must be [n] or [n, channels], got shape {x.shape}")
    if int(sample_rate) != SAMPLE_RATE:
        x = resample_kaiser_best(x, int(sample_rate), SAMPLE_RATE)
    return x


def waveform_to_examples(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """[n, 1, 96, 64] float32 VGGish examples; n = whole 0.96 s windows in the clip (0 if shorter).

    `samples` is [n] or [n, channels] in [-1, 1] (PCM16 as int16 / 32768), any sample rate.
    """
    spec = log_mel(to_vggish_rate(samples, sample_rate))
    examples = frame(spec, EXAMPLE_FRAMES, EXAMPLE_FRAMES)
    return examples[:, None, :, :].astype(np.float32)


def fit_examples(examples: np.ndarray, n_examples: int, pad: PadMode = "repeat") -> np.ndarray:
    """Exactly `n_examples` examples: cut the surplus, pad the shortfall.

    "repeat" copies the last example (AVSBench's 5 s S4/MS3 preprocessing); "zero" appends zeros
    (AVSS v2 loader). A clip too short for even one example is zero padded under both modes,
    since there is nothing to repeat.
    """
    if n_examples < 1:
        raise ValueError(f"n_examples must be >= 1, got {n_examples}")
    if pad not in ("repeat", "zero"):
        raise ValueError(f"pad must be 'repeat' or 'zero', got {pad!r}")
    have = examples.shape[0]
    if have >= n_examples:
        return np.ascontiguousarray(examples[:n_examples], dtype=np.float32)
    if pad == "repeat" and have > 0:
        filler = np.repeat(examples[-1:], n_examples - have, axis=0)
    else:
        filler = np.zeros((n_examples - have,) + examples.shape[1:], dtype=np.float32)
    return np.concatenate([examples, filler], axis=0).astype(np.float32, copy=False)


def clip_features(samples: np.ndarray, sample_rate: int, n_examples: int = 5, pad: PadMode = "repeat") -> np.ndarray:
    """[n_examples, 1, 96, 64] float32 features of one clip: 5 s clips -> 5 ("repeat"), AVSS v2 -> 10 ("zero")."""
    return fit_examples(waveform_to_examples(samples, sample_rate), n_examples, pad)
