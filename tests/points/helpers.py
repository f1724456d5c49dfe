"""Builders for the points tests: source records that earn points, a catalogue item."""

from __future__ import annotations

from datetime import date, datetime
from itertools import count

from django.utils import timezone

from jiayi.points.models import CatalogueItem
from jiayi.records import lib
from jiayi.records.choices import ObservationCode, ObservationMethod
from jiayi.records.models import ElderlyExam, Observation
from jiayi.registry.models import Institution, Resident

_ids = count(1)


def complete_parts() -> dict[str, dict[str, object]]:
    return {part: dict.fromkeys(items, "正常") for part, items in lib.ELDERLY_EXAM_PARTS.items()}


def centre() -> Institution:
    found = Institution.objects.order_by("id").first()
    assert found is not None
    return found


def elderly_exam(resident: Resident, on: date, *, complete: bool = True) -> ElderlyExam:
    parts = complete_parts()
    if not complete:
        parts["tests"]["ecg"] = ""
    return ElderlyExam.objects.create(
        resident=resident,
        institution=centre(),
        source_system="test-his",
        source_id=f"exam-{next(_ids)}",
        received_at=timezone.now(),
        exam_date=on,
        **parts,
    )


def self_measurement(
    resident: Resident, at: datetime, *, method: str = ObservationMethod.SMART_HEALTH_POST
) -> Observation:
    observation = unsaved_measurement(resident, at, method=method)
    observation.save()
    return observation


def unsaved_measurement(
    resident: Resident, at: datetime, *, method: str = ObservationMethod.SMART_HEALTH_POST
) -> Observation:
    """A health-post reading not stored yet, for writers that store in bulk."""
    return Observation(
        resident=resident,
        institution=centre(),
        source_system="health-post",
        source_id=f"obs-{next(_ids)}",
        received_at=timezone.now(),
        code=ObservationCode.SYSTOLIC_BP,
        value=128,
        unit="mm[Hg]",
        effective_at=at,
        method=method,
        original_value=128,
        original_unit="mmHg",
    )


def item(cost: int, stock: int = 5, name: str = "体脂秤") -> CatalogueItem:
    return CatalogueItem.objects.create(name=name, cost=cost, stock=stock)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))
