"""Pure per-clip computation: normalise a clip's audio and derive every condition's samples from it.

No I/O here: `run` reads the WAVs, calls these, writes the results. The audio module supplies the
condition generators (silence, noise, fused) and the resampler; this module decides how they are
combined for one clip and records what had to be done to the input.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..audio import (
    NOISE_SAMPLE_RATE,
    fit_length,
    fused,
    n_samples_for,
    noise,
    resample,
    seeded_rng,
    silence,
    to_mono,
)
from ..audio.resampling import output_length
from ..audio.vggish import EXAMPLE_SAMPLES, SAMPLE_RATE
from ..audio.wavio import PCM16_SCALE
from ..types import Condition, Subset

#: Seconds are rounded to this many decimals in the manifest (enough for one sample at 48 kHz).
SECONDS_DECIMALS = 6


@dataclass(frozen=True)
class Conformed:
    """A clip's audio as the build stores and hears it.

    `stored` is what the positive WAV holds: the source samples at the source rate and channel count,
    on the PCM16 grid, at most the nominal duration — so AVSBench's own reader (int16 / 32768, mean of
    channels, resampy to 16 kHz) gets from our WAV exactly the features we computed from the source.
    `samples` is the mono 16 kHz float32 version the other conditions are made from (silence length,
    fused mixture).
    """

    samples: np.ndarray
    adjustments: dict = field(default_factory=dict)
    stored: np.ndarray | None = None  # float32 [n, channels], values k / 32768
    stored_rate: int = SAMPLE_RATE

    @property
    def unchanged(self) -> bool:
        """True when `stored` is the source's own samples (so its bytes can be kept)."""
        return not ({"trimmed", "padded", "requantized", "scaled"} & set(self.adjustments))


