"""Audio inputs the front-end goldens were computed on, regenerated bit for bit by the tests.

Made with the project's synthetic generator (`class_sound`), written as WAV by soundfile. The
expected outputs in `tests/data/frontend/` came from running the official code on exactly these
files in a scratch environment (see tests/data/frontend/README.md); only those outputs are committed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from avsbench_robust.data.synthetic import class_sound

# name -> (rate, channels, seconds, subtype)
VGGISH_INPUTS = {
    "s16k_stereo_5s": (16000, 2, 5.0, "PCM_16"),
    "s44k_stereo_6p5s": (44100, 2, 6.5, "PCM_16"),
    "s48k_stereo_5s": (48000, 2, 5.0, "PCM_16"),
    "s24k_mono_3s": (24000, 1, 3.0, "PCM_16"),
}
AUTHORS_INPUTS = {
    **VGGISH_INPUTS,
    "noise_44k_float_5s": (44100, 1, 5.0, "FLOAT"),
    "silence_16k_5s": (16000, 1, 5.0, "PCM_16"),
}


def signal(name: str, sr: int, channels: int, seconds: float) -> np.ndarray:
    """Deterministic test audio: class tones (quiet right channel), a little noise; noise/silence by name."""
    n = int(round(seconds * sr))
    rng = np.random.default_rng(sum(map(ord, name)))
    if name.startswith("silence"):
        return np.zeros((n, channels), np.float32)
    if name.startswith("noise"):
        return rng.uniform(-1, 1, (n, channels)).astype(np.float32)
    cols = [0.5 * class_sound(3 + 5 * c, seconds, sr) + rng.normal(0, 0.002, n).astype(np.float32) for c in range(channels)]
    x = np.stack(cols, axis=1)
    x[:, 1:] *= 0.1  # unequal channels: a mix-down that matters
    return np.clip(x, -1, 1).astype(np.float32)


def make_inputs(folder: Path, table: dict = AUTHORS_INPUTS) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (sr, ch, seconds, subtype) in table.items():
        path = folder / f"{name}.wav"
        sf.write(str(path), signal(name, sr, ch, seconds), sr, subtype=subtype, format="WAV")
        paths[name] = path
    return paths


# A small "unseen" pool like the authors' (24 / 44.1 / 48 kHz stereo PCM16 recordings of classes the
# synthetic clips never use), plus a 3 s one (padded to the clip) and a silent one (left out).
UNSEEN_POOL = {
    "b_horn.wav": (24000, 2, 5.0, "PCM_16", 61),
    "a_engine.wav": (44100, 2, 6.0, "PCM_16", 67),
    "c_bell.wav": (48000, 1, 3.0, "PCM_16", 71),
    "d_quiet.wav": (16000, 1, 5.0, "PCM_16", None),
}


def make_pool(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (sr, ch, seconds, subtype, cls) in UNSEEN_POOL.items():
        n = int(round(seconds * sr))
        if cls is None:
            x = np.zeros((n, ch), np.float32)
        else:
            tone = 0.4 * class_sound(cls, seconds, sr)
            x = np.stack([tone * (1.0 - 0.4 * c) for c in range(ch)], axis=1)
        sf.write(str(folder / name), x, sr, subtype=subtype, format="WAV")
        out[name] = folder / name
    (folder / "notes.txt").write_text("not audio: ignored by the pool listing\n")
    return out
