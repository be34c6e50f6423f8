"""The reproduction driver's pure parts: variant options and the bootstrap over videos."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reproduce_reference.py"
spec = importlib.util.spec_from_file_location("reproduce_reference", SCRIPT)
driver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(driver)


def _table(iou: list[float], fpr: list[float]) -> dict[str, np.ndarray]:
    n = len(iou)
    return {"frames": np.full(n, 5.0), "nonempty": np.full(n, 5.0), "iou_sum": 5 * np.array(iou),
            "fpr_sum": 5 * np.array(fpr), "f_sum": np.tile(5 * np.array(iou)[:, None], (1, 255))}


def test_variants_follow_the_authors_and_ours() -> None:
    assert driver.variant_args("negatives", "s4")[:2] == ["--neg-ratio", "0.1"]
    assert driver.variant_args("cgsl", "ms3")[:2] == ["--neg-ratio", "0.2"]
    assert "authors" in driver.variant_args("cgsl", "s4") and "--cgsl" in driver.variant_args("cgsl", "s4")
    ours = driver.variant_args("cgsl-ours", "s4")
    assert "noise" in ours[ours.index("--neg-conditions") + 1] and "ours" in ours
    assert driver.variant_args("baseline", "s4") == ["--neg-ratio", "0"]


def test_bootstrap_intervals_cover_the_estimate_and_shrink_to_a_point() -> None:
    rng = np.random.default_rng(0)
    iou = rng.uniform(0.2, 0.8, 30).tolist()
    tables = {"positive": _table(iou, [0.01] * 30), "silence": _table([0.0] * 30, rng.uniform(0, 0.2, 30).tolist()),
              "noise": _table([0.0] * 30, [0.05] * 30), "offscreen": _table([0.1] * 30, [0.1] * 30)}
    ci = driver.bootstrap_intervals(tables, resamples=300)
    lo, hi = ci["positive_miou"]
    assert lo < float(np.mean(iou)) < hi and hi - lo < 0.3
    assert ci["noise_fpr"] == pytest.approx((0.05, 0.05))  # every video alike: no spread
    assert ci == driver.bootstrap_intervals(tables, resamples=300)  # seeded
    assert set(ci) == set(driver.HEADLINE)
