"""What the indicator boards show: rows scoped to the user's units, small cells suppressed, status
colours, monthly trends and the residents behind a figure. Plain functions; the views stay thin."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.cache import cache
from django.db.models import Q, QuerySet

from jiayi import access
from jiayi.indicators import catalogue, engine, facts, tasks
from jiayi.indicators.catalogue import LEVEL_COLUMNS, Indicator, Side
from jiayi.indicators.models import FactPeriod, ResidentFact
from jiayi.registry.models import Resident

AMBER_SHARE = 0.9  # within 90% of an upward target (or 110% of a downward one) is amber
_LOOKUPS = {"=": "exact", ">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}


def status(indicator: Indicator, value: float | None, target: float | None) -> str:
    """red / amber / green against the target; "none" without a value or target."""
    if value is None or target is None:
        return "none"
    if indicator.met(value, target):
        return "green"
    near = value >= target * AMBER_SHARE if indicator.direction == "up" else value <= target / AMBER_SHARE
    return "amber" if near else "red"


def suppress(count: int, threshold: int) -> int | str:
    """A count below the threshold (but not zero) is shown as "<threshold"."""
    if threshold and 0 < count < threshold:
        return f"<{threshold}"
    return count


@dataclass(frozen=True)
class BoardRow:
    indicator: Indicator
    unit_id: int
    unit_name: str
    numerator: int | str
    denominator: int | str
    value: float | None
    target: float | None
    status: str
    drillable: bool

    @property
    def display_value(self) -> str:
        if self.value is None:
            return "–"
        if self.indicator.unit == "per_10k":
            return f"{self.value:.1f}"
        if self.indicator.unit == "per_centre":
            return f"{self.value:.2f}"
        return f"{self.value * 100:.1f}%"

    @property
    def display_target(self) -> str:
        if self.target is None:
            return "–"
        if self.indicator.unit == "percent":
            return (
                f"≥{self.target * 100:.0f}%"
                if self.indicator.direction == "up"
                else f"≤{self.target * 100:.0f}%"
            )
        return f"≥{self.target:g}"


def scoped_rows(
    user: Any, as_of: date, level: str, period: str, codes: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The engine's rows at a level, only for the units the user may see."""
    allowed = access.indicator_units_visible_to(user, level)
    rows = engine.compute(as_of, level=level, codes=list(codes) if codes else None, period=period)
    if allowed is None:
        return rows
    return [row for row in rows if row["unit_id"] in allowed]


def shown(user: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A row as the user may see it: small cells suppressed, and the value with them (it would give
    the suppressed count back)."""
    threshold = access.small_cell_threshold(user)
    numerator = suppress(row["numerator"], threshold)
    denominator = suppress(row["denominator"], threshold)
    hidden = isinstance(numerator, str) or isinstance(denominator, str)
    return {
        **row,
        "numerator": numerator,
        "denominator": denominator,
        "value": None if hidden else row["value"],
        "met": None if hidden else row["met"],
    }


def board_rows(user: Any, rows: Sequence[dict[str, Any]], unit_id: int | None) -> list[BoardRow]:
    drill = access.can_list_indicator_residents(user)
    out: list[BoardRow] = []
    for raw in rows:
        if unit_id is not None and raw["unit_id"] != unit_id:
            continue
        row = shown(user, raw)
        indicator = catalogue.get(row["code"])
        out.append(
            BoardRow(
                indicator=indicator,
                unit_id=row["unit_id"],
                unit_name=row["unit_name"],
                numerator=row["numerator"],
                denominator=row["denominator"],
                value=row["value"],
                target=row["target"],
                status=status(indicator, row["value"], row["target"]),
                drillable=drill and indicator.numerator.source == "resident",
            )
        )
    return out


def month_ends(as_of: date) -> list[date]:
    """The last day of each month of the year up to `as_of`, and `as_of` itself."""
    ends = [
        date(as_of.year, month, calendar.monthrange(as_of.year, month)[1]) for month in range(1, as_of.month)
    ]
    return [*ends, as_of]


def _kept_or_queued(end: date) -> bool:
    """Whether the year-to-date period at `end` is kept; if not, queue its build once an hour (the
    page shows the month as pending meanwhile). With the immediate task backend the build has run by
    the time `enqueue` returns."""
    if FactPeriod.objects.filter(kind="year", as_of=end).exists():
        return True
    if cache.add(f"indicators:build:year:{end.isoformat()}", True, timeout=3600):
        tasks.build_period.enqueue("year", end.isoformat())
    return FactPeriod.objects.filter(kind="year", as_of=end).exists()


def trend(user: Any, code: str, level: str, unit_id: int, as_of: date) -> list[dict[str, Any]]:
    """The figure at the end of each month of the year to date (year-to-date periods). Past month
    ends not yet built are queued and come back as pending points, never built inside the request."""
    allowed = access.indicator_units_visible_to(user, level)
    if allowed is not None and unit_id not in allowed:
        return []
    points: list[dict[str, Any]] = []
    for end in month_ends(as_of):
        if end != as_of and not _kept_or_queued(end):
            points.append(
                {"date": end.isoformat(), "value": None, "numerator": 0, "denominator": 0, "pending": True}
            )
            continue
        rows = engine.compute(end, level=level, codes=[code], period="year")
        row = next((r for r in rows if r["unit_id"] == unit_id), None)
        shown_row = shown(user, row) if row is not None else None
        points.append(
            {
                "date": end.isoformat(),
                "value": shown_row["value"] if shown_row else None,
                "numerator": shown_row["numerator"] if shown_row else 0,
                "denominator": shown_row["denominator"] if shown_row else 0,
                "pending": False,
            }
        )
    return points


def side_filter(side: Side) -> Q:
    condition = Q()
    for column, op, value in side.where:
        if op == "!=":
            condition &= ~Q(**{column: value})
        else:
            condition &= Q(**{f"{column}__{_LOOKUPS[op]}": value})
    if side.measure:
        condition &= Q(**{f"{side.measure}__gt": 0})
    return condition


def residents_behind(
    user: Any, indicator: Indicator, side_name: str, level: str, unit_id: int, as_of: date, period: str
) -> QuerySet[Resident]:
    """The residents counted on one side of a figure that the user may read: empty for roles that
    see counts only, and never anyone outside `access.residents_visible_to`."""
    side = indicator.numerator if side_name == "numerator" else indicator.denominator
    if not access.can_list_indicator_residents(user) or side.source != "resident":
        return Resident.objects.none()
    allowed = access.indicator_units_visible_to(user, level)
    if allowed is not None and unit_id not in allowed:
        return Resident.objects.none()
    kept = facts.ensure_period(period, as_of)
    facts_of_unit = ResidentFact.objects.filter(period=kept, **{LEVEL_COLUMNS[level]: unit_id}).filter(
        side_filter(side)
    )
    return access.residents_visible_to(user).filter(pk__in=facts_of_unit.values("resident_id")).order_by("id")
