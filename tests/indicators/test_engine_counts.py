"""The kept indicator counts the boards read equal the engine's SQL over the fact rows, at every
level, after a build and after writes kept current by deltas; a deleted resident's contribution goes
with it; changed declarations remake the counts on the next read."""

from __future__ import annotations

from datetime import date

import pytest

from jiayi.indicators import catalogue, engine, facts, results
from jiayi.indicators.models import FactPeriod, IndicatorCount
from jiayi.registry.models import Resident

from .test_fixture_indicators import populate
from .world import AS_OF, World, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    built = build_world()
    populate(built)
    return built


def _sql_counts(period: FactPeriod) -> dict[tuple[str, str, str], dict[int, int]]:
    counts = engine.compute_level_counts(period, list(catalogue.INDICATORS), catalogue.LEVELS, "db")
    return {
        (level, code, side): dict(values)
        for level, by_side in counts.items()
        for (code, side), values in by_side.items()
    }


def _kept_counts(period: FactPeriod) -> dict[tuple[str, str, str], dict[int, int]]:
    out: dict[tuple[str, str, str], dict[int, int]] = {}
    for level in catalogue.LEVELS:
        for (code, side), values in results.level_counts(period, list(catalogue.INDICATORS), level).items():
            out[(level, code, side)] = dict(values)
    return out


def test_kept_counts_equal_the_sql_over_the_facts(world: World) -> None:
    period = facts.ensure_period("year", AS_OF)
    assert results.is_kept(period)
    kept = _kept_counts(period)
    assert kept == _sql_counts(period)
    # The hand-built street's doctor is there, with the signing coverage the fixture worked out.
    assert kept[("doctor", "signing.coverage", "den")][world.doctor.pk] > 0


def test_writes_keep_the_counts_equal_to_the_sql(world: World) -> None:
    period = facts.ensure_period("year", AS_OF)
    newcomer = world.resident(date(1950, 2, 2))
    world.sign(newcomer, starts_on=date(2026, 2, 1))
    world.diagnose(newcomer, "I10", date(2025, 1, 1))
    world.bp(newcomer, date(2026, 3, 3), 128, 79)
    world.visit(newcomer, date(2026, 3, 3))
    period.refresh_from_db()
    assert _kept_counts(period) == _sql_counts(period)


def test_a_deleted_resident_takes_their_counts_away(world: World) -> None:
    lone = world.resident(date(1990, 1, 1))
    period = facts.ensure_period("year", AS_OF)
    before = _kept_counts(period)[("doctor", "signing.coverage", "den")][world.doctor.pk]
    Resident.objects.filter(pk=lone.pk).delete()
    after = _kept_counts(period)
    assert after[("doctor", "signing.coverage", "den")][world.doctor.pk] == before - 1
    assert after == _sql_counts(period)


def test_a_unit_left_without_rows_disappears_as_in_the_sql(world: World) -> None:
    """A street whose only resident is deleted is no longer grouped by the SQL, nor kept."""
    other = build_world()
    lone = other.resident(date(1980, 1, 1))
    period = facts.ensure_period("year", AS_OF)
    assert other.street.pk in _kept_counts(period)[("street", "signing.coverage", "den")]
    Resident.objects.filter(pk=lone.pk).delete()
    assert other.street.pk not in _kept_counts(period).get(("street", "signing.coverage", "den"), {})
    assert _kept_counts(period) == _sql_counts(period)


def test_changed_declarations_remake_the_counts(world: World) -> None:
    period = facts.ensure_period("year", AS_OF)
    IndicatorCount.objects.filter(period=period).delete()
    FactPeriod.objects.filter(pk=period.pk).update(counts_key="stale")
    period.refresh_from_db()
    assert not results.is_kept(period)
    assert _kept_counts(period) == _sql_counts(period)
    period.refresh_from_db()
    assert results.is_kept(period)


def test_board_rows_come_from_the_kept_counts(world: World) -> None:
    period = facts.ensure_period("year", AS_OF)
    row = next(
        r
        for r in engine.compute(AS_OF, level="doctor", codes=["signing.coverage"])
        if r["unit_id"] == world.doctor.pk
    )
    kept = IndicatorCount.objects.get(
        period=period, level="doctor", unit_id=world.doctor.pk, code="signing.coverage", side="num"
    )
    assert row["numerator"] == kept.amount
