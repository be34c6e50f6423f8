"""The taxonomy data file: schema, completeness against the class lists, SPEC §2 facts, clear errors."""
from __future__ import annotations

import json

import pytest

from avsbench_robust.build.recipe import load_recipe, parse_recipe
from avsbench_robust.build.taxonomy import (
    BUILDERS_ENV,
    UnknownCategoryError,
    builders_dir,
    load_taxonomy,
    parse_taxonomy,
)
from avsbench_robust.data.classes import AVSS_CLASSES, MS3_OBJECTS, S4_CATEGORIES, S4_CATEGORY_TO_AVSS
from avsbench_robust.errors import InputFileError, ValidationError
from avsbench_robust.types import Condition, Subset


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads((builders_dir() / "taxonomy.json").read_text())


def test_shipped_taxonomy_loads_and_covers_every_name():
    tax = load_taxonomy()
    assert set(tax.names[Subset.S4]) == set(S4_CATEGORIES)
    assert set(tax.names[Subset.MS3]) == set(MS3_OBJECTS)
    assert set(tax.names[Subset.AVSS]) == set(AVSS_CLASSES)
    assert len([c for c in tax.names[Subset.AVSS] if c != "background"]) == 70


def test_spec_major_categories_and_contrasts():
    tax = load_taxonomy()
    assert tax.least_suitable == {"music": "human", "human": "music", "animal": "human", "device": "music"}
    s4 = tax.names[Subset.S4]
    assert {c for c, m in s4.items() if m == "music"} == {c for c in S4_CATEGORIES if c.startswith("playing_")}
    assert {c for c, m in s4.items() if m == "human"} == {"baby_laughter", "female_singing", "male_speech"}
    assert {c for c, m in s4.items() if m == "animal"} == {
        "dog_barking", "cat_meowing", "coyote_howling", "horse_clip-clop", "lions_roaring", "mynah_bird_singing"}
    ms3 = tax.names[Subset.MS3]
    assert {o for o, m in ms3.items() if m == "human"} == {"man", "woman", "baby"}
    assert {o for o, m in ms3.items() if m == "animal"} == {"dog", "cat", "lion", "bird", "wolf"}
    assert ms3["background"] == "device" and ms3["emergency-car"] == "device"


def test_subsets_agree_on_shared_names():
    """An S4 category, its AVSS class and the MS3 object of the same name land in the same major category."""
    tax = load_taxonomy()
    for cat, cls in S4_CATEGORY_TO_AVSS.items():
        assert tax.names[Subset.S4][cat] == tax.names[Subset.AVSS][cls], cat
    for obj in MS3_OBJECTS:
        assert tax.names[Subset.MS3][obj] == tax.names[Subset.AVSS][obj], obj


def test_forbidden_is_own_majors_plus_contrasts():
    tax = load_taxonomy()
    assert tax.forbidden({"music"}) == {"music", "human"}
    assert tax.forbidden({"animal"}) == {"animal", "human"}
    assert tax.forbidden({"device", "human"}) == {"device", "music", "human"}


def test_unknown_category_names_it():
    with pytest.raises(UnknownCategoryError, match="'kazoo'"):
        load_taxonomy().majors_of(Subset.AVSS, ["guitar", "kazoo"], source="clip 'x'")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["s4"].pop("helicopter"), "does not map"),
    (lambda d: d["avss"].__setitem__("guitar", "noise"), "not a major category"),
    (lambda d: d["least_suitable"].pop("music"), "least_suitable"),
    (lambda d: d.pop("ms3"), "ms3"),
])
def test_broken_taxonomy_is_rejected(doc, mutate, message):
    bad = json.loads(json.dumps(doc))
    mutate(bad)
    with pytest.raises(ValidationError, match=message):
        parse_taxonomy(bad, "taxonomy.json")


def test_missing_builders_folder_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv(BUILDERS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(InputFileError, match="AVSB_ROBUST_BUILDERS"):
        load_taxonomy()


@pytest.mark.parametrize("subset", list(Subset))
def test_recipes_load(subset):
    r = load_recipe(subset)
    assert r.subset is subset
    assert r.wav[Condition.NOISE].sample_rate == 44100 and r.wav[Condition.NOISE].subtype == "FLOAT"
    assert r.fused_snr_db == 0.0 and r.fused_negative is Condition.NOISE
    assert (r.clip.seconds, r.clip.examples, r.clip.pad) == (5.0, 5, "repeat")
    if subset is Subset.AVSS:
        v2 = r.clip_spec("v2")
        assert (v2.seconds, v2.examples, v2.pad) == (10.0, 10, "zero")


def test_recipe_overrides_are_canonical_and_validated():
    r = load_recipe("s4", conditions=["noise", "positive", "noise"], fused_snr_db=-5, fused_negative="offscreen")
    assert r.conditions == (Condition.POSITIVE, Condition.NOISE)
    assert r.fused_snr_db == -5.0 and r.fused_negative is Condition.OFFSCREEN
    doc = json.loads((builders_dir() / "recipes" / "s4.json").read_text())
    doc["wav"]["positive"]["sample_rate"] = 44100
    with pytest.raises(ValidationError, match="wav.positive must be .*'source'"):
        parse_recipe(doc)
    doc["wav"]["positive"]["sample_rate"] = "source"
    doc["wav"]["silence"]["sample_rate"] = "source"
    with pytest.raises(ValidationError, match="wav.silence.sample_rate must be 16000"):
        parse_recipe(doc)
    doc = json.loads((builders_dir() / "recipes" / "s4.json").read_text())
    doc["clip"]["examples"] = 6
    with pytest.raises(ValidationError, match="do not fit"):
        parse_recipe(doc)
