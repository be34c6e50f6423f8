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
