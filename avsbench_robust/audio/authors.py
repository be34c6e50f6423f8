"""The AVSBench-Robust authors' negative-audio features, to reproduce their evaluation inputs (leaky by design).

Their generator fed every negative (silence, noise, misaligned, merged, unseen) through a front end
other than the positives' VGGish one. Facts of that front end: `librosa.load` at librosa's default
22,050 Hz (its default resampler) and mono, the first 5 s kept and zero padded; the signal split into 5
equal parts (`numpy.array_split`); per part a mel spectrogram (n_fft 1024, hop 512, 64 mels), then
`power_to_db` (ref 1.0), z-scored when its std is above 0, zero padded or cut to 96 frames; stacked as
[5, 1, 96, 64] float32 (frames x mels). Every negative is thus normalised and 52 of its 96 frames are
zero, while positives are raw VGGish log-mels: a model can tell them apart by statistics alone, which
is why a build made with it is marked "authors' pipeline (leaky)". librosa is an optional extra.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError

AUTHORS_SAMPLE_RATE = 22050  # librosa.load's default
AUTHORS_N_FFT = 1024
AUTHORS_HOP = 512
AUTHORS_MELS = 64
AUTHORS_FRAMES = 96


def require_librosa():
    """librosa, or one clear line on how to get it."""
    try:
        import librosa
    except ImportError:
        raise MissingDependencyError(
            "--negative-features authors needs librosa (the authors' front end): pip install 'librosa>=0.10'"
        ) from None
    return librosa


def authors_features(path: str | Path, seconds: float = 5.0, segments: int = 5) -> np.ndarray:
    """float32 [segments, 1, 96, 64]: the authors' features of the audio file at `path`.

    With the defaults (5 s, 5 segments) this is their generator's feature function; other values
    extend it to AVSS v2's 10 s clips (10 segments), which their script never built.
    """
    librosa = require_librosa()
    y, sr = librosa.load(str(path), duration=seconds)
    want = int(sr * seconds)
    if y.shape[0] < want:
        y = np.pad(y, (0, want - y.shape[0]))
    parts = []
    for part in np.array_split(y, segments):
        mel = librosa.feature.melspectrogram(y=part, sr=sr, n_mels=AUTHORS_MELS, n_fft=AUTHORS_N_FFT,
                                             hop_length=AUTHORS_HOP)
        db = librosa.power_to_db(mel)
        if db.std() > 0:
            db = (db - db.mean()) / db.std()
        frames = db.shape[1]
        db = np.pad(db, ((0, 0), (0, AUTHORS_FRAMES - frames))) if frames < AUTHORS_FRAMES else db[:, :AUTHORS_FRAMES]
        parts.append(db)
    # [segments, mels, frames] -> [segments, 1, frames, mels], cast to float32 before the transpose as theirs.
    stack = np.stack(parts).astype(np.float32)
    return np.ascontiguousarray(stack.transpose(0, 2, 1)[:, None])
