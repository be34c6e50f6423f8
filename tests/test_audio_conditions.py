"""Condition generators: seeding, noise statistics, the fused SNR, silence and off-screen fitting."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from avsbench_robust.audio import fused, n_samples_for, noise, offscreen, seeded_rng, silence
from avsbench_robust.types import Condition, Split, Subset

_DRAW = (
    "from avsbench_robust.audio import seeded_rng, noise;"
    "print(noise(0.01, seeded_rng(42, 's4', 'test', 'clip_a', 'noise'))[:6].tobytes().hex())"
)


def test_seeded_rng_is_stable_across_processes_and_hash_seeds() -> None:
    here = noise(0.01, seeded_rng(42, Subset.S4, Split.TEST, "clip_a", Condition.NOISE))[:6].tobytes().hex()
    outs = set()
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        res = subprocess.run([sys.executable, "-c", _DRAW], capture_output=True, text=True, env=env, check=True)
        outs.add(res.stdout.strip())
    assert outs == {here}


def test_seeded_rng_depends_on_every_field_and_only_on_them() -> None:
    base = (42, "s4", "test", "clip_a", "noise")
    first = seeded_rng(*base).random(4)
    np.testing.assert_array_equal(first, seeded_rng(42, Subset.S4, "TEST", "clip_a", Condition.NOISE).random(4))
    for i, other in enumerate((43, "ms3", "val", "clip_b", "offscreen")):
        fields = list(base)
        fields[i] = other
        assert not np.array_equal(first, seeded_rng(*fields).random(4)), fields
    with pytest.raises(ValueError):
        seeded_rng(42, "s5", "test", "clip_a", "noise")


def test_noise_is_uniform_white_float32_at_44k() -> None:
    x = noise(5.0, seeded_rng(0, "s4", "test", "v", "noise"))
    assert x.dtype == np.float32 and x.shape == (220500,)
    assert -1.0 <= x.min() < -0.999 and 0.999 < x.max() <= 1.0
    assert abs(x.mean()) < 0.01 and abs(x.var() - 1 / 3) < 0.01
    assert stats.kstest(x.astype(np.float64), "uniform", args=(-1, 2)).pvalue > 1e-3
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 0.01  # white: no lag-1 correlation
    assert noise(10.0, seeded_rng(0, "avss", "test", "v", "noise")).shape == (441000,)
    assert noise(5.0, seeded_rng(0, "s4", "test", "v", "noise"), sr=16000).shape == (80000,)


def test_silence_is_zeros_of_the_clip_length() -> None:
    s = silence(n_samples_for(5.0, 16000), 16000)
    assert s.dtype == np.float32 and s.shape == (80000,) and not s.any()
    with pytest.raises(ValueError):
        silence(0, 16000)


def test_offscreen_is_fitted_to_this_clip() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(-0.5, 0.5, (3 * 44100, 2))
    out = offscreen(src, 44100, 5.0, 16000)
    assert out.dtype == np.float32 and out.shape == (80000, 2)
    assert out[:47000].any() and not out[48000:].any()  # 3 s of audio, then zero padding
    longer = rng.uniform(-0.5, 0.5, 7 * 16000)
    np.testing.assert_array_equal(offscreen(longer, 16000, 5.0), longer[:80000].astype(np.float32))




@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 6.0, 20.0])
def test_fused_reaches_the_requested_snr_without_clipping(snr_db: float) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(80000) / 16000
    own = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    neg = rng.uniform(-1, 1, 80000).astype(np.float32)
    res = fused(own, neg, snr_db)
    assert res.samples.dtype == np.float32 and res.samples.shape == own.shape
    assert np.abs(res.samples).max() <= 1.0 and not res.own_silent
    assert not np.array_equal(res.samples, own)  # the mixture, never the original clip
    own_part = res.gain * own.astype(np.float64)
    neg_part = res.samples.astype(np.float64) - own_part
    measured = 10 * np.log10(np.mean(own_part**2) / np.mean(neg_part**2))
    assert abs(measured - snr_db) < 1e-3, measured
    np.testing.assert_allclose(neg_part, res.gain * res.neg_scale * neg, atol=1e-6)
    if snr_db <= 0:
        assert res.gain < 1.0 and np.isclose(np.abs(res.samples).max(), 1.0, atol=1e-6)
    if snr_db == 20.0:
        assert res.gain == 1.0


def test_fused_with_silent_own_audio_and_bad_inputs() -> None:
    neg = np.random.default_rng(3).uniform(-1, 1, 1000).astype(np.float32)
    res = fused(np.zeros(1000, np.float32), neg, 0.0)
    assert res.own_silent and res.neg_scale == 1.0 and res.gain == 1.0
    np.testing.assert_array_equal(res.samples, neg)
    stereo = np.stack([np.full(1000, 0.1), np.full(1000, -0.1)], axis=1)
    mixed = fused(stereo, neg, 0.0)  # mono negative added to both channels
    assert mixed.samples.shape == (1000, 2)
    with pytest.raises(ValueError):
        fused(np.ones(10) * 0.1, np.ones(11) * 0.1, 0.0)
    with pytest.raises(ValueError):
        fused(np.ones(10) * 0.1, np.zeros(10), 0.0)
    with pytest.raises(ValueError):
        fused(np.ones(10) * 0.1, np.ones(10) * 0.1, float("nan"))
