"""Pure plan helpers: the plan by class, the BP stratification's risk factors, quarters and the
quarterly contact status."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from jiayi.care import plan
from jiayi.care.risk import AssessmentClass

DAY = date(2026, 3, 2)


def _inputs(**changes: Any) -> plan.PlanInputs:
    values: dict[str, Any] = {
        "performed_on": DAY,
        "age": 50,
        "classification": AssessmentClass.HEALTHY,
        "smoker": False,
        "drinks_daily": False,
        "exercises_rarely": False,
        "salt_heavy": False,
        "bmi": 22.0,
        "sbp": 120,
        "fasting_glucose_mmol": 5.0,
        "total_cholesterol_mmol": 4.5,
        "diabetes_score": 10,
        "china_par_risk": 0.02,
        "has_hypertension": False,
        "has_diabetes": False,
    }
    return plan.PlanInputs(**{**values, **changes})


@pytest.mark.parametrize(
    ("cls", "code", "days"),
    [
        (AssessmentClass.HEALTHY, "follow_up:yearly", 365),
        (AssessmentClass.HIGH_RISK, "follow_up:high_risk", 182),
        (AssessmentClass.PATIENT, "follow_up:programme", 90),
        (AssessmentClass.RECOVERING, "follow_up:recovery", 30),
    ],
)
def test_the_follow_up_schedule_follows_the_class(cls: AssessmentClass, code: str, days: int) -> None:
    entries = plan.build_plan(_inputs(classification=cls))

    follow_ups = [e for e in entries if e.kind == "follow_up"]
    assert [(e.code, e.due_on) for e in follow_ups] == [(code, DAY + timedelta(days=days))]


def test_a_healthy_adult_gets_a_general_topic_and_no_goals() -> None:
    entries = plan.build_plan(_inputs())

    assert {e.kind for e in entries} == {"follow_up", "education_topic"}
    assert [e.code for e in entries if e.kind == "education_topic"] == ["education:healthy_lifestyle"]


@pytest.mark.parametrize(("score", "ogtt"), [(24, False), (25, True)])
def test_an_ogtt_is_planned_from_a_score_of_25(score: int, ogtt: bool) -> None:
    codes = {e.code for e in plan.build_plan(_inputs(diabetes_score=score))}

    assert ("screening:ogtt" in codes) is ogtt


@pytest.mark.parametrize(("glucose", "repeat"), [(6.0, False), (6.1, True), (6.9, True), (7.0, False)])
def test_impaired_fasting_glucose_is_rechecked(glucose: float, repeat: bool) -> None:
    codes = {e.code for e in plan.build_plan(_inputs(fasting_glucose_mmol=glucose))}

    assert ("screening:glucose_repeat" in codes) is repeat


def test_missing_measurements_and_the_65th_year_add_screenings() -> None:
    codes = {e.code for e in plan.build_plan(_inputs(sbp=None, fasting_glucose_mmol=None, age=65))}

    assert {"screening:bp", "screening:glucose", "screening:elderly_exam", "education:falls"} <= codes


@pytest.mark.parametrize(
    ("changes", "count"),
    [
        ({}, 0),
        ({"sex": "male", "age": 56}, 1),
        ({"sex": "male", "age": 55}, 0),
        ({"sex": "female", "age": 65}, 0),
        ({"sex": "female", "age": 66}, 1),
        ({"total_cholesterol_mmol": 5.2}, 1),
        ({"hdl_mmol": 0.99}, 1),
        ({"fasting_glucose_mmol": 6.1}, 1),
        ({"fasting_glucose_mmol": 7.0}, 0),
        ({"waist_cm": 90.0}, 1),
        ({"sex": "female", "waist_cm": 85.0}, 1),
        ({"bmi": 28.0}, 1),
        ({"smoker": True, "family_history_ascvd": True, "bmi": 30.0, "hdl_mmol": 0.8}, 4),
    ],
)
def test_risk_factors_are_counted_at_their_cuts(changes: dict[str, Any], count: int) -> None:
    values: dict[str, Any] = {
        "sex": "male",
        "age": 40,
        "smoker": False,
        "total_cholesterol_mmol": 4.0,
        "hdl_mmol": 1.3,
        "fasting_glucose_mmol": 5.0,
        "waist_cm": 80.0,
        "bmi": 22.0,
        "family_history_ascvd": False,
    }

    assert plan.hypertension_risk_factor_count(**{**values, **changes}) == count


@pytest.mark.parametrize(
    ("day", "quarter", "bounds"),
    [
        (date(2026, 1, 1), (2026, 1), (date(2026, 1, 1), date(2026, 3, 31))),
        (date(2026, 6, 30), (2026, 2), (date(2026, 4, 1), date(2026, 6, 30))),
        (date(2024, 12, 31), (2024, 4), (date(2024, 10, 1), date(2024, 12, 31))),
    ],
)
def test_quarters(day: date, quarter: tuple[int, int], bounds: tuple[date, date]) -> None:
    assert plan.quarter_of(day) == quarter
    assert plan.quarter_bounds(*quarter) == bounds


def test_a_quarter_outside_1_to_4_is_refused() -> None:
    with pytest.raises(ValueError, match="quarter must be between 1 and 4"):
        plan.quarter_bounds(2026, 5)


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        ([], "none"),
        (["unreachable"], "tried"),
        (["unreachable", "reached"], "reached"),
        (["reached"], "reached"),
    ],
)
def test_quarter_contact_status(outcomes: list[str], status: str) -> None:
    assert plan.quarter_contact_status(outcomes) == status
