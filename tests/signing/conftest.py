"""Fixtures of the signing tests: packages, hospitals and extra GPs on the session's district."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from jiayi import access
from jiayi.registry.choices import InstitutionKind, PlaceLevel, Profession
from jiayi.registry.models import Institution, Place, Resident, Staff
from jiayi.signing import services
from jiayi.signing.models import ServicePackage

from .helpers import TODAY, make_gp, make_package


@pytest.fixture
def doctor_staff(personas: Any) -> Staff:
    staff: Staff = personas.doctor.account.staff
    return staff


@pytest.fixture
def district(resident_in_scope: Resident) -> Place:
    district = services.district_of(resident_in_scope)
    assert district is not None
    assert district.level == PlaceLevel.DISTRICT
    return district


@pytest.fixture
def package(district: Place) -> ServicePackage:
    return make_package(district, TODAY.year)


@pytest.fixture
def packages_now(district: Place) -> list[ServicePackage]:
    """This year's and next year's packages by the real clock, for tests through the API."""
    year = timezone.localdate().year
    return [make_package(district, year), make_package(district, year + 1)]


def _first(queryset: Any) -> Any:
    found = queryset.order_by("id").first()
    assert found is not None
    return found


@pytest.fixture
def district_hospital() -> Institution:
    found: Institution = _first(Institution.objects.filter(kind=InstitutionKind.DISTRICT_HOSPITAL))
    return found


@pytest.fixture
def municipal_hospital() -> Institution:
    found: Institution = _first(Institution.objects.filter(kind=InstitutionKind.MUNICIPAL_HOSPITAL))
    return found


@pytest.fixture
def specialist() -> Staff:
    found: Staff = _first(
        Staff.objects.filter(
            profession=Profession.SPECIALIST, institution__kind=InstitutionKind.MUNICIPAL_HOSPITAL
        )
    )
    return found


@pytest.fixture
def second_gp(doctor_staff: Staff) -> Staff:
    return make_gp(doctor_staff.institution.centre, "T-GP-02")


@pytest.fixture
def third_gp(doctor_staff: Staff) -> Staff:
    return make_gp(doctor_staff.institution.centre, "T-GP-03")


@pytest.fixture
def residents_in_scope(personas: Any) -> list[Resident]:
    """Living residents the family doctor's team serves, the resident persona left out."""
    residents = list(
        access.residents_visible_to(personas.doctor)
        .exclude(pk=personas.resident.account.resident_id)
        .filter(date_of_death__isnull=True)
        .order_by("id")[:6]
    )
    assert len(residents) == 6
    return residents
