"""Population counts for the home and master-data pages: one grouped query each, no rows of people.

Callers pass a queryset already scoped by `jiayi.access` (`residents_visible_to` for a clinician's own
panel, `residents_for_statistics` for district figures) and `today` from the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Q, QuerySet

from jiayi.registry.choices import Sex
from jiayi.registry.models import Resident
from jiayi.registry.queries import age_between
from jiayi.web.filters import AGE_BANDS


@dataclass(frozen=True, slots=True)
class PopulationCounts:
    """Headline counts of a group of residents."""

    total: int = 0
    aged_65_plus: int = 0
    children_0_6: int = 0
    male: int = 0
    female: int = 0


def _population_aggregates(today: date) -> dict[str, Any]:
    return {
        "total": Count("id"),
        "aged_65_plus": Count("id", filter=age_between(today, 65, None)),
        "children_0_6": Count("id", filter=age_between(today, 0, 6)),
        "male": Count("id", filter=Q(sex=Sex.MALE)),
        "female": Count("id", filter=Q(sex=Sex.FEMALE)),
    }


def population_counts(residents: QuerySet[Resident], today: date) -> PopulationCounts:
    return PopulationCounts(**residents.aggregate(**_population_aggregates(today)))


def population_by(residents: QuerySet[Resident], field: str, today: date) -> dict[Any, PopulationCounts]:
    """Counts grouped by one field path (e.g. "committee", "committee__teams")."""
    rows = residents.order_by().values(field).annotate(**_population_aggregates(today))
    return {
        row[field]: PopulationCounts(**{name: row[name] for name in PopulationCounts.__slots__})
        for row in rows
    }


def residents_by(residents: QuerySet[Resident], field: str) -> dict[Any, int]:
    """Number of residents per value of one field path."""
    rows = residents.order_by().values(field).annotate(n=Count("id"))
    return {row[field]: row["n"] for row in rows}


@dataclass(frozen=True, slots=True)
class BandRow:
    """Residents of one area by age band, in the order of AGE_BANDS."""

    place_id: int | None
    place_name: str
    counts: tuple[int, ...]


def age_bands_by_sub_district(residents: QuerySet[Resident], today: date) -> list[BandRow]:
    aggregates = {
        f"band_{index}": Count("id", filter=age_between(today, low, high))
        for index, (low, high) in enumerate(AGE_BANDS.values())
    }
    rows = (
        residents.order_by()
        .values("committee__parent", "committee__parent__name", "committee__parent__code")
        .annotate(**aggregates)
        .order_by("committee__parent__code")
    )
    return [
        BandRow(
            place_id=row["committee__parent"],
            place_name=row["committee__parent__name"] or "",
            counts=tuple(row[f"band_{index}"] for index in range(len(AGE_BANDS))),
        )
        for row in rows
    ]
