"""The negative-audio conditions of SPEC §2 as pure functions of samples (no I/O, no global state).

Each avoids one bug of the authors' generation script: noise is real 5 s white noise in [-1, 1]
(not float64 bytes re-read as int16), every stream is seeded per clip (not by listing order),
silence has the clip's own length and rate, and `fused` returns the mixture, not the original.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from ..types import Condition, Split, Subset
from .wavio import fit_length, resample

NOISE_SAMPLE_RATE = 44100
_SEED_DOMAIN = "avsbench-robust/condition-rng/v1"


def seeded_rng(
    seed: int, subset: "Subset | str", split: "Split | str", video: str, condition: "Condition | str"
) -> np.random.Generator:
    """Generator for one (clip, condition): a stable function of its fields only.

    sha256 of the unit-separator-joined fields -> SeedSequence -> PCG64. No Python `hash`, no
    process or worker state, so every worker count and order draws the same numbers.
    """
    fields = (
        _SEED_DOMAIN,
        str(int(seed)),
        Subset.parse(subset).value,
        Split.parse(split).value,
        str(video),
        Condition.parse(condition).value,
    )
    digest = hashlib.sha256("\x1f".join(fields).encode("utf-8")).digest()
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int.from_bytes(digest, "big"))))


def n_samples_for(seconds: float, sr: int) -> int:
    """Samples in `seconds` at `sr`, rounded (5 s at 44.1 kHz -> 220500)."""
    if seconds <= 0 or sr <= 0:
        raise ValueError(f"duration and sample rate must be positive, got {seconds} s at {sr} Hz")
    return int(round(seconds * sr))


def silence(n_samples: int, sr: int) -> np.ndarray:
    """All-zero float32 [n_samples]: the clip's own length at its own rate `sr` (which the caller records)."""
    if n_samples <= 0 or sr <= 0:
        raise ValueError(f"silence needs positive length and rate, got {n_samples} samples at {sr} Hz")
    return np.zeros(n_samples, dtype=np.float32)


def noise(seconds: float, rng: np.random.Generator, sr: int = NOISE_SAMPLE_RATE) -> np.ndarray:
    """White noise float32 [seconds * sr]: i.i.d. uniform in [-1, 1], 44.1 kHz by default.

    Drawn in float64 and rounded to float32, so values stay within [-1, 1] (store as float WAV).
    """
    return rng.uniform(-1.0, 1.0, n_samples_for(seconds, sr)).astype(np.float32)


def offscreen(source_samples: np.ndarray, source_sr: int, seconds: float, target_sr: "int | None" = None) -> np.ndarray:
    """Another clip's audio fitted to this clip: resampled to `target_sr` (default: its own rate),
    then trimmed or zero padded to `seconds`. Channels are kept; float32 out.
    """
    sr_out = int(target_sr or source_sr)
    x = resample(source_samples, int(source_sr), sr_out)
    return fit_length(x, n_samples_for(seconds, sr_out)).astype(np.float32, copy=False)


@dataclass(frozen=True)
class FusedMix:
    """The fused control and what was done to make it (recorded in the manifest)."""

    samples: np.ndarray  # float32, shape of `own`
    snr_db: float  # requested; holds on the output unless own_silent
    neg_scale: float  # factor applied to the negative before mixing
    gain: float  # <= 1: mixture scaled down so its peak is at most 1 (never clipped)
    own_silent: bool  # own power below the floor: the SNR is undefined, the negative is used alone


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


def fused(own: np.ndarray, neg: np.ndarray, snr_db: float = 0.0, silent_floor_db: float = -120.0) -> FusedMix:
    """Own audio plus the negative scaled to `snr_db` relative to the own audio's mean power.

    Both must already share rate and length (the negative may be mono when `own` has channels;
    it is then added to every channel). If the mixture peaks above 1 the whole mixture is scaled
    down (the SNR is unchanged) and the gain reported. If the own audio is silent (mean power below
    `silent_floor_db` dBFS) no SNR exists: the negative is returned at its own level (peak-limited
    the same way) and `own_silent` is set, so the caller can record it rather than divide by zero.
    """
    if not math.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    o = np.asarray(own, dtype=np.float64)
    n = np.asarray(neg, dtype=np.float64)
    if o.shape[0] != n.shape[0]:
        raise ValueError(f"own and negative audio differ in length ({o.shape[0]} vs {n.shape[0]} samples)")
    if n.ndim == 1 and o.ndim == 2:
        n = n[:, None]
    if n.shape != o.shape and not (n.ndim == 2 and n.shape[1] == 1):
        raise ValueError(f"own and negative audio differ in channels ({o.shape} vs {n.shape})")
    n = np.broadcast_to(n, o.shape)

    p_own, p_neg = _power(o), _power(n)
    own_silent = p_own <= 10.0 ** (silent_floor_db / 10.0)
    if own_silent:
        scale = 1.0
    elif p_neg == 0.0:
        raise ValueError("the negative audio is all zeros: no SNR can be reached")
    else:
        scale = math.sqrt(p_own / (p_neg * 10.0 ** (snr_db / 10.0)))
    mix = o + scale * n
    peak = float(np.abs(mix).max())
    gain = 1.0 / peak if peak > 1.0 else 1.0
    return FusedMix((mix * gain).astype(np.float32), float(snr_db), scale, gain, own_silent)
