"""Follow-up rules of the national basic public health service spec (3rd ed., 2017): classification,
next visits, emergency referral, managed to spec, and high-risk overdue patients."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from jiayi.care.rules import (
    FOLLOW_UP_LABELS,
    DangerSymptom,
    EmergencyReason,
    FollowUpClass,
    classify_diabetes_follow_up,
    classify_hypertension_follow_up,
    diabetes_emergency,
    full_quarters_under_management,
    high_risk_overdue,
    hypertension_controlled,
    hypertension_emergency,
    managed_to_spec,
    needs_referral,
    next_visit_date,
    overdue_days,
)
from jiayi.registry.identity import age_on

F = FollowUpClass
R = EmergencyReason


def htn(**overrides: Any) -> FollowUpClass:
    """Classify a first hypertension follow-up of a 50-year-old, changed by `overrides`."""
    visit: dict[str, Any] = {
        "sbp": 130,
        "dbp": 80,
        "age": 50,
        "previous_classification": None,
        "adverse_reaction": False,
        "new_or_worse_complication": False,
    }
    visit.update(overrides)
    return classify_hypertension_follow_up(**visit)


# --- Classification ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sbp", "dbp", "age", "elderly_target_150", "expected"),
    [
        (139, 89, 50, True, F.CONTROLLED),
        (140, 89, 50, True, F.FIRST_UNCONTROLLED),
        (139, 90, 50, True, F.FIRST_UNCONTROLLED),
        (140, 90, 50, True, F.FIRST_UNCONTROLLED),
        (139.9, 89.9, 50, True, F.CONTROLLED),
        (145, 80, 64, True, F.FIRST_UNCONTROLLED),  # under 65 the target stays 140
        (149, 89, 65, True, F.CONTROLLED),
        (150, 89, 65, True, F.FIRST_UNCONTROLLED),
        (149, 90, 65, True, F.FIRST_UNCONTROLLED),  # DBP stays < 90 at every age
        (149, 89, 80, True, F.CONTROLLED),
        (149, 89, 65, False, F.FIRST_UNCONTROLLED),  # flag off: 140/90 at every age
        (139, 89, 65, False, F.CONTROLLED),
    ],
)
def test_it_judges_bp_control_at_the_thresholds(
    sbp: float, dbp: float, age: int, elderly_target_150: bool, expected: FollowUpClass
) -> None:
    assert htn(sbp=sbp, dbp=dbp, age=age, elderly_target_150=elderly_target_150) == expected
    assert hypertension_controlled(sbp=sbp, dbp=dbp, age=age, elderly_target_150=elderly_target_150) is (
        expected is F.CONTROLLED
    )


@pytest.mark.parametrize(
    ("birth", "visit", "expected"),
    [
        (date(1960, 3, 15), date(2025, 3, 14), F.FIRST_UNCONTROLLED),  # the day before the 65th birthday
        (date(1960, 3, 15), date(2025, 3, 15), F.CONTROLLED),  # the 65th birthday
        (date(1960, 2, 29), date(2025, 2, 28), F.FIRST_UNCONTROLLED),  # leap-day birth, common year
        (date(1960, 2, 29), date(2025, 3, 1), F.CONTROLLED),
    ],
)
def test_it_applies_the_elderly_target_from_the_65th_birthday(
    birth: date, visit: date, expected: FollowUpClass
) -> None:
    assert htn(sbp=145, dbp=85, age=age_on(birth, visit)) == expected


@pytest.mark.parametrize(
    ("controlled", "previous", "adverse", "complication", "expected"),
    [
        (True, None, False, False, F.CONTROLLED),
        (False, None, False, False, F.FIRST_UNCONTROLLED),
        (False, F.CONTROLLED, False, False, F.FIRST_UNCONTROLLED),
        (False, F.FIRST_UNCONTROLLED, False, False, F.UNCONTROLLED_TWICE),
        (
            False,
            F.UNCONTROLLED_TWICE,
            False,
            False,
            F.UNCONTROLLED_TWICE,
        ),  # still uncontrolled: still referred
        (False, F.ADVERSE_REACTION, False, False, F.FIRST_UNCONTROLLED),  # that visit was controlled
        (False, F.COMPLICATION, False, False, F.FIRST_UNCONTROLLED),  # says nothing about control
        (True, F.FIRST_UNCONTROLLED, False, False, F.CONTROLLED),  # the streak ends
        (True, None, True, False, F.ADVERSE_REACTION),
        (False, None, True, False, F.FIRST_UNCONTROLLED),  # both mean 2 weeks; the streak is kept
        (False, F.FIRST_UNCONTROLLED, True, False, F.UNCONTROLLED_TWICE),
        (True, None, False, True, F.COMPLICATION),
        (False, F.FIRST_UNCONTROLLED, True, True, F.COMPLICATION),
        (True, "first_uncontrolled", True, False, F.ADVERSE_REACTION),  # a stored string is accepted
    ],
)
def test_it_classifies_follow_ups(
    controlled: bool,
    previous: FollowUpClass | None,
    adverse: bool,
    complication: bool,
    expected: FollowUpClass,
) -> None:
    flags: dict[str, Any] = {
        "previous_classification": previous,
        "adverse_reaction": adverse,
        "new_or_worse_complication": complication,
    }
    assert htn(sbp=120 if controlled else 160, **flags) == expected
    assert classify_diabetes_follow_up(fasting_glucose_mmol=6.0 if controlled else 9.0, **flags) == expected


@pytest.mark.parametrize(
    ("glucose", "previous", "expected"),
    [
        (6.9, None, F.CONTROLLED),
        (6.99, None, F.CONTROLLED),
        (7.0, None, F.FIRST_UNCONTROLLED),
        (7.0, F.FIRST_UNCONTROLLED, F.UNCONTROLLED_TWICE),
        (6.9, F.FIRST_UNCONTROLLED, F.CONTROLLED),
    ],
)
def test_it_judges_glucose_control_at_7(
    glucose: float, previous: FollowUpClass | None, expected: FollowUpClass
) -> None:
    got = classify_diabetes_follow_up(
        fasting_glucose_mmol=glucose,
        previous_classification=previous,
        adverse_reaction=False,
        new_or_worse_complication=False,
    )
    assert got == expected


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"sbp": 49}, "sbp"),
        ({"sbp": 301}, "sbp"),
        ({"dbp": -80}, "dbp"),
        ({"sbp": 80, "dbp": 120}, "dbp"),  # swapped
        ({"age": 17}, "age"),
        ({"age": -3}, "age"),
        ({"previous_classification": "good"}, "previous_classification"),
    ],
)
def test_it_refuses_impossible_hypertension_inputs(overrides: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} "):
        htn(**overrides)


@pytest.mark.parametrize("glucose", [0, -5.0, 120.0])
def test_it_refuses_impossible_glucose(glucose: float) -> None:
    with pytest.raises(ValueError, match=r"^fasting_glucose_mmol "):
        classify_diabetes_follow_up(
            fasting_glucose_mmol=glucose,
            previous_classification=None,
            adverse_reaction=False,
            new_or_worse_complication=False,
        )


@given(
    sbp=st.integers(90, 250),
    dbp=st.integers(40, 89),
    age=st.integers(18, 110),
    elderly=st.booleans(),
)
def test_it_calls_a_reading_controlled_exactly_below_the_target(
    sbp: int, dbp: int, age: int, elderly: bool
) -> None:
    target = 150 if elderly and age >= 65 else 140
    assert hypertension_controlled(sbp=sbp, dbp=dbp, age=age, elderly_target_150=elderly) is (sbp < target)


def test_it_labels_every_class_in_chinese() -> None:
    assert set(FOLLOW_UP_LABELS) == set(FollowUpClass)
    assert F.CONTROLLED.label == "控制满意"
    assert str(F.CONTROLLED) == "controlled"


@pytest.mark.parametrize("call", [needs_referral, lambda c: next_visit_date(c, date(2025, 1, 10))])
def test_it_refuses_an_unknown_class(call: Any) -> None:
    with pytest.raises(ValueError, match=r"^classification 'ok' "):
        call("ok")


@pytest.mark.parametrize(
    ("classification", "referred"),
    [
        (F.CONTROLLED, False),
        (F.FIRST_UNCONTROLLED, False),
        (F.ADVERSE_REACTION, False),
        (F.UNCONTROLLED_TWICE, True),
        (F.COMPLICATION, True),
    ],
)
def test_it_refers_after_two_uncontrolled_visits_or_a_complication(
    classification: FollowUpClass, referred: bool
) -> None:
    assert needs_referral(classification) is referred


# --- Next visit -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("classification", "visit", "expected"),
    [
        (F.CONTROLLED, date(2025, 1, 10), date(2025, 4, 10)),
        (F.FIRST_UNCONTROLLED, date(2025, 1, 10), date(2025, 1, 24)),
        (F.ADVERSE_REACTION, date(2025, 1, 10), date(2025, 1, 24)),
        (F.UNCONTROLLED_TWICE, date(2025, 1, 10), date(2025, 1, 24)),
        (F.COMPLICATION, date(2025, 1, 10), date(2025, 1, 24)),
        (F.FIRST_UNCONTROLLED, date(2025, 12, 20), date(2026, 1, 3)),  # across the year end
        (F.CONTROLLED, date(2024, 12, 1), date(2025, 3, 1)),  # 90 days across February of a common year
        ("controlled", date(2025, 1, 10), date(2025, 4, 10)),
    ],
)
def test_it_schedules_the_next_visit(classification: FollowUpClass, visit: date, expected: date) -> None:
    assert next_visit_date(classification, visit) == expected


def test_it_takes_a_shorter_routine_interval() -> None:
    assert next_visit_date(F.CONTROLLED, date(2025, 1, 10), routine_days=60) == date(2025, 3, 11)
    assert next_visit_date(F.FIRST_UNCONTROLLED, date(2025, 1, 10), short_days=7) == date(2025, 1, 17)


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"routine_days": 93}, "routine_days"),  # longer than 3 months
        ({"routine_days": 0}, "routine_days"),
        ({"short_days": 15}, "short_days"),  # longer than 2 weeks
        ({"short_days": -1}, "short_days"),
    ],
)
def test_it_refuses_intervals_outside_the_spec(overrides: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} "):
        next_visit_date(F.CONTROLLED, date(2025, 1, 10), **overrides)


@given(classification=st.sampled_from(list(FollowUpClass)), visit=st.dates())
def test_it_always_schedules_within_3_months(classification: FollowUpClass, visit: date) -> None:
    assume(visit <= date.max - timedelta(days=92))
    days = (next_visit_date(classification, visit) - visit).days
    assert days == (90 if classification is F.CONTROLLED else 14)


# --- Emergency referral -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sbp", "dbp", "symptoms", "pregnant", "reasons"),
    [
        (179, 109, frozenset(), False, []),
        (180, 100, frozenset(), False, [R.SBP_AT_LEAST_180]),
        (170, 110, frozenset(), False, [R.DBP_AT_LEAST_110]),
        (180, 110, frozenset(), False, [R.SBP_AT_LEAST_180, R.DBP_AT_LEAST_110]),
        (130, 80, frozenset({"vomiting"}), False, ["vomiting"]),
        (
            130,
            80,
            frozenset({DangerSymptom.CANNOT_LIE_FLAT, DangerSymptom.ALTERED_CONSCIOUSNESS}),
            False,
            ["altered_consciousness", "cannot_lie_flat"],  # in the spec's order
        ),
        (139, 89, frozenset(), True, []),
        (140, 80, frozenset(), True, [R.PREGNANT_OR_LACTATING_RAISED_BP]),
        (130, 90, frozenset(), True, [R.PREGNANT_OR_LACTATING_RAISED_BP]),
        (150, 95, frozenset(), False, []),
        (
            185,
            112,
            frozenset({"severe_headache"}),
            True,
            [R.SBP_AT_LEAST_180, R.DBP_AT_LEAST_110, "severe_headache", R.PREGNANT_OR_LACTATING_RAISED_BP],
        ),
    ],
)
def test_it_lists_hypertension_emergency_reasons(
    sbp: int, dbp: int, symptoms: frozenset[str], pregnant: bool, reasons: list[str]
) -> None:
    got = hypertension_emergency(sbp=sbp, dbp=dbp, danger_symptoms=symptoms, pregnant_or_lactating=pregnant)
    assert got == reasons


def test_it_knows_the_seven_danger_symptoms_of_the_spec() -> None:
    assert [s.value for s in DangerSymptom] == [
        "altered_consciousness",
        "severe_headache",
        "vomiting",
        "blurred_vision",
        "chest_tightness",
        "palpitations",
        "cannot_lie_flat",
    ]


def test_it_refuses_an_unknown_danger_symptom() -> None:
    with pytest.raises(ValueError, match=r"^danger_symptoms .*'headache'"):
        hypertension_emergency(
            sbp=130, dbp=80, danger_symptoms=frozenset({"headache"}), pregnant_or_lactating=False
        )


def dm_emergency(**overrides: Any) -> list[str]:
    """Emergency reasons of a diabetes follow-up with nothing measured, changed by `overrides`."""
    visit: dict[str, Any] = {
        "glucose_mmol": None,
        "sbp": None,
        "dbp": None,
        "heart_rate": None,
        "temperature_c": None,
        "ketoacidosis_signs": False,
        "pregnant_or_lactating": False,
    }
    visit.update(overrides)
    return diabetes_emergency(**visit)


@pytest.mark.parametrize(
    ("overrides", "reasons"),
    [
        ({}, []),
        ({"glucose_mmol": 16.6}, []),
        ({"glucose_mmol": 16.7}, [R.GLUCOSE_AT_LEAST_16_7]),
        ({"glucose_mmol": 25.0}, [R.GLUCOSE_AT_LEAST_16_7]),
        ({"glucose_mmol": 4.0}, []),
        ({"glucose_mmol": 3.9}, [R.GLUCOSE_AT_MOST_3_9]),
        ({"glucose_mmol": 2.1}, [R.GLUCOSE_AT_MOST_3_9]),
        ({"sbp": 179, "dbp": 109}, []),
        ({"sbp": 180, "dbp": 90}, [R.SBP_AT_LEAST_180]),
        ({"sbp": 160, "dbp": 110}, [R.DBP_AT_LEAST_110]),
        ({"heart_rate": 100}, []),
        ({"heart_rate": 101}, [R.HEART_RATE_ABOVE_100]),
        ({"temperature_c": 39.0}, []),
        ({"temperature_c": 39.1}, [R.TEMPERATURE_ABOVE_39]),
        ({"ketoacidosis_signs": True}, [R.KETOACIDOSIS_SIGNS]),
        ({"pregnant_or_lactating": True}, [R.PREGNANT_OR_LACTATING]),
        (
            {"glucose_mmol": 22.0, "heart_rate": 118, "ketoacidosis_signs": True},
            [R.GLUCOSE_AT_LEAST_16_7, R.KETOACIDOSIS_SIGNS, R.HEART_RATE_ABOVE_100],
        ),
    ],
)
def test_it_lists_diabetes_emergency_reasons(overrides: dict[str, Any], reasons: list[str]) -> None:
    assert dm_emergency(**overrides) == reasons


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"glucose_mmol": -1.0}, "glucose_mmol"),
        ({"glucose_mmol": 0}, "glucose_mmol"),
        ({"heart_rate": -60}, "heart_rate"),
        ({"temperature_c": 98.6}, "temperature_c"),  # Fahrenheit
        ({"sbp": 310, "dbp": 100}, "sbp"),
        ({"sbp": 150}, "sbp"),  # without its diastolic
    ],
)
def test_it_refuses_impossible_diabetes_emergency_inputs(overrides: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} "):
        dm_emergency(**overrides)


# --- Managed to spec --------------------------------------------------------------------------------

YEAR_START, YEAR_END = date(2025, 1, 1), date(2025, 12, 31)


@pytest.mark.parametrize(
    ("management_start", "period_start", "period_end", "quarters"),
    [
        (date(2020, 5, 1), YEAR_START, YEAR_END, 4),  # a full calendar year
        (date(2020, 5, 1), YEAR_START, date(2025, 6, 30), 2),  # year to date, end of June
        (date(2020, 5, 1), YEAR_START, date(2025, 6, 29), 1),
        (date(2020, 5, 1), YEAR_START, date(2025, 3, 30), 0),
        (date(2020, 5, 1), YEAR_START, date(2025, 3, 31), 1),
        (date(2025, 2, 15), YEAR_START, YEAR_END, 3),  # enrolled in February
        (date(2025, 1, 2), YEAR_START, YEAR_END, 3),
        (date(2025, 12, 1), YEAR_START, YEAR_END, 0),
        (date(2026, 1, 5), YEAR_START, YEAR_END, 0),  # after the period
        (date(2020, 5, 1), date(2024, 3, 15), date(2025, 3, 14), 4),  # a rolling year
        (date(2024, 11, 30), date(2024, 1, 1), date(2025, 2, 27), 1),  # 30 Nov + 3 months is 28 Feb
        (date(2024, 11, 30), date(2024, 1, 1), date(2025, 2, 26), 0),
        (date(2020, 5, 1), date(2024, 1, 1), date(2025, 12, 31), 8),  # two years
    ],
)
def test_it_counts_full_quarters_under_management(
    management_start: date, period_start: date, period_end: date, quarters: int
) -> None:
    assert full_quarters_under_management(management_start, period_start, period_end) == quarters


def test_it_refuses_a_period_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match=r"^period_end "):
        full_quarters_under_management(date(2020, 1, 1), YEAR_END, YEAR_START)


@given(start=st.dates(date(2000, 1, 1), date(2099, 12, 31)))
def test_it_finds_4_quarters_in_any_full_year(start: date) -> None:
    assume((start.month, start.day) != (2, 29))
    end = start.replace(year=start.year + 1) - timedelta(days=1)
    assert full_quarters_under_management(start, start, end) == 4


@given(
    management_start=st.dates(date(2020, 1, 1), date(2026, 12, 31)),
    end=st.dates(date(2025, 1, 1), date(2026, 12, 31)),
    later=st.integers(0, 400),
)
def test_it_never_counts_fewer_quarters_for_a_longer_period(
    management_start: date, end: date, later: int
) -> None:
    shorter = full_quarters_under_management(management_start, YEAR_START, end)
    longer = full_quarters_under_management(management_start, YEAR_START, end + timedelta(days=later))
    assert shorter <= longer


QUARTERLY = [date(2025, 2, 10), date(2025, 5, 12), date(2025, 8, 11), date(2025, 11, 10)]


@pytest.mark.parametrize(
    ("follow_ups", "management_start", "period_end", "expected"),
    [
        (QUARTERLY, date(2020, 5, 1), YEAR_END, True),
        (QUARTERLY[:3], date(2020, 5, 1), YEAR_END, False),
        ([date(2025, 1, 5)] * 4, date(2020, 5, 1), YEAR_END, False),  # one day counts once
        (
            [date(2025, 1, 5), date(2025, 1, 20), date(2025, 2, 3), date(2025, 3, 1)],
            date(2020, 5, 1),
            YEAR_END,
            True,  # the spec counts follow-ups, not one per quarter
        ),
        ([date(2024, 12, 20), *QUARTERLY[:3]], date(2020, 5, 1), YEAR_END, False),  # before the period
        ([*QUARTERLY[:3], date(2026, 1, 4)], date(2020, 5, 1), YEAR_END, False),  # after the period
        (QUARTERLY[1:], date(2025, 2, 15), YEAR_END, True),  # 3 quarters under management, 3 visits
        ([date(2025, 2, 10), *QUARTERLY[2:]], date(2025, 2, 15), YEAR_END, False),  # one before enrolment
        (QUARTERLY[:2], date(2020, 5, 1), date(2025, 6, 30), True),  # year to date: 2 quarters
        ([], date(2025, 12, 1), YEAR_END, True),  # no full quarter yet
        ([], date(2020, 5, 1), YEAR_END, False),
    ],
)
def test_it_decides_managed_to_spec(
    follow_ups: list[date], management_start: date, period_end: date, expected: bool
) -> None:
    assert managed_to_spec(follow_ups, management_start, YEAR_START, period_end) is expected


@given(
    follow_ups=st.lists(st.dates(date(2024, 10, 1), date(2026, 3, 31)), max_size=8),
    extra=st.dates(date(2024, 10, 1), date(2026, 3, 31)),
    management_start=st.dates(date(2023, 1, 1), date(2025, 12, 31)),
)
def test_it_never_unmanages_a_patient_for_one_more_follow_up(
    follow_ups: list[date], extra: date, management_start: date
) -> None:
    before = managed_to_spec(follow_ups, management_start, YEAR_START, YEAR_END)
    after = managed_to_spec([*follow_ups, extra], management_start, YEAR_START, YEAR_END)
    assert before <= after


# --- High-risk overdue ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "sbp", "dbp", "prior", "expected"),
    [
        (30, 185, 100, False, False),  # overdue, but not by more than 30 days
        (31, 185, 100, False, True),
        (31, 180, 100, False, True),
        (31, 179, 109, False, False),
        (31, 170, 110, False, True),
        (31, 179, 109, True, True),
        (31, 140, 80, True, True),
        (31, 130, 90, True, True),
        (31, 139, 89, True, False),
        (31, 150, 95, False, False),
        (30, 150, 95, True, False),
        (365, None, None, True, False),  # no BP on record
    ],
)
def test_it_flags_high_risk_overdue_patients(
    days: int, sbp: int | None, dbp: int | None, prior: bool, expected: bool
) -> None:
    got = high_risk_overdue(days_overdue=days, last_sbp=sbp, last_dbp=dbp, prior_stroke_or_mi=prior)
    assert got is expected


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"days_overdue": -1}, "days_overdue"),
        ({"last_dbp": None}, "last_sbp"),
        ({"last_sbp": 400}, "last_sbp"),
        ({"last_sbp": 90, "last_dbp": 95}, "last_dbp"),  # swapped
        ({"days_overdue": 10, "last_sbp": 400}, "last_sbp"),  # checked even when not yet overdue enough
    ],
)
def test_it_refuses_impossible_overdue_inputs(overrides: dict[str, Any], name: str) -> None:
    kwargs = {"days_overdue": 40, "last_sbp": 150, "last_dbp": 95, "prior_stroke_or_mi": False, **overrides}
    with pytest.raises(ValueError, match=f"^{name} "):
        high_risk_overdue(**kwargs)


@pytest.mark.parametrize(
    ("scheduled", "today", "days"),
    [
        (date(2025, 3, 1), date(2025, 2, 20), 0),  # not yet due
        (date(2025, 3, 1), date(2025, 3, 1), 0),
        (date(2025, 3, 1), date(2025, 3, 31), 30),
        (date(2025, 3, 1), date(2025, 4, 1), 31),
    ],
)
def test_it_counts_days_overdue(scheduled: date, today: date, days: int) -> None:
    assert overdue_days(scheduled, today) == days
