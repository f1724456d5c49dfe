"""Recommendations from a resident's profile: conditions, risks, age band, sex and the care plan."""

from __future__ import annotations

from jiayi.education import recommend as rec
from jiayi.education.library import LIBRARY

HTN = rec.Tags(1, "hypertension", icd10_prefixes=("I10", "I11"), risk_tags=("high_bp",))
FALLS = rec.Tags(2, "falls", risk_tags=("fall_risk",), min_age=65)
DIET = rec.Tags(3, "diet")
PRENATAL = rec.Tags(4, "maternal", icd10_prefixes=("Z34",), min_age=18, max_age=49, sex="female")
CHILD = rec.Tags(5, "vaccination", max_age=6)
ALL = [HTN, FALLS, DIET, PRENATAL, CHILD]


def _ids(profile: rec.Profile, **kwargs: object) -> list[int]:
    return [r.article_id for r in rec.recommend(profile, ALL, **kwargs)]  # type: ignore[arg-type]


def test_a_diagnosis_brings_its_articles_first() -> None:
    profile = rec.Profile(age=58, sex="male", conditions=frozenset({"I10"}))
    ranked = rec.recommend(profile, ALL)
    assert ranked[0].article_id == HTN.article_id
    assert ranked[0].reasons == ("condition:I10",)
    assert [r.article_id for r in ranked] == [1, 3]


def test_a_raised_reading_counts_before_any_diagnosis() -> None:
    risks = rec.risks_from(age=50, conditions=(), sbp=152, dbp=88)
    assert risks == frozenset({"high_bp"})
    assert 1 in _ids(rec.Profile(age=50, sex="female", risks=risks))
    assert 1 not in _ids(rec.Profile(age=50, sex="female"))


def test_age_bands_and_sex_exclude_articles_written_for_others() -> None:
    assert _ids(rec.Profile(age=3, sex="male")) == [5, 3]
    assert 4 not in _ids(rec.Profile(age=30, sex="male", conditions=frozenset({"Z34.0"})))
    assert 4 in _ids(rec.Profile(age=30, sex="female", conditions=frozenset({"Z34.0"})))
    assert 4 not in _ids(rec.Profile(age=52, sex="female", conditions=frozenset({"Z34.0"})))


def test_fall_risk_comes_with_great_age_or_a_past_fall() -> None:
    assert "fall_risk" in rec.risks_from(age=78, conditions=())
    assert "fall_risk" not in rec.risks_from(age=68, conditions=())
    assert "fall_risk" in rec.risks_from(age=68, conditions=("S72.0",))
    assert 2 in _ids(rec.Profile(age=80, sex="female", risks=rec.risks_from(age=80, conditions=())))


def test_the_care_plan_topics_rank_highest() -> None:
    profile = rec.Profile(age=70, sex="male", plan_codes=frozenset({"education:falls"}))
    ranked = rec.recommend(profile, ALL)
    assert ranked[0].article_id == FALLS.article_id
    assert "plan" in ranked[0].reasons


def test_read_articles_go_last_and_the_limit_holds() -> None:
    profile = rec.Profile(age=58, sex="male", conditions=frozenset({"I10"}))
    assert _ids(profile, read=[1]) == [3, 1]
    assert _ids(profile, limit=1) == [1]


def test_the_library_is_tagged_sensibly() -> None:
    slugs = [entry.slug for entry in LIBRARY]
    assert len(slugs) == len(set(slugs)) >= 20
    for entry in LIBRARY:
        assert entry.source, entry.slug
        assert len(entry.body.split("\n\n")) >= 2, entry.slug
        assert entry.min_age is None or entry.max_age is None or entry.min_age <= entry.max_age
        assert all(p[:1].isalpha() and p == p.upper() for p in entry.icd10_prefixes), entry.slug
    topics = {entry.topic for entry in LIBRARY}
    assert {"hypertension", "diabetes", "falls", "vaccination", "smoking", "diet", "exercise"} <= topics
    assert {"mental_health", "child_care"} <= topics
