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


@pytest.mark.parametrize("name", _case_names("avsegformer"))
def test_avsegformer_matches_original(name: str) -> None:
    from avsbench_robust.models.avsegformer import avsegformer_model

    case = CASES[name]
    net = avsegformer_model(case["backbone"], case["subset"]).double().eval()
    net.load_state_dict(seeded_state_dict(net.state_dict(), case["weights_seed"]), strict=True)
    t, s = case["frames"], case["size"]
    x = seeded_inputs(case["inputs_seed"], {"frames": (t, 3, s, s), "audio": (t, 1, 96, 64)})
    mask = None if case["frame_mask"] is None else torch.tensor(case["frame_mask"], dtype=torch.float64)
    with torch.no_grad():
        out = net(torch.from_numpy(x["frames"]), torch.from_numpy(x["audio"]), mask)
    golden = np.load(GOLDEN / f"{name}.npz")
    diffs = {"logits": _compare("logits", golden, out.logits),
             "mask_feature": _compare("mask_feature", golden, out.extra["mask_feature"])}
    assert max(diffs.values()) < TOL, diffs


# ----- training losses: our train.py's call vs the original train.py's, on the same seeded batch -----
LOSSES = json.loads((GOLDEN / "losses.json").read_text())
LOSS_N, LOSS_T, LOSS_S, LOSS_C, LOSS_K = 10, 5, 16, 16, 71  # as scripts/make_model_goldens.py
STAGE_SIZES = (16, 8, 4, 2)


def _loss_batch(case: dict) -> dict[str, torch.Tensor]:
    """The script's seeded batch: 2 clips x 5 frames; clip 2 empty-GT in *_negative; AVSS padding zeroed."""
    k = LOSS_K if case["subset"] == "avss" else 1
    specs: dict[str, tuple] = {"logits": (LOSS_N, k, LOSS_S, LOSS_S), "mask_feature": (LOSS_N, LOSS_C, 4, 4)}
    for i, s in enumerate(STAGE_SIZES):
        specs[f"v_map_{i}"] = (LOSS_N, LOSS_C, s, s)
        specs[f"a_fea_{i}"] = (LOSS_N // LOSS_T, LOSS_T, LOSS_C)
    specs["gt"] = (("classes", (LOSS_N, LOSS_S, LOSS_S), LOSS_K) if case["subset"] == "avss"
                   else ("binary", (LOSS_N, 1, LOSS_S, LOSS_S), 0.4))
    x = {key: torch.from_numpy(v) for key, v in seeded_inputs(case["inputs_seed"], specs).items()}
    if case["negative"]:
        x["gt"][LOSS_T:] = 0
    if case["frame_mask"] is not None:
        m = torch.tensor(case["frame_mask"], dtype=torch.float64)
        for key in ["logits", "mask_feature", "gt"] + [f"v_map_{i}" for i in range(4)]:
            x[key] = x[key] * m.view(-1, *([1] * (x[key].dim() - 1))).to(x[key].dtype)
    return x


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_training_loss_matches_original(name: str) -> None:
    """`total_loss` with the default TrainConfig of (model, subset), called as our train.py calls it."""
    from avsbench_robust.models.configs import model_config, train_config
    from avsbench_robust.models.losses import total_loss
    from avsbench_robust.models.tpavi import AVSOutput

    case = CASES[name]
    x = _loss_batch(case)
    mcfg = model_config(case["loss_of"], "pvt_v2_b5", case["subset"])
    out = AVSOutput(logits=x["logits"], feature_maps=[x[f"v_map_{i}"] for i in range(4)],
                    audio_feats=[x[f"a_fea_{i}"] for i in range(4)],
                    extra={"mix_logits": x["mask_feature"].mean(1, keepdim=True)})
    valid = torch.ones(LOSS_N, dtype=torch.float64)
    if case["subset"] == "s4":  # S4 trains on the first frame's GT only
        valid = torch.zeros(LOSS_N, dtype=torch.float64)
        valid[0::LOSS_T] = 1
    fmask = None if case["frame_mask"] is None else torch.tensor(case["frame_mask"], dtype=torch.float64)
    if fmask is not None:
        valid = valid * fmask
    positive = torch.ones(LOSS_N, dtype=torch.float64)
    if case["negative"]:
        positive[LOSS_T:] = 0
    _, parts = total_loss(mcfg, train_config(mcfg), out, x["gt"], valid, positive, fmask)
    want = LOSSES[name]
    for key in ("total", "seg", "mix", "avm"):
        if key in want:
            assert abs(parts[key] - want[key]) < TOL, (key, parts[key], want[key])
    assert set(parts) - {"total"} == set(want) - {"total", "original_total_all_frames"}
