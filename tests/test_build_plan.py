"""The offscreen pairing plan (pure) and the output layout, on hand-made tables and on every synthetic subset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avsbench_robust.build.layout import check_out_outside_root, clip_outputs
from avsbench_robust.build.plan import clip_majors, plan_offscreen
from avsbench_robust.build.taxonomy import UnknownCategoryError, load_taxonomy
from avsbench_robust.data.avsbench import clip_table, load_index
from avsbench_robust.errors import DatasetLayoutError
from avsbench_robust.types import Subset

TAX = load_taxonomy()


def table(rows: list[tuple], seconds: float = 5.0) -> pd.DataFrame:
    """Clips as (split, video, category or objects tuple)."""
    recs = []
    for split, video, what in rows:
        cat, objs = (what, ()) if isinstance(what, str) else ("", tuple(what))
        recs.append({"split": split, "video": video, "category": cat, "objects": objs, "label": "", "audio_seconds": seconds})
    return pd.DataFrame(recs)


def assert_rule(clips: pd.DataFrame, subset: Subset, plan) -> None:
    """Every non-fallback pair obeys SPEC §2; every fallback really had no candidate (brute force)."""
    majors = dict(zip(zip(clips["split"], clips["video"]), clip_majors(clips, subset, TAX)))
    secs = dict(zip(zip(clips["split"], clips["video"]), clips["audio_seconds"]))
    for p in plan:
        own = majors[(p.split, p.video)]
        assert p.source_video != p.video
        assert (p.split, p.source_video) in majors  # same split
        src = majors[(p.split, p.source_video)]
        legal = [v for (s, v), m in majors.items()
                 if s == p.split and v != p.video and own and m and not (m & TAX.forbidden(own))
                 and secs[(s, v)] == secs[(p.split, p.video)]]
        if p.fallback:
            assert legal == [] and p.candidates == 0 and p.reason
        else:
            assert src and not (src & own) and not (src & TAX.forbidden(own))
            assert p.candidates == len(legal)


def test_s4_rule_and_least_suitable_contrast():
    clips = table([("test", "g1", "playing_violin"), ("test", "h1", "male_speech"), ("test", "a1", "dog_barking"),
                   ("test", "d1", "helicopter")])
    plan = {p.video: p for p in plan_offscreen(clips, Subset.S4, TAX, seed=42)}
    assert_rule(clips, Subset.S4, plan.values())
    assert plan["g1"].source_video in {"a1", "d1"}  # music: not music, not human
    assert plan["h1"].source_video in {"a1", "d1"}  # human: not human, not music
    assert plan["a1"].source_video in {"g1", "d1"}  # animal: not animal, not human
    assert plan["d1"].source_video in {"h1", "a1"}  # device: not device, not music


def test_plan_ignores_row_order_and_depends_on_seed():
    rng = np.random.default_rng(0)
    cats = ["playing_piano", "male_speech", "dog_barking", "race_car", "cat_meowing", "lawn_mowing"]
    clips = table([("test", f"v{i:02d}", cats[i % len(cats)]) for i in range(40)])
    base = plan_offscreen(clips, Subset.S4, TAX, seed=42)
    assert_rule(clips, Subset.S4, base)
    shuffled = clips.iloc[rng.permutation(len(clips))].reset_index(drop=True)
    again = {p.video: p for p in plan_offscreen(shuffled, Subset.S4, TAX, seed=42)}
    assert all(again[p.video] == p for p in base)
    other = {p.video: p.source_video for p in plan_offscreen(clips, Subset.S4, TAX, seed=7)}
    assert other != {p.video: p.source_video for p in base}


def test_splits_never_mix_and_fallback_is_flagged():
    clips = table([("test", "m1", "playing_piano"), ("test", "m2", "playing_tabla"),
                   ("val", "m3", "playing_piano"), ("val", "d3", "race_car")])
    plan = {p.video: p for p in plan_offscreen(clips, Subset.S4, TAX, seed=1)}
    assert plan["m1"].fallback and plan["m1"].source_video == "m2"  # only music in test: fallback
    assert plan["m3"].source_video == "d3" and not plan["m3"].fallback
    assert plan["d3"].fallback  # device may not take music; nothing else in val
    assert_rule(clips, Subset.S4, plan.values())


def test_multi_source_clips_and_unknown_objects():
    clips = table([("test", "a", ("man", "guitar")), ("test", "b", ("dog",)), ("test", "c", ("dog", "man")),
                   ("test", "d", ("car",)), ("test", "e", ())])
    plan = {p.video: p for p in plan_offscreen(clips, Subset.MS3, TAX, seed=3)}
    assert_rule(clips, Subset.MS3, plan.values())
    assert plan["a"].source_video in {"b", "d"}  # music+human forbid music, human
    assert plan["e"].fallback and "unknown" in plan["e"].reason
    assert all(p.source_video != "e" or p.fallback for p in plan.values())  # unknown clips are no strict candidate


def test_same_duration_pairing_for_avss():
    five = table([("test", "s1", ("guitar",)), ("test", "s2", ("dog",))])
    ten = table([("test", "l1", ("car",)), ("test", "l2", ("man",))], seconds=10.0)
    clips = pd.concat([five, ten], ignore_index=True)
    plan = {p.video: p for p in plan_offscreen(clips, Subset.AVSS, TAX, seed=0)}
    assert plan["s1"].source_video == "s2" and plan["l1"].source_video == "l2"
    assert_rule(clips, Subset.AVSS, plan.values())


def test_unknown_category_and_lonely_split_fail_clearly():
    with pytest.raises(UnknownCategoryError, match="'kazoo_solo'"):
        plan_offscreen(table([("test", "a", "kazoo_solo"), ("test", "b", "race_car")]), Subset.S4, TAX, seed=0)
    with pytest.raises(DatasetLayoutError, match="needs\\s+another clip|another clip"):
        plan_offscreen(table([("test", "a", "race_car")]), Subset.S4, TAX, seed=0)


@pytest.mark.parametrize("subset", list(Subset))
def test_rule_on_every_synthetic_subset(synth_root, subset):
    clips = clip_table(load_index(synth_root, subset, check_files=False))
    plan = plan_offscreen(clips, subset, TAX, seed=42)
    assert len(plan) == len(clips)
    assert_rule(clips, subset, plan)
    assert any(not p.fallback for p in plan)


def test_layout_mirrors_avsbench():
    s4 = clip_outputs("s4", "noise", "test", "vid_1000", "race_car")
    assert s4.wav == "Single-source/s4_data/noise/audio_wav/test/race_car/vid_1000.wav"
    assert s4.features == "Single-source/s4_data/noise/audio_log_mel/test/race_car/vid_1000.npy"
    assert s4.pkl.endswith("audio_log_mel/test/race_car/vid_1000.pkl")
    ms3 = clip_outputs("ms3", "silence", "val", "v")
    assert ms3.wav == "Multi-sources/ms3_data/silence/audio_wav/val/v.wav"
    avss = clip_outputs("avss", "offscreen", "test", "uid_3", label="v2")
    assert avss.wav == "AVSS/offscreen/v2/uid_3/audio.wav" and avss.features == "AVSS/offscreen/v2/uid_3/audio_log_mel.npy"
    with pytest.raises(DatasetLayoutError):
        clip_outputs("s4", "positive", "test", "../escape", "race_car")


def test_out_inside_root_is_refused(tmp_path: Path):
    root = tmp_path / "AVSBench"
    (root / "x").mkdir(parents=True)
    for bad in (root, root / "x" / "out"):
        with pytest.raises(DatasetLayoutError, match="inside the AVSBench root"):
            check_out_outside_root(bad, root)
    (tmp_path / "link").symlink_to(root)
    with pytest.raises(DatasetLayoutError):
        check_out_outside_root(tmp_path / "link" / "out", root)
    check_out_outside_root(tmp_path / "out", root)
