"""Deterministic weights for parity checks: every tensor drawn from one seeded numpy generator.

Why numpy and not torch's RNG: the same seed must give bit-identical weights on any torch version and
device, so a golden file made once against the original code stays valid. Tensors are drawn in
state-dict order with a scale that keeps activations O(1) through deep stacks (fan-in scaled
weights, norm gains near 1, positive running variances), so outputs are not saturated and every
formula difference shows up.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch


def seeded_array(rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One float64 tensor for parameter/buffer `name` of `shape` (the rule depends on name and rank only)."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "running_var":
        return rng.uniform(0.5, 1.5, shape)
    if leaf == "running_mean":
        return rng.normal(0.0, 0.1, shape)
    if len(shape) <= 1:
        base = 1.0 if leaf == "weight" else 0.0  # 1-D weights are norm gains
        return base + rng.normal(0.0, 0.1, shape)
    fan_in = int(np.prod(shape[1:]))
    return rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape)


def seeded_state_dict(state: Mapping[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """A float64 state dict with the keys, order and shapes of `state`; integer buffers become 1."""
    rng = np.random.default_rng(seed)
    out: dict[str, torch.Tensor] = {}
    for name, ref in state.items():
        if not ref.is_floating_point():
            out[name] = torch.ones(ref.shape, dtype=ref.dtype)
            continue
        out[name] = torch.from_numpy(seeded_array(rng, name, tuple(ref.shape)))
    return out


def seeded_inputs(seed: int, specs: Mapping[str, tuple]) -> dict[str, np.ndarray]:
    """Inputs drawn in the given order from one generator. A spec is a shape (standard normal float64),
    ("binary", shape, p) (float64 {0,1}, 1 with probability p) or ("classes", shape, k) (int64 in [0, k))."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, spec in specs.items():
        if spec and spec[0] == "binary":
            out[name] = (rng.uniform(0.0, 1.0, spec[1]) < spec[2]).astype(np.float64)
        elif spec and spec[0] == "classes":
            out[name] = rng.integers(0, spec[2], spec[1]).astype(np.int64)
        else:
            out[name] = rng.normal(0.0, 1.0, spec)
    return out


SAMPLE = 2048  # elements kept per large tensor in a golden file


def fingerprint(name: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """What a golden file keeps of tensor `x`: all of it when small, else a fixed sample of elements
    plus the mean over all but the first two axes (so every element still counts in some number)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size <= 2 * SAMPLE:
        return {name: x}
    idx = np.random.default_rng(x.size).choice(x.size, SAMPLE, replace=False)
    idx.sort()
    out = {f"{name}.sample": x.reshape(-1)[idx], f"{name}.sample_index": idx.astype(np.int64)}
    if x.ndim > 2:
        out[f"{name}.mean"] = x.reshape(x.shape[0], x.shape[1], -1).mean(-1)
    return out
