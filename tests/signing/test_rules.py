"""The pure signing rules: 1+1+1 tiers, who may be a family doctor, status transitions, validity and
renewal dates (leap days included)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiayi.registry.choices import InstitutionKind as K
from jiayi.registry.choices import Profession
from jiayi.signing.choices import SigningStatus as S
from jiayi.signing.rules import (
    TRANSITIONS,
    Tier,
    TransitionError,
    add_years,
    can_transition,
    check_transition,
    default_end,
    family_doctor_problems,
    renewal_due,
    renewal_start,
    tier_problems,
)

FD, DH, MH = Tier.FAMILY_DOCTOR, Tier.DISTRICT_HOSPITAL, Tier.MUNICIPAL_HOSPITAL


# Tiers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "combination",
    [
        [(FD, K.COMMUNITY_HEALTH_CENTRE)],
        [(FD, K.BRANCH_CENTRE)],
        [(FD, K.STATION)],
        [(FD, K.VILLAGE_CLINIC)],
        [(FD, K.COMMUNITY_HEALTH_CENTRE), (DH, K.DISTRICT_HOSPITAL)],
        [(FD, K.COMMUNITY_HEALTH_CENTRE), (DH, K.REGIONAL_MEDICAL_CENTRE)],
        [(FD, K.STATION), (MH, K.MUNICIPAL_HOSPITAL)],
        [(FD, K.COMMUNITY_HEALTH_CENTRE), (DH, K.DISTRICT_HOSPITAL), (MH, K.MUNICIPAL_HOSPITAL)],
    ],
)
def test_it_accepts_valid_combinations(combination: list[tuple[Tier, str]]) -> None:
    assert tier_problems(combination) == []


@pytest.mark.parametrize(
    ("combination", "fields"),
    [
        # The family doctor works at the community level, never at a hospital or elsewhere.
        ([(FD, K.DISTRICT_HOSPITAL)], [FD]),
        ([(FD, K.MUNICIPAL_HOSPITAL)], [FD]),
        ([(FD, K.REGIONAL_MEDICAL_CENTRE)], [FD]),
        ([(FD, K.CARE_HOME)], [FD]),
        ([(FD, K.CDC)], [FD]),
        # Each hospital in its own tier.
        ([(FD, K.COMMUNITY_HEALTH_CENTRE), (DH, K.MUNICIPAL_HOSPITAL)], [DH]),
        ([(FD, K.COMMUNITY_HEALTH_CENTRE), (DH, K.COMMUNITY_HEALTH_CENTRE)], [DH]),
        ([(FD, K.COMMUNITY_HEALTH_CENTRE), (MH, K.DISTRICT_HOSPITAL)], [MH]),
        ([(FD, K.COMMUNITY_HEALTH_CENTRE), (MH, K.REGIONAL_MEDICAL_CENTRE)], [MH]),
        # Exactly one family doctor's institution.
        ([], [FD]),
        ([(DH, K.DISTRICT_HOSPITAL)], [FD]),
        ([(FD, K.COMMUNITY_HEALTH_CENTRE), (FD, K.STATION)], [FD]),
        # At most one hospital per tier and three institutions in all.
        ([(FD, K.COMMUNITY_HEALTH_CENTRE), (DH, K.DISTRICT_HOSPITAL), (DH, K.REGIONAL_MEDICAL_CENTRE)], [DH]),
        (
            [
                (FD, K.COMMUNITY_HEALTH_CENTRE),
                (DH, K.DISTRICT_HOSPITAL),
                (MH, K.MUNICIPAL_HOSPITAL),
                (MH, K.MUNICIPAL_HOSPITAL),
            ],
            [MH, "institutions"],
        ),
    ],
)
def test_it_refuses_invalid_combinations(combination: list[tuple[Tier, str]], fields: list[str]) -> None:
    problems = tier_problems(combination)

    assert sorted({field for field, _ in problems}) == sorted(fields)
    assert all(message for _, message in problems)


@pytest.mark.parametrize(
    ("profession", "gp", "active", "count"),
    [
        (Profession.FAMILY_DOCTOR, True, True, 0),
        (Profession.FAMILY_DOCTOR, False, True, 1),
        (Profession.FAMILY_DOCTOR, True, False, 1),
        (Profession.NURSE, False, True, 1),
        (Profession.SPECIALIST, True, True, 1),
        (Profession.PUBLIC_HEALTH_DOCTOR, False, False, 2),
    ],
)
def test_it_decides_who_can_be_a_family_doctor(profession: str, gp: bool, active: bool, count: int) -> None:
    assert len(family_doctor_problems(profession=profession, is_registered_gp=gp, active=active)) == count


# Transitions -------------------------------------------------------------------------------------------

ALLOWED = {
    (S.PENDING, S.ACTIVE),
    (S.PENDING, S.DECLINED),
    (S.ACTIVE, S.EXPIRED),
    (S.ACTIVE, S.TERMINATED),
    (S.ACTIVE, S.TRANSFERRED),
}
EVERY_PAIR = [(a, b) for a in S for b in S]


@pytest.mark.parametrize(("from_status", "to_status"), EVERY_PAIR)
def test_it_allows_exactly_the_transitions_of_the_table(from_status: S, to_status: S) -> None:
    allowed = (from_status, to_status) in ALLOWED

    assert can_transition(from_status, to_status) is allowed
    if allowed:
        check_transition(from_status, to_status)
    else:
        with pytest.raises(
            TransitionError, match=f"a signing that is {from_status} cannot become {to_status}"
        ):
            check_transition(from_status, to_status)


def test_it_covers_every_status_in_the_table() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("from_status", "to_status"), [("bogus", S.ACTIVE), (S.PENDING, "bogus")])
def test_it_refuses_unknown_statuses(from_status: str, to_status: str) -> None:
    with pytest.raises(TransitionError):
        check_transition(from_status, to_status)


# Validity and renewal ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2026, 3, 1), date(2027, 2, 28)),
        (date(2027, 3, 1), date(2028, 2, 29)),  # the year ahead holds a leap day
        (date(2028, 2, 29), date(2029, 2, 28)),  # starts on a leap day
        (date(2028, 2, 28), date(2029, 2, 27)),
        (date(2028, 3, 1), date(2029, 2, 28)),
        (date(2026, 12, 31), date(2027, 12, 30)),
    ],
)
def test_it_ends_a_signing_one_year_minus_a_day_after_it_starts(start: date, end: date) -> None:
    assert default_end(start) == end


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2028, 2, 29), 1, date(2029, 3, 1)),
        (date(2028, 2, 29), 4, date(2032, 2, 29)),
        (date(2026, 7, 15), 2, date(2028, 7, 15)),
    ],
)
def test_it_adds_years_with_leap_days_falling_on_the_first_of_march(
    day: date, years: int, expected: date
) -> None:
    assert add_years(day, years) == expected


END = date(2026, 12, 31)


@pytest.mark.parametrize(
    ("today", "lead_days", "due"),
    [
        (date(2026, 11, 30), 30, False),
        (date(2026, 12, 1), 30, True),  # exactly 30 days before the last day
        (date(2026, 12, 31), 30, True),
        (date(2027, 2, 1), 30, True),  # lapsed: may still renew
        (date(2026, 12, 1), 7, False),
        (date(2026, 12, 24), 7, True),
        (date(2026, 12, 31), 0, True),
        (date(2026, 12, 30), 0, False),
    ],
)
def test_it_opens_renewal_a_lead_time_before_the_end(today: date, lead_days: int, due: bool) -> None:
    assert renewal_due(END, today, lead_days) is due


def test_it_defaults_the_renewal_lead_to_thirty_days() -> None:
    assert renewal_due(END, date(2026, 12, 1))
    assert not renewal_due(END, date(2026, 11, 30))


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (date(2026, 12, 10), date(2027, 1, 1)),  # early: no overlap, no gap
        (date(2026, 12, 31), date(2027, 1, 1)),
        (date(2027, 1, 1), date(2027, 1, 1)),
        (date(2027, 3, 5), date(2027, 3, 5)),  # after a lapse: from today
    ],
)
def test_it_starts_a_renewal_after_the_old_period(today: date, start: date) -> None:
    assert renewal_start(END, today) == start


DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@given(DATES)
def test_it_makes_renewed_periods_follow_each_other_for_any_start(start: date) -> None:
    end = default_end(start)
    next_start = renewal_start(end, end)

    assert 364 <= (end - start).days <= 365
    assert next_start == add_years(start, 1)
    assert (next_start - end).days == 1


@given(DATES, st.integers(min_value=0, max_value=90))
def test_it_keeps_renewal_open_from_the_lead_day_on(end: date, lead_days: int) -> None:
    opens = end.toordinal() - lead_days

    assert renewal_due(end, date.fromordinal(opens), lead_days)
    assert not renewal_due(end, date.fromordinal(opens - 1), lead_days)