def min_source_frames(sr: int) -> int:
    """Fewest frames at `sr` that resample to one whole VGGish example (15600 samples at 16 kHz)."""
    n = -(-EXAMPLE_SAMPLES * int(sr) // SAMPLE_RATE)
    while output_length(n, int(sr), SAMPLE_RATE) < EXAMPLE_SAMPLES:
        n += 1
    return n


def conform(samples: np.ndarray, sr: int, seconds: float, subtype: str = "PCM_16", pad_to_duration: bool = False) -> Conformed:
    """Trim at the source rate (before any resampling: memory stays bounded), keep channels and rate.

    A shorter clip is kept short, so its features are padded the AVSBench way (repeat the last
    example) instead of by a silent tail that would look like the silence condition; only a clip
    shorter than one 0.96 s example is zero padded to one example (`pad_to_duration`: to the whole
    duration, for recordings from outside the dataset). Non-PCM16 input is requantised to PCM16
    (scaled first if it peaks above full scale). Every change is recorded.
    """
    adj: dict = {}
    sr = int(sr)
    x = np.asarray(samples, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    nominal = n_samples_for(seconds, sr)
    have = x.shape[0]
    target = nominal if pad_to_duration else min_source_frames(sr)
    if have > nominal:
        adj["trimmed"] = [round(have / sr, SECONDS_DECIMALS), float(seconds)]
        x = x[:nominal]
    elif have < target:
        adj["padded"] = [round(have / sr, SECONDS_DECIMALS), round(target / sr, SECONDS_DECIMALS)]
        x = fit_length(x, target)
    elif have < nominal:
        adj["short"] = [round(have / sr, SECONDS_DECIMALS), float(seconds)]
    if subtype != "PCM_16":
        peak = float(np.abs(x).max(initial=0.0))
        q = x.astype(np.float64)
        if peak > 1.0:  # scale, never clip
            adj["scaled"] = round(1.0 / peak, 9)
            q = q / peak
        q = np.clip(np.rint(q * PCM16_SCALE), -32768, 32767) / PCM16_SCALE
        adj["requantized"] = [subtype, "PCM_16"]
        x = q.astype(np.float32)
    stored = np.ascontiguousarray(x, dtype=np.float32)
    if x.shape[1] != 1:
        adj["mixed_down"] = [int(x.shape[1]), 1]  # for the features and the other conditions; the WAV keeps them
    if sr != SAMPLE_RATE:
        adj["resampled"] = [sr, SAMPLE_RATE]  # likewise
    mono = resample(to_mono(stored), sr, SAMPLE_RATE)
    return Conformed(np.ascontiguousarray(mono, dtype=np.float32), adj, stored, sr)


@dataclass(frozen=True)
class ConditionAudio:
    """Samples of one condition for one clip, the rate to store them at, and facts for the manifest."""

    samples: np.ndarray
    sample_rate: int
    extra: dict = field(default_factory=dict)


def condition_audio(
    condition: Condition,
    *,
    own: np.ndarray | Conformed,
    source: np.ndarray | Conformed | None,
    unseen: Conformed | None = None,
    seconds: float,
    seed: int,
    subset: Subset,
    split: str,
    video: str,
    fused_snr_db: float,
    fused_negative: Condition,
    noise_rate: int = NOISE_SAMPLE_RATE,
) -> ConditionAudio:
    """The samples of `condition` for one clip.

    `own`/`source`/`unseen` are `Conformed` clips (or bare mono 16 kHz arrays). Positive, offscreen
    and unseen audio is the conformed clip as stored (source rate and channels; 16 kHz for an array),
    so an offscreen WAV is its source clip's positive WAV. Noise uses the clip's own (seed, subset,
    split, video, "noise") stream; the fused control mixes the clip with exactly that noise
    (resampled to 16 kHz) or with its offscreen source.
    """
    own_mono = _mono(own)
    if condition is Condition.POSITIVE:
        return _as_stored(own)
    if condition is Condition.SILENCE:
        return ConditionAudio(silence(own_mono.shape[0], SAMPLE_RATE), SAMPLE_RATE)
    if condition is Condition.NOISE:
        return ConditionAudio(_noise(seed, subset, split, video, seconds, noise_rate), noise_rate)
    if condition is Condition.OFFSCREEN:
        if source is None:
            raise ValueError(f"offscreen audio of {video!r} needs its source clip")
        return _as_stored(source)
    if condition is Condition.UNSEEN:
        if unseen is None:
            raise ValueError(f"unseen audio of {video!r} needs its pool recording")
        return _as_stored(unseen)
    own = own_mono
    source = None if source is None else _mono(source)
    if condition is Condition.FUSED:
        if fused_negative is Condition.NOISE:
            neg = resample(_noise(seed, subset, split, video, seconds, noise_rate), noise_rate, SAMPLE_RATE)
        elif fused_negative is Condition.OFFSCREEN:
            if source is None:
                raise ValueError(f"fused audio of {video!r} with an offscreen negative needs its source clip")
            neg = source
        else:
            raise ValueError(f"fused negative must be noise or offscreen, not {fused_negative.value}")
        mix = fused(own, fit_length(neg, own.shape[0]), fused_snr_db)
        extra = {"snr_db": mix.snr_db, "negative": fused_negative.value, "negative_scale": round(mix.neg_scale, 9),
                 "gain": round(mix.gain, 9), "own_silent": bool(mix.own_silent)}
        return ConditionAudio(mix.samples, SAMPLE_RATE, extra)
    raise ValueError(f"unknown condition {condition!r}")


def _noise(seed: int, subset: Subset, split: str, video: str, seconds: float, sr: int) -> np.ndarray:
    return noise(seconds, seeded_rng(seed, subset, split, video, Condition.NOISE), sr)


def _mono(x: np.ndarray | Conformed) -> np.ndarray:
    return x.samples if isinstance(x, Conformed) else x


def _as_stored(x: np.ndarray | Conformed) -> ConditionAudio:
    if isinstance(x, Conformed) and x.stored is not None:
        return ConditionAudio(x.stored, x.stored_rate)
    return ConditionAudio(_mono(x), SAMPLE_RATE)
