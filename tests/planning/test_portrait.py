"""The street health portrait: the health index, small-cell suppression, and the aggregates over
diagnoses and yearly assessments written in each test (the test district has no histories)."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from jiayi import access
from jiayi.care.models import Assessment
from jiayi.planning import portrait
from jiayi.records.models import Condition
from jiayi.registry.choices import InstitutionKind, PlaceLevel
from jiayi.registry.models import Institution, Place, Resident

ON = date(2026, 6, 1)


def facts(**changes: object) -> portrait.AssessmentFacts:
    base: dict[str, object] = {
        "chronic_conditions": 0,
        "smoking_current": False,
        "drinking_daily": False,
        "no_exercise": False,
        "heavy_salt": False,
        "bmi": 22.0,
        "sbp": 118,
        "dbp": 76,
        "china_par_risk": 0.02,
        "diabetes_score": 10,
    }
    base.update(changes)
    return portrait.AssessmentFacts(**base)  # type: ignore[arg-type]


def test_a_healthy_assessment_scores_100_and_each_factor_costs_its_points() -> None:
    assert portrait.health_index(facts()) == 100
    assert portrait.health_index(facts(smoking_current=True)) == 90
    assert portrait.health_index(facts(bmi=25.0)) == 95
    assert portrait.health_index(facts(bmi=30.0)) == 90
    assert portrait.health_index(facts(sbp=150)) == 90
    assert portrait.health_index(facts(dbp=95)) == 90
    assert portrait.health_index(facts(china_par_risk=0.07)) == 95
    assert portrait.health_index(facts(china_par_risk=0.12)) == 90
    assert portrait.health_index(facts(diabetes_score=25)) == 95
    assert portrait.health_index(facts(chronic_conditions=5)) == 70  # capped at three conditions
    worst = facts(
        chronic_conditions=3,
        smoking_current=True,
        drinking_daily=True,
        no_exercise=True,
        heavy_salt=True,
        bmi=31.0,
        sbp=170,
        china_par_risk=0.3,
        diabetes_score=40,
    )
    assert portrait.health_index(worst) == 10  # 30 + 10 + 10 + 5 + 10 + 10 + 5 + 5 + 5 points lost
    assert (
        portrait.health_index(facts(bmi=None, sbp=None, dbp=None, china_par_risk=None, diabetes_score=None))
        == 100
    )


@pytest.mark.parametrize(
    ("index", "band"), [(0, "<60"), (59, "<60"), (60, "60-69"), (89, "80-89"), (100, "90-100")]
)
def test_index_bands(index: int, band: str) -> None:
    assert portrait.index_band(index) == band


def test_chronic_groups_follow_the_icd10_category() -> None:
    assert portrait.chronic_group("I10") == "hypertension"
    assert portrait.chronic_group("e11.9") == "diabetes"
    assert portrait.chronic_group("I63.5") == "stroke"
    assert portrait.chronic_group("C34.1") == "cancer"
    assert portrait.chronic_group("J06.9") is None


def test_small_cells_are_withheld_with_their_rates() -> None:
    assert portrait.cell(3, 100, 5) == portrait.Cell(None, "<5", None)
    assert portrait.cell(0, 100, 5) == portrait.Cell(0, "0", 0.0)
    assert portrait.cell(5, 100, 5) == portrait.Cell(5, "5", 5.0)
    # A small denominator hides the rate (and any non-zero count) too.
    assert portrait.cell(0, 3, 5) == portrait.Cell(0, "0", None)
    assert portrait.cell(3, 3, 0) == portrait.Cell(3, "3", 100.0)


def _committee_with_residents(minimum: int) -> tuple[Place, list[Resident]]:
    for committee in Place.objects.filter(level=PlaceLevel.COMMITTEE).order_by("code"):
        people = list(
            Resident.objects.filter(
                committee=committee, date_of_death__isnull=True, is_resident=True
            ).order_by("id")
        )
        if len(people) >= minimum:
            return committee, people
    pytest.fail("the test district has no committee that large")


def _diagnose(residents: list[Resident], code: str) -> None:
    centre = Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE).first()
    assert centre is not None
    for r in residents:
        Condition.objects.create(
            resident=r,
            institution=centre,
            source_system="test",
            source_id=f"{code}-{r.pk}",
            received_at=timezone.now(),
            code=code,
        )


def _assess(residents: list[Resident], year: int, **values: object) -> None:
    for r in residents:
        fields: dict[str, object] = {"exercise": "daily", "drinking": "never", "salt_intake": "medium"}
        fields.update(values)
        Assessment.objects.create(
            resident=r, year=year, performed_on=date(year, 3, 1), classification="healthy", **fields
        )


def test_the_portrait_counts_diagnoses_and_suppresses_small_numbers(db: None) -> None:
    committee, people = _committee_with_residents(40)
    sub = committee.parent
    assert sub is not None
    _diagnose(people[:12], "I10")
    _diagnose(people[12:15], "E11.9")
    committees = Place.objects.filter(level=PlaceLevel.COMMITTEE)

    exact = portrait.build_portrait(committees, threshold=0, on=ON)
    area = next(a for a in exact.areas if a.code == sub.code)
    assert area.conditions["hypertension"].count == 12
    assert area.conditions["diabetes"].count == 3
    population = Resident.objects.filter(
        committee__parent=sub, date_of_death__isnull=True, is_resident=True
    ).count()
    assert area.population.count == population
    assert area.conditions["hypertension"].rate == round(1200 / population, 1)

    suppressed = portrait.build_portrait(committees, threshold=5, on=ON)
    area = next(a for a in suppressed.areas if a.code == sub.code)
    assert area.conditions["hypertension"].display == "12"
    assert area.conditions["diabetes"] == portrait.Cell(None, "<5", None)
    ranking = suppressed.prevalence_ranking()
    assert [r[0] for r in ranking[:2]] == ["hypertension", "diabetes"]
    assert ranking[1][2].display == "<5"


def test_drilling_down_lists_the_committees_of_one_sub_district(db: None) -> None:
    committee, people = _committee_with_residents(10)
    sub = committee.parent
    assert sub is not None
    _diagnose(people[:6], "I10")
    result = portrait.build_portrait(
        Place.objects.filter(level=PlaceLevel.COMMITTEE), threshold=5, parent=sub, on=ON
    )
    assert result.level == PlaceLevel.COMMITTEE
    assert {a.code for a in result.areas} == set(
        Place.objects.filter(parent=sub).values_list("code", flat=True)
    )
    area = next(a for a in result.areas if a.code == committee.code)
    assert area.conditions["hypertension"].count == 6


def test_assessments_give_the_index_risk_and_lifestyle_columns(db: None) -> None:
    committee, people = _committee_with_residents(30)
    sub = committee.parent
    assert sub is not None
    _assess(
        people[:10],
        2025,
        smoking="current",
        bmi=29.0,
        sbp=150,
        dbp=92,
        china_par_risk=0.12,
        diabetes_score=30,
    )
    _assess(
        people[10:20], 2025, smoking="never", bmi=21.0, sbp=115, dbp=75, china_par_risk=0.03, diabetes_score=8
    )
    _assess(people[20:22], 2025, exercise="none")
    _assess(people[:5], 2024, smoking="never")  # an older year: not counted in 2025
    result = portrait.build_portrait(Place.objects.filter(level=PlaceLevel.COMMITTEE), threshold=5, on=ON)
    assert result.year == 2025
    area = next(a for a in result.areas if a.code == sub.code)
    assert area.assessed.count == 22
    assert area.risks["china_par_high"].count == 10
    assert area.risks["china_par_low"].count == 10
    assert area.risks["cdrs_high"].count == 10
    assert area.lifestyle["smoking"].count == 10
    assert area.lifestyle["overweight"].count == 10
    assert area.lifestyle["raised_bp"].count == 10
    assert area.lifestyle["no_exercise"].display == "<5"
    # 10 × (100 - 10 BP - 10 PAR - 5 CDRS - 10 BMI - 10 smoking) + 10 × 100 + 2 × (100 - 5)
    assert area.index_mean == round((10 * 55 + 10 * 100 + 2 * 95) / 22, 1)
    assert area.index_bands["<60"].count == 10
    assert area.index_bands["90-100"].count == 12
    assert area.classes["healthy"].count == 22
    older = portrait.build_portrait(
        Place.objects.filter(level=PlaceLevel.COMMITTEE), threshold=5, year=2024, on=ON
    )
    assert next(a for a in older.areas if a.code == sub.code).assessed.display == "5"


def test_a_centre_manager_sees_only_the_centres_own_areas(personas: object) -> None:
    manager = personas.manager  # type: ignore[attr-defined]
    analyst = personas.analyst  # type: ignore[attr-defined]
    own = access.planning_committees_visible_to(manager)
    everything = access.planning_committees_visible_to(analyst)
    assert 0 < own.count() < everything.count()
    centre = access.centre_of(manager.account)
    assert set(own.values_list("responsible_centre", flat=True)) == {centre.pk if centre else None}
    result = portrait.build_portrait(own, threshold=access.small_cell_threshold(manager), on=ON)
    assert {a.code for a in result.areas} == set(own.values_list("parent__code", flat=True))
    for other in ("doctor", "nurse", "desk", "cdc", "admin", "resident"):
        assert not access.planning_committees_visible_to(getattr(personas, other)).exists()
