"""Awarding and spending health points.

`award` is what the source models' hooks call for one event; `award_pending` replays every verified
action on record (records inserted in bulk bypass the hooks) and pays only the events the ledger does not
hold yet. Both are idempotent: the ledger's (rule, event_key) constraint is the guard, not a prior read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from jiayi.care.models import Assessment
from jiayi.points import rules
from jiayi.points.models import (
    CatalogueItem,
    EntryKind,
    EventKind,
    PointAccount,
    PointEntry,
    PointRule,
    Redemption,
)
from jiayi.points.rules import PointEvent, RedemptionRefused
from jiayi.records.choices import ObservationMethod
from jiayi.records.lib import is_elderly_exam_complete
from jiayi.records.models import ElderlyExam, Observation
from jiayi.registry.models import Resident
from jiayi.synth.writer import insert_rows

SELF_MEASURED = (ObservationMethod.SMART_HEALTH_POST, ObservationMethod.WEARABLE)
_BATCH = 5_000
_ENTRY_COLUMNS = (
    "resident_id",
    "kind",
    "rule_id",
    "event_key",
    "points",
    "requested",
    "occurred_on",
    "recorded_at",
)


def ensure_default_rules() -> int:
    """Create the default rules that do not exist yet (existing ones keep their edited values)."""
    created = 0
    for default in rules.DEFAULT_RULES:
        _, made = PointRule.objects.get_or_create(
            event_kind=default.event_kind,
            defaults={
                "code": default.code,
                "name": default.name,
                "points": default.points,
                "daily_cap": default.daily_cap,
            },
        )
        created += made
    return created


def _rule(kind: str) -> PointRule | None:
    return PointRule.objects.filter(event_kind=kind, active=True).first()


def _locked_account(resident_id: int) -> PointAccount:
    PointAccount.objects.get_or_create(resident_id=resident_id)
    return PointAccount.objects.select_for_update().get(resident_id=resident_id)


def award(event: PointEvent) -> PointEntry | None:
    """Pay one event under its rule; None when the rule is off or the event was already paid."""
    rule = _rule(event.kind)
    if rule is None:
        return None
    with transaction.atomic():
        # Locking the account serialises a resident's awards, so two events of one day cannot both
        # read the same day total and pass the cap together.
        account = _locked_account(event.resident_id)
        if PointEntry.objects.filter(rule=rule, event_key=event.key).exists():
            return None
        earned = (
            PointEntry.objects.filter(
                rule=rule, resident_id=event.resident_id, occurred_on=event.occurred_on
            ).aggregate(total=Sum("points"))["total"]
            or 0
        )
        paid = rules.capped_points(rule.points, rule.daily_cap, earned)
        try:
            with transaction.atomic():
                entry = PointEntry.objects.create(
                    resident_id=event.resident_id,
                    kind=EntryKind.EARN,
                    rule=rule,
                    event_key=event.key,
                    points=paid,
                    requested=rule.points,
                    occurred_on=event.occurred_on,
                    recorded_at=timezone.now(),
                )
        except IntegrityError:
            # Another process paid the same event between our check and our insert.
            return None
        if paid:
            PointAccount.objects.filter(pk=account.pk).update(balance=F("balance") + paid)
    return entry


# Events on record -------------------------------------------------------------------------------------


def elderly_exam_events(queryset: Iterable[ElderlyExam] | None = None) -> Iterator[PointEvent]:
    """Complete 65+ health checks (体检表完整), one event per resident and year."""
    exams: Any = queryset if queryset is not None else ElderlyExam.objects.all()
    if hasattr(exams, "values_list"):
        rows = exams.values_list(
            "resident_id", "exam_date", "assessment", "physical", "tests", "guidance"
        ).iterator(chunk_size=_BATCH)
    else:
        rows = ((e.resident_id, e.exam_date, e.assessment, e.physical, e.tests, e.guidance) for e in exams)
    for resident_id, exam_date, assessment, physical, tests, guidance in rows:
        parts = {"assessment": assessment, "physical": physical, "tests": tests, "guidance": guidance}
        if is_elderly_exam_complete(parts):
            yield PointEvent(
                resident_id, exam_date, rules.elderly_exam_key(resident_id, exam_date), EventKind.ELDERLY_EXAM
            )


def self_measurement_events() -> Iterator[PointEvent]:
    """Measurements residents took themselves at a smart health post or with a wearable."""
    rows = (
        Observation.objects.filter(method__in=SELF_MEASURED)
        .values_list("resident_id", "effective_at")
        .iterator(chunk_size=_BATCH)
    )
    for resident_id, effective_at in rows:
        yield PointEvent(
            resident_id,
            rules.local_day(effective_at),
            rules.self_measurement_key(resident_id, effective_at),
            EventKind.SELF_MEASUREMENT,
        )


def education_read_events() -> Iterator[PointEvent]:
    from jiayi.education.models import Reading  # the education app depends on points, not the reverse

    rows = Reading.objects.values_list("resident_id", "article_id", "read_at").iterator(chunk_size=_BATCH)
    for resident_id, article_id, read_at in rows:
        yield PointEvent(
            resident_id,
            rules.local_day(read_at),
            rules.education_read_key(resident_id, article_id),
            EventKind.EDUCATION_READ,
        )


def yearly_assessment_events() -> Iterator[PointEvent]:
    """Yearly health assessments (年度健康评估), one per resident and year."""
    rows = Assessment.objects.values_list("resident_id", "year", "performed_on").iterator(chunk_size=_BATCH)
    for resident_id, year, performed_on in rows:
        yield PointEvent(
            resident_id,
            performed_on,
            rules.yearly_assessment_key(resident_id, year),
            EventKind.YEARLY_ASSESSMENT,
        )


def events_on_record() -> dict[str, Iterable[PointEvent]]:
    return {
        EventKind.YEARLY_ASSESSMENT: yearly_assessment_events(),
        EventKind.ELDERLY_EXAM: elderly_exam_events(),
        EventKind.SELF_MEASUREMENT: self_measurement_events(),
        EventKind.EDUCATION_READ: education_read_events(),
    }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    entries: int
    points: int


def award_events(kind: str, events: Iterable[PointEvent]) -> ReplayResult:
    """Pay, in bulk, the events of one kind that the ledger does not hold yet."""
    rule = _rule(kind)
    if rule is None:
        return ReplayResult(0, 0)
    events = list(events)
    if not events:
        return ReplayResult(0, 0)
    ledger = PointEntry.objects.filter(rule=rule)
    if len(events) <= _BATCH:
        # An import chunk: look up only its own keys rather than the rule's whole ledger.
        ledger = ledger.filter(event_key__in=[event.key for event in events])
    paid_keys = set(ledger.values_list("event_key", flat=True))
    fresh: dict[str, PointEvent] = {}
    for event in events:
        if event.key not in paid_keys and event.key not in fresh:
            fresh[event.key] = event
    if not fresh:
        return ReplayResult(0, 0)
    days = {(e.resident_id, e.occurred_on) for e in fresh.values()}
    residents = {r for r, _ in days}
    already = {(r, day): total for r, day, total in _day_totals(rule, residents)}
    awards = rules.capped_awards(fresh.values(), rule.points, rule.daily_cap, already)
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    by_resident: dict[int, int] = defaultdict(int)
    with transaction.atomic():
        # Straight to the table (COPY on PostgreSQL): the ORM's per-row instances cost more than the
        # insert itself at district scale. The unique (rule, event_key) constraint still guards the replay.
        insert_rows(
            PointEntry,
            _ENTRY_COLUMNS,
            (
                (
                    event.resident_id,
                    EntryKind.EARN.value,
                    rule.pk,
                    event.key,
                    paid,
                    rule.points,
                    ops.adapt_datefield_value(event.occurred_on),
                    now,
                )
                for event, paid in awards
            ),
            chunk_size=_BATCH,
        )
        for event, paid in awards:
            by_resident[event.resident_id] += paid
        add_to_balances(by_resident)
    return ReplayResult(len(awards), sum(by_resident.values()))


def _day_totals(rule: PointRule, residents: set[int]) -> Iterator[tuple[int, date, int]]:
    """What each (resident, day) already earned under the rule."""
    entries = PointEntry.objects.filter(rule=rule)
    # Filtering by resident only pays off for a few; a district-wide replay reads the rule's totals.
    if len(residents) <= 500:
        entries = entries.filter(resident_id__in=residents)
    yield from (
        entries.values_list("resident_id", "occurred_on")
        .annotate(total=Sum("points"))
        .values_list("resident_id", "occurred_on", "total")
        .iterator(chunk_size=_BATCH)
    )


def add_to_balances(by_resident: dict[int, int]) -> None:
    """Move each resident's balance by their amount, creating accounts as needed. Increments (not
    recomputed sums), so a concurrent award between our read and write is never lost."""
    existing = set(
        PointAccount.objects.filter(resident_id__in=list(by_resident)).values_list("resident_id", flat=True)
    )
    PointAccount.objects.bulk_create(
        [PointAccount(resident_id=r, balance=0) for r in by_resident if r not in existing], batch_size=_BATCH
    )
    changes = sorted((amount, r) for r, amount in by_resident.items() if amount)
    table = connection.ops.quote_name(PointAccount._meta.db_table)
    # One prepared statement for all residents: the ORM's per-resident UPDATE costs a round of query
    # building each.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET balance = balance + %s WHERE resident_id = %s",  # noqa: S608
            changes,
        )


def award_pending() -> dict[str, ReplayResult]:
    """Replay every verified action on record; pays only what the ledger does not hold yet."""
    return {kind: award_events(kind, events) for kind, events in events_on_record().items()}


# Redemption -------------------------------------------------------------------------------------------


def redeem(resident: Resident, item_id: int, *, by: Any = None) -> Redemption:
    """Take one unit of a catalogue item for points. Raises RedemptionRefused (nothing written) when the
    item is gone, out of stock or costs more than the balance."""
    with transaction.atomic():
        account = _locked_account(resident.pk)
        item = CatalogueItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            raise RedemptionRefused("item_id", f"没有该兑换项目 No catalogue item {item_id}")
        rules.check_redemption(balance=account.balance, cost=item.cost, stock=item.stock, active=item.active)
        now = timezone.now()
        redemption = Redemption.objects.create(
            resident=resident, item=item, cost=item.cost, redeemed_at=now, redeemed_by=by
        )
        PointEntry.objects.create(
            resident=resident,
            kind=EntryKind.REDEEM,
            event_key=f"redemption:{redemption.pk}",
            points=-item.cost,
            occurred_on=timezone.localdate(now),
            recorded_at=now,
            redemption=redemption,
        )
        CatalogueItem.objects.filter(pk=item.pk).update(stock=F("stock") - 1)
        PointAccount.objects.filter(pk=account.pk).update(balance=F("balance") - item.cost)
    return redemption


def balance_of(resident: Resident | int) -> int:
    resident_id = resident if isinstance(resident, int) else resident.pk
    found = PointAccount.objects.filter(resident_id=resident_id).values_list("balance", flat=True).first()
    return int(found or 0)


def ledger_sum(resident: Resident | int) -> int:
    resident_id = resident if isinstance(resident, int) else resident.pk
    return int(PointEntry.objects.filter(resident_id=resident_id).aggregate(s=Sum("points"))["s"] or 0)
