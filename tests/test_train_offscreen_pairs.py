"""Off-screen training negatives are what CGSL needs them to be (issue 5, off-screen investigation):
the clip's audio replaced by its planned partner's own audio, partner from the same split and another
category, fed with an empty GT and CGSL label 0. Guards the inputs against silent drift, since the
reproduction's CGSL does not separate off-screen pairs and the inputs were the first suspect."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from avsbench_robust.data.avsbench import load_index
from avsbench_robust.models.inputs import FeatureSource, clip_arrays, clips_from_index
from avsbench_robust.train import epoch_plan
from avsbench_robust.types import Condition, Split


def test_offscreen_features_are_the_partners_positive_features(synth_root: Path) -> None:
    clips = clips_from_index(load_index(synth_root, "s4"))
    src = FeatureSource("s4", clips)
    by_key = {(c.split, c.video): c for c in clips}
    pairs = src._pairing()
    train = [c for c in clips if c.split == Split.TRAIN.value]
    assert len(train) >= 2
    for clip in train:
        partner = by_key[(clip.split, pairs[(clip.split, clip.video)])]
        assert partner.split == clip.split and partner.video != clip.video
        assert partner.category != clip.category
        off = src.features(clip, Condition.OFFSCREEN)
        np.testing.assert_array_equal(off, src.features(partner, Condition.POSITIVE))
        assert not np.array_equal(off, src.features(clip, Condition.POSITIVE))
        arr = clip_arrays(clip, Condition.OFFSCREEN, src, 5, 32)
        assert arr["positive"].tolist() == [0.0] * 5 and arr["gt"].sum() == 0


def test_epoch_plan_gives_each_listed_condition_its_share() -> None:
    # a condition listed twice gets twice the clips: the "more off-screen negatives" lever is real
    plan = epoch_plan(48, 0.25, ("offscreen", "offscreen", "silence", "noise"), seed=0, epoch=3)
    conds = [c for _, c in plan]
    assert conds.count("offscreen") == 6 and conds.count("silence") == 3 and conds.count("noise") == 3
    assert sorted(i for i, _ in plan) == list(range(48))
