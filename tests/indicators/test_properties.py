"""Properties over the synthetic district: numerators never exceed denominators (for proportions),
additive counts at a level equal the sums over its children, and a full rebuild equals the state the
hooks kept after a random sequence of writes."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiayi.indicators import catalogue, engine, facts
from jiayi.indicators.models import IndicatorCount, ResidentFact, UnitFact
from jiayi.records.choices import ObservationCode
from jiayi.registry.models import Resident
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing

from .test_fixture_indicators import populate
from .world import AS_OF, World, build_world, moment

pytestmark = pytest.mark.django_db

# Ratios of two different populations, not proportions: they may exceed 1.
NOT_PROPORTIONS = {"elderly.exam_to_signed", "workforce.gp_per_10k", "facility.smart_posts_new"}


@pytest.fixture
def world() -> World:
    built = build_world()
    populate(built)
    return built


def test_numerator_never_exceeds_denominator(world: World) -> None:
    for level in catalogue.LEVELS:
        for row in engine.compute(AS_OF, level=level):
            assert row["numerator"] >= 0
            if row["code"] not in NOT_PROPORTIONS:
                assert row["numerator"] <= row["denominator"], row


@pytest.mark.parametrize(("child", "parent"), [("street", "district"), ("doctor", "district")])
def test_additive_counts_sum_to_the_parent(world: World, child: str, parent: str) -> None:
    parents: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in engine.compute(AS_OF, level=parent):
        parents[row["code"]][0] += row["numerator"]
        parents[row["code"]][1] += row["denominator"]
    children: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in engine.compute(AS_OF, level=child):
        children[row["code"]][0] += row["numerator"]
        children[row["code"]][1] += row["denominator"]
    # Every resident has a street; every resident of the district counts at one doctor when each
    # committee has a designated doctor, which the test district gives them.
    checked = 0
    for indicator in catalogue.INDICATORS:
        if indicator.additive and child in indicator.levels and indicator.numerator.source == "resident":
            assert children[indicator.code] == parents[indicator.code], indicator.code
            checked += 1
    assert checked > 10


Snapshot = tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]


def _snapshot(period_id: int) -> Snapshot:
    """The period's fact rows and its kept indicator counts (the board's figures)."""
    columns = [f.attname for f in ResidentFact._meta.fields if f.attname not in ("id",)]
    residents = sorted(ResidentFact.objects.filter(period_id=period_id).values_list(*columns))
    unit_columns = [f.attname for f in UnitFact._meta.fields if f.attname not in ("id",)]
    units = sorted(UnitFact.objects.filter(period_id=period_id).values_list(*unit_columns))
    count_columns = ["level", "unit_id", "code", "side", "amount", "members"]
    counts = sorted(IndicatorCount.objects.filter(period_id=period_id).values_list(*count_columns))
    return residents, units, counts


WRITES = ("sign", "terminate", "bp", "glucose", "diagnose", "visit", "exam", "move_out", "die", "delete_obs")


def _apply(world: World, rng: random.Random, action: str) -> None:
    pool = list(Resident.objects.filter(committee=world.committee).order_by("id"))
    resident = rng.choice(pool)
    day = date(2026, 1, 1) + timedelta(days=rng.randrange(0, 180))
    if action == "sign" and not Signing.objects.filter(resident=resident, status="active").exists():
        world.sign(resident, starts_on=day)
    elif action == "terminate":
        signing = Signing.objects.filter(resident=resident, status="active").first()
        if signing is not None:
            signing.status = SigningStatus.TERMINATED
            signing.status_changed_at = moment(day)
            signing.save()
    elif action == "bp":
        world.bp(resident, day, rng.randrange(110, 170), rng.randrange(60, 100))
    elif action == "glucose":
        world.observe(resident, ObservationCode.FASTING_GLUCOSE, rng.choice([5.5, 6.9, 7.0, 9.1]), day)
    elif action == "diagnose":
        world.diagnose(resident, rng.choice(["I10", "E11", "F20", "J45"]), day - timedelta(days=400))
    elif action == "visit":
        world.visit(resident, day, rng.choice([world.centre, world.hospital]))
    elif action == "exam":
        world.exam(resident, day, complete=rng.random() < 0.5)
    elif action == "move_out":
        resident.is_resident = not resident.is_resident
        resident.is_registered = True
        resident.save()
    elif action == "die":
        resident.date_of_death = day
        resident.save()
    elif action == "delete_obs":
        observation = resident.observations.first()
        if observation is not None:
            observation.delete()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=10**6), steps=st.lists(st.sampled_from(WRITES), max_size=25))
def test_rebuild_equals_incremental_state(world: World, seed: int, steps: list[str]) -> None:
    with transaction.atomic():
        year = facts.ensure_period("year", AS_OF)
        quarter = facts.ensure_period("quarter", AS_OF)
        rng = random.Random(seed)
        for action in steps:
            _apply(world, rng, action)
        kept = [_snapshot(year.pk), _snapshot(quarter.pk)]
        assert kept[0][2], "the year's counts are kept"
        rebuilt_year = facts.build_period("year", AS_OF)
        rebuilt_quarter = facts.build_period("quarter", AS_OF)
        assert [_snapshot(rebuilt_year.pk), _snapshot(rebuilt_quarter.pk)] == kept
        transaction.set_rollback(True)
