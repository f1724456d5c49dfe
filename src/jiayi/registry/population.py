"""Key populations (重点人群): derived from data where the data says so, declared otherwise."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from jiayi.registry.choices import KeyPopulation
from jiayi.registry.identity import age_on


def derived_key_populations(birth_date: date, today: date) -> set[KeyPopulation]:
    """Memberships that follow from age alone. Diagnoses and pregnancy add theirs once records exist."""
    age = age_on(birth_date, today)
    derived: set[KeyPopulation] = set()
    if age >= 65:
        derived.add(KeyPopulation.ELDERLY_65)
    if 0 <= age <= 6:
        derived.add(KeyPopulation.CHILD_0_6)
    return derived


def active_declarations(
    declarations: Iterable[tuple[str, date, date | None]], today: date
) -> set[KeyPopulation]:
    """Declared memberships (key_population, valid_from, valid_until) in force on `today`."""
    return {
        KeyPopulation(code)
        for code, valid_from, valid_until in declarations
        if valid_from <= today and (valid_until is None or today <= valid_until)
    }


def key_populations(
    birth_date: date, today: date, declarations: Iterable[tuple[str, date, date | None]] = ()
) -> set[KeyPopulation]:
    """All key populations a resident belongs to on `today`."""
    return derived_key_populations(birth_date, today) | active_declarations(declarations, today)
