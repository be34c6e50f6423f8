"""Numerical parity with the ORIGINAL code: our models and losses against golden outputs that
scripts/make_model_goldens.py computed by running the original repositories (float64, CPU).

Weights are not stored: both sides load `seeded_state_dict(state_dict, seed)` (numpy generator, state-dict
order), so the golden files hold only seeds (cases.json) and outputs (fingerprints: small tensors whole,
large ones as a fixed element sample plus per-(frame, channel) means).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avsbench_robust.models.seeded import fingerprint, seeded_inputs, seeded_state_dict
from avsbench_robust.models.tpavi import tpavi_official

GOLDEN = Path(__file__).parent / "data" / "model_goldens"
CASES = json.loads((GOLDEN / "cases.json").read_text())["cases"]
TOL = 1e-9


def _compare(name: str, golden: np.lib.npyio.NpzFile, ours: torch.Tensor) -> float:
    """max|diff| between our tensor's fingerprint and the golden one (asserts the same layout)."""
    mine = fingerprint(name, ours.detach().numpy())
    worst = 0.0
    for key, val in mine.items():
        want = golden[key]
        assert want.shape == val.shape, key
        if key.endswith("sample_index"):
            assert np.array_equal(want, val), key
            continue
        worst = max(worst, float(np.abs(want - val).max()))
    return worst


def _case_names(model: str) -> list[str]:
    return sorted(n for n, c in CASES.items() if c["model"] == model)


@pytest.mark.parametrize("name", _case_names("tpavi"))
def test_tpavi_matches_original(name: str) -> None:
    case = CASES[name]
    net = tpavi_official(case["backbone"], case["subset"]).double().eval()
    net.load_state_dict(seeded_state_dict(net.state_dict(), case["weights_seed"]), strict=True)
    t, s = case["frames"], case["size"]
    x = seeded_inputs(case["inputs_seed"], {"frames": (t, 3, s, s), "audio": (t, 128)})
    mask = None if case["frame_mask"] is None else torch.tensor(case["frame_mask"], dtype=torch.float64)
    with torch.no_grad():
        out = net(torch.from_numpy(x["frames"]), torch.from_numpy(x["audio"]), mask)
    golden = np.load(GOLDEN / f"{name}.npz")
    diffs = {"logits": _compare("logits", golden, out.logits)}
    for i, f in enumerate(out.feature_maps):
        diffs[f"feature_map_{i}"] = _compare(f"feature_map_{i}", golden, f)
    for i, a in enumerate(out.audio_feats):
        diffs[f"audio_feat_{i}"] = _compare(f"audio_feat_{i}", golden, a)
    assert max(diffs.values()) < TOL, diffs
