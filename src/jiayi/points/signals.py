"""Hooks on the source records: a verified action earns its points as it is saved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from jiayi.care.models import Assessment
from jiayi.points import rules, services
from jiayi.points.models import EventKind
from jiayi.records.models import ElderlyExam, Observation
from jiayi.records.signals import entries_written


def exam_event(instance: ElderlyExam) -> rules.PointEvent | None:
    """The points event of a 65+ exam: only a complete form earns."""
    if not instance.is_complete:
        return None
    return rules.PointEvent(
        instance.resident_id,
        instance.exam_date,
        rules.elderly_exam_key(instance.resident_id, instance.exam_date),
        EventKind.ELDERLY_EXAM,
    )


def measurement_event(instance: Observation) -> rules.PointEvent | None:
    """The points event of an observation: only self-measurements (health posts, wearables) earn."""
    if instance.method not in services.SELF_MEASURED:
        return None
    return rules.PointEvent(
        instance.resident_id,
        rules.local_day(instance.effective_at),
        rules.self_measurement_key(instance.resident_id, instance.effective_at),
        EventKind.SELF_MEASUREMENT,
    )


@receiver(post_save, sender=ElderlyExam, dispatch_uid="points_elderly_exam")
def elderly_exam_saved(sender: Any, instance: ElderlyExam, raw: bool = False, **kwargs: Any) -> None:
    event = None if raw else exam_event(instance)
    if event is not None:
        services.award(event)


@receiver(post_save, sender=Observation, dispatch_uid="points_self_measurement")
def observation_saved(sender: Any, instance: Observation, raw: bool = False, **kwargs: Any) -> None:
    event = None if raw else measurement_event(instance)
    if event is not None:
        services.award(event)


@receiver(entries_written, dispatch_uid="points_bulk_entries")
def entries_written_in_bulk(sender: Any, instances: Sequence[Any], **kwargs: Any) -> None:
    """Imports write in chunks without post_save: the chunk's events are paid in one bulk award, the
    ledger's event keys making a repeated entry pay nothing."""
    if sender is ElderlyExam:
        kind, events = EventKind.ELDERLY_EXAM, [exam_event(i) for i in instances]
    elif sender is Observation:
        kind, events = EventKind.SELF_MEASUREMENT, [measurement_event(i) for i in instances]
    else:
        return
    services.award_events(kind, [event for event in events if event is not None])


@receiver(post_save, sender=Assessment, dispatch_uid="points_yearly_assessment")
def assessment_saved(sender: Any, instance: Assessment, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    services.award(
        rules.PointEvent(
            instance.resident_id,
            instance.performed_on,
            rules.yearly_assessment_key(instance.resident_id, instance.year),
            EventKind.YEARLY_ASSESSMENT,
        )
    )
