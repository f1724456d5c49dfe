"""Resident queries shared by the API, the pages and the indicators: age bands and key populations as
database conditions, so every list and count asks the same question the same way."""

from __future__ import annotations

from datetime import date

from django.db.models import Exists, OuterRef, Q

from jiayi.registry.choices import KeyPopulation
from jiayi.registry.models import KeyPopulationDeclaration


def latest_birth_date_for_age(today: date, years: int) -> date:
    """The latest birth date of someone at least `years` old on `today` (identity.age_on semantics:
    a 29 February birthday is reached on 1 March in common years)."""
    year = today.year - years
    try:
        return today.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def age_between(today: date, low: int, high: int | None) -> Q:
    """Residents aged `low`..`high` (inclusive; no upper bound when `high` is None) on `today`."""
    condition = Q(birth_date__lte=latest_birth_date_for_age(today, low))
    if high is not None:
        condition &= Q(birth_date__gt=latest_birth_date_for_age(today, high + 1))
    return condition


def in_key_population(key_population: str, today: date) -> Q:
    """Residents in a key population on `today`: from age for the derived ones, else a declaration."""
    if key_population == KeyPopulation.ELDERLY_65:
        return age_between(today, 65, None)
    if key_population == KeyPopulation.CHILD_0_6:
        return age_between(today, 0, 6)
    declarations = KeyPopulationDeclaration.objects.filter(
        resident=OuterRef("pk"), key_population=key_population, valid_from__lte=today
    ).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
    return Q(Exists(declarations))
