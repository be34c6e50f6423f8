"""The reproduction driver's pure parts: variant options, the target, entry labels and intervals."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reproduce_reference.py"
spec = importlib.util.spec_from_file_location("reproduce_reference", SCRIPT)
driver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(driver)


def test_variants_follow_the_authors_and_ours() -> None:
    assert driver.variant_args("negatives", "s4")[:2] == ["--neg-ratio", "0.1"]
    assert driver.variant_args("cgsl", "ms3")[:2] == ["--neg-ratio", "0.2"]
    assert "authors" in driver.variant_args("cgsl", "s4") and "--cgsl" in driver.variant_args("cgsl", "s4")
    ours = driver.variant_args("cgsl-ours", "s4")
    assert "noise" in ours[ours.index("--neg-conditions") + 1] and "ours" in ours
    assert driver.variant_args("baseline", "s4") == ["--neg-ratio", "0"]


def test_in_batch_pairs_only_where_clips_name_their_source() -> None:
    assert driver.variant_args("cgsl-ours", "s4")[-2:] == ["--cgsl-pairs", "batch"]
    assert "--cgsl-pairs" not in driver.variant_args("cgsl-ours", "ms3")
    assert driver.small_overrides("tpavi", "ms3") == ["--lambda-avm", "0"]
    assert driver.small_overrides("avsegformer", "ms3") == [] == driver.small_overrides("tpavi", "s4")


def test_target_criteria() -> None:
    base = {"positive_miou": 0.6, "silence_fpr": 0.1, "noise_fpr": 0.1, "offscreen_fpr": 0.1, "g_miou": 0.5,
            "g_f": 0.5, "g_fpr": 0.1}
    good = base | {"positive_miou": 0.55, "silence_fpr": 0.0, "noise_fpr": 0.05, "offscreen_fpr": 0.02,
                   "g_miou": 0.7, "g_fpr": 0.02}
    assert all(driver.target(base, good).values())
    met = driver.target(base, good | {"offscreen_fpr": 0.051, "positive_miou": 0.53})
    assert not met["offscreen fpr halved"] and not met["positive miou kept (>= 90%)"]
    assert sum(met.values()) == len(met) - 2
    same = driver.target(base, base)  # equal to the baseline: only "kept" holds
    assert [k for k, ok in same.items() if ok] == ["positive miou kept (>= 90%)"]


def test_entry_labels_fit_the_schema() -> None:
    import json

    schema = json.loads((SCRIPT.parents[1] / "avsbench_robust" / "schemas" / "submission.schema.json").read_text())
    assert driver.LABEL_MAX == schema["properties"]["variant"]["maxLength"]
    for v in driver.VARIANTS:
        for s in ("s4", "ms3"):
            assert len(driver.entry_label(v, s, 0.45)) <= driver.LABEL_MAX
    assert "in-batch" in driver.entry_label("cgsl-ours", "s4") and "in-batch" not in driver.entry_label("cgsl-ours", "ms3")
    driver.VARIANTS["long"] = "x" * 81
    try:
        with pytest.raises(ValueError, match="over 80"):
            driver.entry_label("long", "s4")
    finally:
        del driver.VARIANTS["long"]


def test_intervals_read_what_score_stores() -> None:
    doc = {"intervals": {"conditions": {c: {"miou": [0.1, 0.2], "fpr": [0.3, 0.4], "f_score": [0, 1]}
                                        for c in ("positive", "silence", "noise", "offscreen")},
                         "global": {"g_miou": [0.5, 0.6], "g_f": [0.5, 0.7], "g_fpr": [0.0, 0.1]}}}
    got = driver.intervals(doc)
    assert set(got) == set(driver.HEADLINE)
    assert got["positive_miou"] == (0.1, 0.2) and got["silence_fpr"] == (0.3, 0.4) and got["g_f"] == (0.5, 0.7)
