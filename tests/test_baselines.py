"""Sanity baselines: written as prediction folders, scored through the whole path, expected numbers."""
from __future__ import annotations

import numpy as np
import pytest

from avsbench_robust.baselines import Baseline, write_baselines
from avsbench_robust.cli import main
from avsbench_robust.data.avsbench import load_index, read_mask
from avsbench_robust.errors import InputFileError
from avsbench_robust.scoring import score
from avsbench_robust.types import Subset


@pytest.fixture(scope="module")
def s4_baselines(synth_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("baselines")
    index = load_index(synth_root, Subset.S4, "test")
    folders = write_baselines(index, Subset.S4, out)
    areas = np.array([read_mask(p, Subset.S4).mean() for p in index["mask_path"]])
    results = {b: score(f, Subset.S4, synth_root, workers=1).to_dict() for b, f in folders.items()}
    return results, areas


def _artefact(areas: np.ndarray) -> float:
    """F of an empty prediction: at threshold 0 every pixel is foreground (SPEC §3)."""
    a = areas[areas > 0]
    return float(np.mean(1.3 * a / (0.3 * a + 1)))


def test_visual_prior_oracle(s4_baselines):
    res, areas = s4_baselines
    doc = res[Baseline.VISUAL_PRIOR]
    for cond in ("positive", "silence", "noise", "offscreen"):
        m = doc["conditions"][cond]
        assert m["miou"] == pytest.approx(1.0, abs=1e-6) and m["f_score"] == pytest.approx(1.0, abs=1e-6)
        assert m["fpr"] == pytest.approx(areas.mean(), abs=1e-9)
    assert doc["global"]["g_miou"] == pytest.approx(0.0, abs=1e-6)
    assert doc["global"]["g_fpr"] == pytest.approx(areas.mean(), abs=1e-9)


def test_av_oracle(s4_baselines):
    res, areas = s4_baselines
    doc = res[Baseline.AV_ORACLE]
    assert doc["conditions"]["positive"]["miou"] == pytest.approx(1.0, abs=1e-6)
    assert doc["global"]["g_miou"] == pytest.approx(1.0, abs=1e-6)
    assert doc["global"]["g_fpr"] == 0.0
    f_neg = _artefact(areas)
    assert doc["negative"]["f_score"] == pytest.approx(f_neg, abs=1e-6)
    assert doc["global"]["g_f"] == pytest.approx(2 * (1 - f_neg) / (2 - f_neg), abs=1e-6)


def test_empty(s4_baselines):
    res, areas = s4_baselines
    doc = res[Baseline.EMPTY]
    for m in doc["conditions"].values():
        assert m["fpr"] == 0.0 and m["miou"] == pytest.approx(0.0, abs=1e-6)
        assert m["f_score"] == pytest.approx(_artefact(areas), abs=1e-6)  # the threshold-0 artefact, not 0
    assert doc["global"]["g_fpr"] == 0.0


def test_avss_av_oracle_and_existing_folder_refused(synth_root, tmp_path):
    index = load_index(synth_root, Subset.AVSS, "test")
    folders = write_baselines(index, Subset.AVSS, tmp_path, [Baseline.AV_ORACLE])
    doc = score(folders[Baseline.AV_ORACLE], Subset.AVSS, synth_root, workers=1).to_dict()
    assert doc["global"]["g_fpr"] == 0.0
    positive = doc["breakdown"]["conditions"]["positive"]
    assert all(v["miou"] == pytest.approx(1.0) for v in positive.values())
    with pytest.raises(InputFileError, match="already exists"):
        write_baselines(index, Subset.AVSS, tmp_path, [Baseline.AV_ORACLE])


def test_baselines_command(synth_root, tmp_path, capsys):
    main(["baselines", str(tmp_path / "b"), "--subset", "ms3", "--root", str(synth_root), "--which", "av-oracle",
          "--which", "empty", "--format", "markdown", "--workers", "1"])
    out = capsys.readouterr().out
    assert "| av-oracle" in out and "| empty" in out
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["av-oracle", "empty"]
    assert sorted(p.name for p in (tmp_path / "b" / "empty").iterdir()) == ["noise", "offscreen", "positive", "silence"]
