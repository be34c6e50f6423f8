"""Model inputs: features read from a build output equal the on-the-fly ones bit for bit (one pipeline),
bad feature files are named, and clip arrays follow the supervision rules (S4 frame 1, empty negatives)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avsbench_robust.data.avsbench import load_index
from avsbench_robust.errors import InputFileError
from avsbench_robust.models.inputs import FeatureSource, clip_arrays, clips_from_index

CONDITIONS = ("positive", "silence", "noise", "offscreen")


@pytest.fixture(scope="module")
def s4_build(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from avsbench_robust.build.run import build

    out = tmp_path_factory.mktemp("build") / "s4"
    build("s4", root=synth_root, out=out, split=["train", "test"], seed=42)
    return out


def test_build_features_equal_on_the_fly(synth_root: Path, s4_build: Path) -> None:
    clips = [c for c in clips_from_index(load_index(synth_root, "s4")) if c.split in ("train", "test")]
    built, fly = FeatureSource("s4", clips, s4_build), FeatureSource("s4", clips)
    for clip in clips[:3]:
        arrays = [built.features(clip, cond) for cond in CONDITIONS]
        for cond, arr in zip(CONDITIONS, arrays):
            assert arr.shape == (5, 1, 96, 64)
            np.testing.assert_array_equal(arr, fly.features(clip, cond))
        assert not np.array_equal(arrays[0], arrays[1])  # conditions really differ


def test_bad_feature_file_is_named(synth_root: Path, s4_build: Path, tmp_path: Path) -> None:
    import shutil

    from avsbench_robust.build.layout import clip_outputs

    copy = tmp_path / "out"
    shutil.copytree(s4_build, copy)
    clips = [c for c in clips_from_index(load_index(synth_root, "s4")) if c.split == "test"]
    rel = clip_outputs("s4", "silence", "test", clips[0].video, clips[0].category).features
    np.save(copy / rel, np.zeros((5, 96, 64), dtype=np.float32))
    with pytest.raises(InputFileError, match=r"\[n,1,96,64\]") as err:
        FeatureSource("s4", clips, copy).features(clips[0], "silence")
    assert clips[0].video in str(err.value)
    (copy / rel).unlink()
    with pytest.raises(InputFileError, match="missing"):
        FeatureSource("s4", clips, copy).features(clips[0], "silence")


def test_clip_arrays_supervision(synth_root: Path) -> None:
    clips = clips_from_index(load_index(synth_root, "s4"))
    train = next(c for c in clips if c.split == "train")
    src = FeatureSource("s4", clips)
    pos = clip_arrays(train, "positive", src, 5, 32)
    neg = clip_arrays(train, "offscreen", src, 5, 32)
    assert pos["valid"].tolist() == [1, 0, 0, 0, 0]  # S4 train: only frame 1 is annotated
    assert pos["gt"][0].sum() > 0 and neg["gt"].sum() == 0 and neg["positive"].sum() == 0
    scored = clip_arrays(train, "offscreen", src, 5, 32, original_gt=True)
    np.testing.assert_array_equal(scored["gt"], pos["gt"])  # negatives are scored against the clip's GT
    avss = next(c for c in clips_from_index(load_index(synth_root, "avss")) if c.label == "v1s")
    arr = clip_arrays(avss, "positive", FeatureSource("avss", [avss]), 10, 32)
    assert arr["frame_mask"].tolist() == [1] * 5 + [0] * 5 and arr["gt"].dtype == np.int64
