"""Due dates and the reports due on a given day (seed 002, annex part 2)."""

from __future__ import annotations

from datetime import date

import pytest

from jiayi.reports.kinds import ReportKind, due_on, period_end, reference_date, reports_due

B, P, C = (
    ReportKind.QUARTERLY_BRIEFING,
    ReportKind.PUBLIC_HEALTH_PERFORMANCE,
    ReportKind.COMPREHENSIVE_EVALUATION,
)


@pytest.mark.parametrize(
    ("year", "quarter", "end"),
    [
        (2025, None, date(2025, 12, 31)),
        (2025, 1, date(2025, 3, 31)),
        (2024, 2, date(2024, 6, 30)),
        (2025, 4, date(2025, 12, 31)),
    ],
)
def test_a_period_ends_on_the_last_day_of_its_year_or_quarter(
    year: int, quarter: int | None, end: date
) -> None:
    assert period_end(year, quarter) == end


def test_the_annex_due_dates() -> None:
    assert due_on(P, 2025) == date(2026, 1, 31)  # 次年 1 月底前
    assert due_on(C, 2025) == date(2026, 2, 28)  # 次年 2 月底前
    assert due_on(C, 2027) == date(2028, 2, 29)  # a leap year's February
    assert due_on(B, 2025, 3) == date(2025, 10, 15)
    assert due_on(ReportKind.SIGNING_ANALYSIS, 2025) is None  # set by the city's results each year


def test_a_running_period_is_reported_as_of_today() -> None:
    assert reference_date(2026, None, date(2026, 11, 23)) == date(2026, 11, 23)
    assert reference_date(2025, None, date(2026, 11, 23)) == date(2025, 12, 31)


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2026, 1, 10), [(B, 2025, 4), (P, 2025, None), (C, 2025, None)]),
        (date(2026, 1, 16), [(P, 2025, None), (C, 2025, None)]),  # the briefing's 15 days are over
        (date(2026, 2, 28), [(C, 2025, None)]),
        (date(2026, 4, 15), [(B, 2026, 1)]),
        (date(2026, 4, 16), []),
        (date(2026, 11, 23), []),
    ],
)
def test_it_knows_what_is_due_on_a_day(today: date, due: list[tuple[ReportKind, int, int | None]]) -> None:
    assert reports_due(today) == due
