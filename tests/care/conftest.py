"""Fixtures of the care tests: a few residents of the family doctor's panel, signed by the real clock
(the worklist reads today's date), and the programme enrolments the follow-up tests work on."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from jiayi import access
from jiayi.registry.models import Resident, Staff
from jiayi.signing import services as signing_services
from jiayi.signing.models import ServicePackage, Signing
from tests.signing.helpers import make_package, sign


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def doctor_staff(personas: Any) -> Staff:
    staff: Staff = personas.doctor.account.staff
    return staff


@pytest.fixture
def panel_residents(personas: Any) -> list[Resident]:
    """Living adults the doctor's team serves, aged 40–60 on 2026-01-01 (so no 65+ items)."""
    residents = list(
        access.residents_visible_to(personas.doctor)
        .exclude(pk=personas.resident.account.resident_id)
        .filter(
            date_of_death__isnull=True,
            citizen_id__isnull=False,
            birth_date__gte=date(1966, 1, 2),
            birth_date__lte=date(1986, 1, 1),
        )
        .order_by("id")[:6]
    )
    assert len(residents) == 6
    return residents


@pytest.fixture
def package(panel_residents: list[Resident], today: date) -> ServicePackage:
    district = signing_services.district_of(panel_residents[0])
    assert district is not None
    return make_package(district, today.year)


@pytest.fixture
def signed(
    panel_residents: list[Resident], doctor_staff: Staff, package: ServicePackage, today: date
) -> list[Signing]:
    return [sign(r, doctor_staff, package, confirm=True, today=today) for r in panel_residents]
