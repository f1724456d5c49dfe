"""The ledger: awards once per event, daily caps, redemption that fails cleanly, balance = ledger sum."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiayi.points import rules, services
from jiayi.points.models import (
    AppendOnly,
    CatalogueItem,
    EntryKind,
    EventKind,
    PointEntry,
    PointRule,
    Redemption,
)
from jiayi.points.rules import PointEvent, RedemptionRefused
from jiayi.records.choices import ObservationMethod
from jiayi.records.models import Observation
from jiayi.records.signals import entries_written
from jiayi.registry.models import Resident

from .helpers import at, elderly_exam, item, self_measurement, unsaved_measurement

pytestmark = pytest.mark.django_db
DAY = date(2025, 9, 3)


def _residents(n: int) -> list[Resident]:
    return list(Resident.objects.filter(date_of_death__isnull=True).order_by("id")[:n])


def _assert_balanced(resident: Resident) -> None:
    assert services.balance_of(resident) == services.ledger_sum(resident)


def test_a_complete_elderly_exam_earns_its_points_once_a_year(point_rules: None) -> None:
    resident = _residents(1)[0]
    exam = elderly_exam(resident, DAY)
    assert services.balance_of(resident) == 100
    exam.save()  # a re-sent form updates the stored one
    elderly_exam(resident, DAY + timedelta(days=30))  # a second form the same year
    assert services.balance_of(resident) == 100
    elderly_exam(resident, date(2026, 9, 1))
    assert services.balance_of(resident) == 200
    _assert_balanced(resident)


def test_an_incomplete_exam_earns_nothing(point_rules: None) -> None:
    resident = _residents(1)[0]
    elderly_exam(resident, DAY, complete=False)
    assert services.balance_of(resident) == 0
    assert not PointEntry.objects.filter(resident=resident).exists()


def test_clinic_measurements_earn_nothing_and_self_measurements_stop_at_the_daily_cap(
    point_rules: None,
) -> None:
    resident = _residents(1)[0]
    self_measurement(resident, at(DAY, 8), method=ObservationMethod.CLINIC)
    assert services.balance_of(resident) == 0
    for hour in range(8, 13):  # five uploads at 2 points, capped at 6 a day
        self_measurement(resident, at(DAY, hour))
    assert services.balance_of(resident) == 6
    entries = PointEntry.objects.filter(resident=resident).order_by("event_key")
    assert [e.points for e in entries] == [2, 2, 2, 0, 0]
    assert all(e.requested == 2 for e in entries)
    self_measurement(resident, at(DAY + timedelta(days=1), 8))
    assert services.balance_of(resident) == 8
    _assert_balanced(resident)


def test_both_halves_of_a_blood_pressure_reading_are_one_upload(point_rules: None) -> None:
    resident = _residents(1)[0]
    self_measurement(resident, at(DAY, 9, 15))
    self_measurement(resident, at(DAY, 9, 15), method=ObservationMethod.WEARABLE)
    assert services.balance_of(resident) == 2


def test_a_bulk_written_chunk_pays_its_self_measurements_once_within_the_cap(point_rules: None) -> None:
    resident = _residents(1)[0]
    chunk = Observation.objects.bulk_create(
        [unsaved_measurement(resident, at(DAY, hour)) for hour in range(8, 13)]
        + [unsaved_measurement(resident, at(DAY, 14), method=ObservationMethod.CLINIC)]
    )
    assert services.balance_of(resident) == 0  # bulk_create sends no post_save

    entries_written.send(sender=Observation, instances=chunk, created=True)
    entries_written.send(sender=Observation, instances=chunk, created=False)  # the same chunk again

    # Five uploads at 2 points, capped at 6 a day; the clinic reading earns nothing; nothing twice.
    assert services.balance_of(resident) == 6
    assert PointEntry.objects.filter(resident=resident).count() == 5
    _assert_balanced(resident)


def test_replaying_the_same_events_awards_nothing_twice(point_rules: None) -> None:
    first, second = _residents(2)
    elderly_exam(first, DAY)
    self_measurement(first, at(DAY, 8))
    self_measurement(second, at(DAY, 8))
    before = list(PointEntry.objects.order_by("id").values_list("event_key", "points"))
    results = services.award_pending()
    assert all(r.entries == 0 and r.points == 0 for r in results.values())
    results = services.award_pending()
    assert all(r.entries == 0 for r in results.values())
    call_command("points", "award-pending")
    assert list(PointEntry.objects.order_by("id").values_list("event_key", "points")) == before
    assert services.balance_of(first) == 102
    _assert_balanced(first)
    _assert_balanced(second)


def test_a_replay_pays_records_inserted_without_hooks_and_applies_caps(point_rules: None) -> None:
    resident = _residents(1)[0]
    rule = PointRule.objects.get(event_kind=EventKind.SELF_MEASUREMENT)
    rule.active = False
    rule.save()
    for hour in range(7, 12):
        self_measurement(resident, at(DAY, hour))
    elderly_exam(resident, DAY)
    assert services.balance_of(resident) == 100
    rule.active = True
    rule.save()
    result = services.award_pending()[EventKind.SELF_MEASUREMENT]
    assert (result.entries, result.points) == (5, 6)
    assert services.balance_of(resident) == 106
    assert services.award_pending()[EventKind.SELF_MEASUREMENT].entries == 0
    _assert_balanced(resident)


def test_the_database_refuses_a_second_award_for_the_same_event(point_rules: None) -> None:
    resident = _residents(1)[0]
    elderly_exam(resident, DAY)
    entry = PointEntry.objects.get(resident=resident)
    duplicate = PointEntry(
        resident=resident,
        kind=EntryKind.EARN,
        rule=entry.rule,
        event_key=entry.event_key,
        points=100,
        occurred_on=DAY,
        recorded_at=entry.recorded_at,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_ledger_entries_are_never_changed_or_deleted(point_rules: None) -> None:
    resident = _residents(1)[0]
    elderly_exam(resident, DAY)
    entry = PointEntry.objects.get(resident=resident)
    entry.points = 1000
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    assert PointEntry.objects.get(pk=entry.pk).points == 100


def test_redemption_spends_points_and_stock(point_rules: None) -> None:
    resident = _residents(1)[0]
    elderly_exam(resident, DAY)
    scale = item(cost=80, stock=2)
    redemption = services.redeem(resident, scale.pk)
    assert redemption.cost == 80
    assert services.balance_of(resident) == 20
    assert CatalogueItem.objects.get(pk=scale.pk).stock == 1
    entry = PointEntry.objects.get(redemption=redemption)
    assert (entry.kind, entry.points) == (EntryKind.REDEEM, -80)
    _assert_balanced(resident)


@pytest.mark.parametrize(
    ("cost", "stock", "active", "message"),
    [(101, 5, True, "积分不足"), (50, 0, True, "无库存"), (50, 5, False, "下架")],
)
def test_a_redemption_that_cannot_go_ahead_fails_cleanly(
    point_rules: None, cost: int, stock: int, active: bool, message: str
) -> None:
    resident = _residents(1)[0]
    elderly_exam(resident, DAY)
    offer = CatalogueItem.objects.create(name="血压计", cost=cost, stock=stock, active=active)
    entries_before = PointEntry.objects.count()
    with pytest.raises(RedemptionRefused) as refused:
        services.redeem(resident, offer.pk)
    assert message in refused.value.message
    assert refused.value.field == "item_id"
    assert PointEntry.objects.count() == entries_before
    assert not Redemption.objects.filter(resident=resident).exists()
    assert CatalogueItem.objects.get(pk=offer.pk).stock == stock
    assert services.balance_of(resident) == 100


def test_capped_awards_pay_the_same_whatever_order_the_events_come_in() -> None:
    events = [PointEvent(1, DAY, f"k{i}", EventKind.SELF_MEASUREMENT) for i in range(5)]
    forward = rules.capped_awards(events, 2, 5, {})
    backward = rules.capped_awards(list(reversed(events)), 2, 5, {})
    assert forward == backward
    assert [paid for _, paid in forward] == [2, 2, 1, 0, 0]
    assert [paid for _, paid in rules.capped_awards(events[:2], 2, 5, {(1, DAY): 4})] == [1, 0]
    assert rules.capped_points(5, None, 1000) == 5
    with pytest.raises(ValueError, match="never negative"):
        rules.capped_points(-1, 5, 0)


# The property: whatever happens, in whatever order, each event pays once, no day passes its cap, and
# every balance equals the sum of its ledger.

_event = st.tuples(
    st.sampled_from([EventKind.SELF_MEASUREMENT, EventKind.EDUCATION_READ, EventKind.ELDERLY_EXAM]),
    st.integers(0, 2),  # resident
    st.integers(0, 2),  # day
    st.integers(0, 4),  # which event of that day
)
_step = st.one_of(
    st.tuples(st.just("award"), _event),
    st.tuples(st.just("replay"), st.lists(_event, max_size=6)),
    st.tuples(st.just("redeem"), st.tuples(st.integers(0, 2), st.sampled_from([3, 20, 150]))),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_step, min_size=1, max_size=25))
def test_balances_equal_the_ledger_sum_over_any_event_sequence(point_rules: None, steps: list) -> None:  # type: ignore[type-arg]
    residents = _residents(3)

    def event(spec: tuple[str, int, int, int]) -> PointEvent:
        kind, who, day, n = spec
        return PointEvent(residents[who].pk, DAY + timedelta(days=day), f"{kind}:{who}:{day}:{n}", kind)

    with transaction.atomic():
        items = {cost: item(cost=cost, stock=3, name=f"item {cost}") for cost in (3, 20, 150)}
        for action, payload in steps:
            if action == "award":
                services.award(event(payload))
            elif action == "replay":
                grouped: dict[str, list[PointEvent]] = {}
                for spec in payload:
                    grouped.setdefault(spec[0], []).append(event(spec))
                for kind, events in grouped.items():
                    services.award_events(kind, events)
            else:
                who, cost = payload
                with contextlib.suppress(RedemptionRefused):
                    services.redeem(residents[who], items[cost].pk)
        for resident in residents:
            assert services.balance_of(resident) >= 0
            _assert_balanced(resident)
        keys = list(PointEntry.objects.filter(kind=EntryKind.EARN).values_list("rule_id", "event_key"))
        assert len(keys) == len(set(keys))
        for rule in PointRule.objects.exclude(daily_cap=None):
            per_day = (
                PointEntry.objects.filter(rule=rule)
                .values("resident_id", "occurred_on")
                .annotate(total=Sum("points"))
            )
            assert all(row["total"] <= rule.daily_cap for row in per_day)
        transaction.set_rollback(True)


def test_a_yearly_assessment_earns_its_points_once_a_year(point_rules: None) -> None:
    from jiayi.care.models import Assessment

    resident = _residents(1)[0]
    assessment = Assessment.objects.create(resident=resident, year=2025, performed_on=DAY)
    assessment.save()
    assert services.balance_of(resident) == 50
    assert services.award_pending()[EventKind.YEARLY_ASSESSMENT].entries == 0
    Assessment.objects.create(resident=resident, year=2026, performed_on=date(2026, 2, 1))
    assert services.balance_of(resident) == 100
    _assert_balanced(resident)
