"""Audio front end of the builder: VGGish log-mel features, WAV I/O, and the condition generators."""
from __future__ import annotations

from .conditions import NOISE_SAMPLE_RATE, FusedMix, fused, n_samples_for, noise, offscreen, seeded_rng, silence
from .vggish import SAMPLE_RATE, clip_features, fit_examples, log_mel, waveform_to_examples
from .wavio import (
    AudioInfo,
    AudioScan,
    fit_length,
    read_audio,
    read_audio_as_avsbench,
    resample,
    scan_audio,
    to_mono,
    write_wav_float32,
    write_wav_pcm16,
)

__all__ = [
    "AudioInfo",
    "AudioScan",
    "FusedMix",
    "NOISE_SAMPLE_RATE",
    "SAMPLE_RATE",
    "clip_features",
    "fit_examples",
    "fit_length",
    "fused",
    "log_mel",
    "n_samples_for",
    "noise",
    "offscreen",
    "read_audio",
    "read_audio_as_avsbench",
    "resample",
    "seeded_rng",
    "scan_audio",
    "silence",
    "to_mono",
    "waveform_to_examples",
    "write_wav_float32",
    "write_wav_pcm16",
]
