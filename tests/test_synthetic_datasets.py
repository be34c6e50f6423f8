"""Reference entries scored on a synthetic tree other than the embedded default name it in `dataset`
(synthetic-seedS-videosN), and `ci` regenerates exactly that tree to re-score them."""
from __future__ import annotations

from pathlib import Path

import pytest

from avsbench_robust.board.reference import synthetic_dataset_of
from avsbench_robust.data import default
from avsbench_robust.errors import InputFileError
from avsbench_robust.schemas import load_schema


def test_names_and_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default.synthetic_dataset_name(0, 8) == "synthetic"
    assert default.synthetic_dataset_name(1, 40) == "synthetic-seed1-videos40"
    assert default.dataset_root("avsbench") is None and default.dataset_root("synthetic-seed1") is None
    calls = []
    monkeypatch.setattr(default, "synthetic_root", lambda *a, **k: calls.append(a) or tmp_path)
    assert default.dataset_root("synthetic-seed3-videos2") == tmp_path and calls == [(3, 2)]
    assert default.dataset_root("synthetic") == tmp_path and calls[-1] == ()


def test_generated_tree_names_itself(synth_root: Path, tmp_path: Path) -> None:
    assert synthetic_dataset_of(synth_root) == "synthetic-seed0-videos2"
    with pytest.raises(InputFileError, match="SYNTHETIC.json"):
        synthetic_dataset_of(tmp_path)


def test_schema_accepts_only_those_names() -> None:
    import jsonschema

    spec = load_schema("submission.schema.json")["properties"]["dataset"]
    for ok in ("avsbench", "synthetic", "synthetic-seed1-videos40"):
        jsonschema.validate(ok, spec)
    for bad in ("synthetic-seed1", "synthetic-seed1-videos40x", "../synthetic", "Synthetic"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, spec)
