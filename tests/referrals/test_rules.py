"""The pure rules of schedules: reserved shares and positions, session times, release windows."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from jiayi.referrals import rules

D = Decimal


@pytest.mark.parametrize(
    ("department", "hospital", "district", "expected"),
    [
        (None, None, D("0.10"), D("0.10")),  # Putuo's district figure
        (None, D("0.20"), D("0.10"), D("0.20")),  # a hospital of its own
        (D("0.30"), D("0.20"), D("0.10"), D("0.30")),  # a department of its own
        (D("0"), D("0.20"), D("0.10"), D("0")),  # a department that reserves nothing
    ],
)
def test_it_takes_the_most_specific_share(
    department: Decimal | None, hospital: Decimal | None, district: Decimal, expected: Decimal
) -> None:
    assert rules.reserved_share_for(department, hospital, district) == expected


@pytest.mark.parametrize(
    ("slots", "share", "count"),
    [
        (14, D("0.10"), 1),
        (14, D("0.20"), 3),
        (5, D("0.10"), 1),
        (4, D("0.10"), 0),
        (10, D("1"), 10),
        (0, D("0.5"), 0),
    ],
)
def test_it_rounds_the_reserved_count_half_up(slots: int, share: Decimal, count: int) -> None:
    assert rules.reserved_count(slots, share) == count
    assert len(rules.reserved_positions(slots, share)) == count


def test_it_spreads_reserved_positions_over_the_session() -> None:
    assert rules.reserved_positions(14, D("0.20")) == frozenset({2, 7, 11})
    assert rules.reserved_positions(10, D("0.5")) == frozenset({1, 3, 5, 7, 9})


def test_it_cuts_a_session_into_whole_slots() -> None:
    times = rules.session_times(date(2026, 3, 2), time(8, 0), time(9, 10), 15)
    assert [(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in times] == [
        ("08:00", "08:15"),
        ("08:15", "08:30"),
        ("08:30", "08:45"),
        ("08:45", "09:00"),
    ]
    assert times[0][0].utcoffset() == timedelta(hours=8)
    with pytest.raises(ValueError, match="positive"):
        rules.session_times(date(2026, 3, 2), time(8, 0), time(9, 0), 0)


def test_it_finds_the_days_on_a_weekday() -> None:
    assert list(rules.days_on_weekday(date(2026, 3, 1), date(2026, 3, 16), 0)) == [
        date(2026, 3, 2),
        date(2026, 3, 9),
        date(2026, 3, 16),
    ]


@pytest.mark.parametrize(
    ("hours_ahead", "due"), [(-1, False), (0, False), (1, True), (48, True), (49, False)]
)
def test_it_releases_only_inside_the_lead_time(hours_ahead: int, due: bool) -> None:
    now = datetime(2026, 3, 1, 9, 0, tzinfo=rules.SHANGHAI)
    assert rules.is_due_for_release(now + timedelta(hours=hours_ahead), now, 48) is due
