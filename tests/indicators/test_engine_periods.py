"""Kept periods from the command line: `jiayi indicators build` makes a period's facts and counts,
`periods` lists them, `prune --keep/--before` drops old ones with their rows, and a pruned period is
built again on demand."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jiayi.indicators import engine, facts, results
from jiayi.indicators.models import FactPeriod, IndicatorCount, ResidentFact

from .world import AS_OF, World, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    built = build_world()
    built.sign(built.resident(date(1950, 1, 1)))
    return built


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("indicators", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_build_makes_facts_and_kept_counts(world: World) -> None:
    _out, err = _run("build", "--as-of", AS_OF.isoformat(), "--period", "quarter", "--no-progress")
    period = FactPeriod.objects.get(kind="quarter", as_of=AS_OF)
    assert results.is_kept(period)
    rows = ResidentFact.objects.filter(period=period).count()
    assert rows > 0
    assert f"built quarter 2026-04-01..2026-06-30: {rows} resident rows" in err
    assert IndicatorCount.objects.filter(period=period, level="doctor", unit_id=world.doctor.pk).exists()


def test_build_reports_progress_per_chunk(world: World) -> None:
    heard: list[tuple[int, int]] = []
    facts.build_period("year", AS_OF, lambda done, total: heard.append((done, total)))
    assert heard
    assert heard[-1][0] == heard[-1][1] > 0


def test_periods_lists_the_kept_ones(world: World) -> None:
    facts.ensure_period("year", AS_OF)
    out, _err = _run("periods")
    [line] = [line for line in out.splitlines() if f"\t{AS_OF}\t" in line]
    kind, starts_on, as_of, rows, _built = line.split("\t")
    assert (kind, starts_on, as_of) == ("year", "2026-01-01", "2026-06-30")
    assert int(rows) == ResidentFact.objects.filter(period__kind="year", period__as_of=AS_OF).count()


def test_prune_keeps_the_latest_per_kind(world: World) -> None:
    ends = [date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31), AS_OF]
    for end in ends:
        facts.ensure_period("year", end)
    quarter = facts.ensure_period("quarter", date(2026, 3, 31))
    _out, err = _run("prune", "--keep", "2")
    assert sorted(FactPeriod.objects.filter(kind="year").values_list("as_of", flat=True)) == ends[2:]
    assert FactPeriod.objects.filter(pk=quarter.pk).exists()
    assert "dropped year 2026-01-01..2026-03-31" in err
    assert "pruned 2 period(s)" in err
    gone = {"period__kind": "year", "period__as_of__in": ends[:2]}
    assert not ResidentFact.objects.filter(**gone).exists()
    assert not IndicatorCount.objects.filter(**gone).exists()


def test_prune_before_a_date(world: World) -> None:
    facts.ensure_period("year", date(2026, 3, 31))
    facts.ensure_period("quarter", AS_OF)
    _run("prune", "--before", "2026-06-01")
    assert list(FactPeriod.objects.values_list("kind", "as_of")) == [("quarter", AS_OF)]


def test_a_pruned_period_is_built_again_on_demand(world: World) -> None:
    before = engine.compute(AS_OF, level="doctor", codes=["signing.coverage"])
    _run("prune", "--keep", "0")
    assert not FactPeriod.objects.exists()
    assert engine.compute(AS_OF, level="doctor", codes=["signing.coverage"]) == before


def test_prune_needs_a_rule() -> None:
    with pytest.raises(CommandError, match="--keep N"):
        _run("prune")
    with pytest.raises(CommandError, match="--keep: expected a count"):
        _run("prune", "--keep", "-1")
