"""Builders shared by the care tests."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time

from django.utils import timezone

from jiayi.care import services
from jiayi.care.models import FollowUp, ProgrammeEnrolment
from jiayi.records.choices import ObservationCode
from jiayi.records.models import Condition, Observation
from jiayi.registry.models import Institution, Resident

_keys = itertools.count(1)


def _institution() -> Institution:
    found = Institution.objects.order_by("id").first()
    assert found is not None
    return found


def diagnose(resident: Resident, code: str, *, on: date | None = None) -> Condition:
    return Condition.objects.create(
        resident=resident,
        institution=_institution(),
        source_system="test",
        source_id=f"care-condition-{next(_keys)}",
        received_at=timezone.now(),
        code=code,
        recorded_date=on,
    )


def observe(resident: Resident, code: str, value: float, unit: str, on: date) -> Observation:
    return Observation.objects.create(
        resident=resident,
        institution=_institution(),
        source_system="test",
        source_id=f"care-observation-{next(_keys)}",
        received_at=timezone.now(),
        code=ObservationCode(code),
        value=value,
        unit=unit,
        original_value=value,
        original_unit=unit,
        effective_at=timezone.make_aware(datetime.combine(on, time(9, 0))),
    )


def enrol(resident: Resident, code: str, *, on: date) -> ProgrammeEnrolment:
    return services.do_enrol(None, resident, diagnose(resident, code, on=on), today=on)


def scheduled(enrolment: ProgrammeEnrolment) -> FollowUp:
    return FollowUp.objects.get(enrolment=enrolment, status="scheduled")
