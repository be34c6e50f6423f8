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
from ..audio.vggish import EXAMPLE_SAMPLES, SAMPLE_RATE
from ..types import Condition, Subset

#: Seconds are rounded to this many decimals in the manifest (enough for one sample at 48 kHz).
SECONDS_DECIMALS = 6


@dataclass(frozen=True)
class Conformed:
    """A clip's audio as the build stores it: mono float32 at 16 kHz, at most the nominal duration."""

    samples: np.ndarray
    adjustments: dict = field(default_factory=dict)


def conform(samples: np.ndarray, sr: int, seconds: float, subtype: str = "PCM_16") -> Conformed:
    """Mono (channel mean), 16 kHz (AVSBench's resampler), trimmed to `seconds`.

    A shorter clip is kept short, so its features are padded the AVSBench way (repeat the last
    example) instead of by a silent tail that would look like the silence condition; only a clip
    shorter than one 0.96 s example is zero padded to one example. Every change is recorded.
    """
    adj: dict = {}
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2 and x.shape[1] != 1:
        adj["mixed_down"] = [int(x.shape[1]), 1]
    x = to_mono(x)
    if int(sr) != SAMPLE_RATE:
        adj["resampled"] = [int(sr), SAMPLE_RATE]
        x = resample(x, int(sr), SAMPLE_RATE)
    if subtype != "PCM_16":
        adj["requantized"] = [subtype, "PCM_16"]
    nominal = n_samples_for(seconds, SAMPLE_RATE)
    have = x.shape[0]
    if have > nominal:
        adj["trimmed"] = [round(have / SAMPLE_RATE, SECONDS_DECIMALS), float(seconds)]
        x = fit_length(x, nominal)
    elif have < EXAMPLE_SAMPLES:
        adj["padded"] = [round(have / SAMPLE_RATE, SECONDS_DECIMALS), round(EXAMPLE_SAMPLES / SAMPLE_RATE, SECONDS_DECIMALS)]
        x = fit_length(x, EXAMPLE_SAMPLES)
    elif have < nominal:
        adj["short"] = [round(have / SAMPLE_RATE, SECONDS_DECIMALS), float(seconds)]
    # PCM16 stores [-1, 1); a resampled full-scale clip can overshoot by a hair: scale, never clip.
    peak = float(np.abs(x).max(initial=0.0))
    if peak > 1.0:
        adj["scaled"] = round(1.0 / peak, 9)
        x = (x.astype(np.float64) / peak).astype(np.float32)
    return Conformed(np.ascontiguousarray(x, dtype=np.float32), adj)


@dataclass(frozen=True)
class ConditionAudio:
    """Samples of one condition for one clip, the rate to store them at, and facts for the manifest."""

    samples: np.ndarray
    sample_rate: int
    extra: dict = field(default_factory=dict)


def condition_audio(
    condition: Condition,
    *,
    own: np.ndarray,
    source: np.ndarray | None,
    seconds: float,
    seed: int,
    subset: Subset,
    split: str,
    video: str,
    fused_snr_db: float,
    fused_negative: Condition,
    noise_rate: int = NOISE_SAMPLE_RATE,
) -> ConditionAudio:
    """The samples of `condition` for one clip. `own`/`source` are conformed 16 kHz mono clips.

    Noise uses the clip's own (seed, subset, split, video, "noise") stream; the fused control mixes
    the clip with exactly that noise (resampled to 16 kHz) or with its offscreen source.
    """
    if condition is Condition.POSITIVE:
        return ConditionAudio(own, SAMPLE_RATE)
    if condition is Condition.SILENCE:
        return ConditionAudio(silence(own.shape[0], SAMPLE_RATE), SAMPLE_RATE)
    if condition is Condition.NOISE:
        return ConditionAudio(_noise(seed, subset, split, video, seconds, noise_rate), noise_rate)
    if condition is Condition.OFFSCREEN:
        if source is None:
            raise ValueError(f"offscreen audio of {video!r} needs its source clip")
        return ConditionAudio(source, SAMPLE_RATE)
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
