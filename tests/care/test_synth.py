"""Synthetic care on a small signed panel: consistent with the diagnoses, signings and exam forms,
realistic (some patients overdue), and the same for the same seed."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest
from django.db import transaction

from jiayi import access
from jiayi.care.models import Assessment, Contact, ElderlyCareYear, FollowUp, PlanItem, ProgrammeEnrolment
from jiayi.care.synth import generate_care
from jiayi.registry.models import Resident, Staff
from jiayi.signing import services as signing_services
from tests.conftest import TEST_DISTRICT
from tests.signing.helpers import make_package, sign

from .helpers import diagnose

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 1, 1)


@pytest.fixture
def panel(personas: Any) -> list[Resident]:
    doctor: Staff = personas.doctor.account.staff
    residents = list(
        access.residents_visible_to(personas.doctor)
        .filter(date_of_death__isnull=True, birth_date__lte=date(1990, 1, 1))
        .order_by("id")[:60]
    )
    assert len(residents) >= 30
    district = signing_services.district_of(residents[0])
    assert district is not None
    package = make_package(district, 2025)
    for n, resident in enumerate(residents):
        sign(resident, doctor, package, confirm=True, today=date(2025, 1, 2))
        if n % 3 == 0:
            diagnose(resident, "I10", on=date(2024, 6, 1))
        if n % 5 == 0:
            diagnose(resident, "E11.9", on=date(2024, 9, 1))
    return residents


class _Rollback(Exception):
    pass


def _snapshot(seed: int) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    try:
        with transaction.atomic():
            counts = generate_care(TEST_DISTRICT, as_of=AS_OF, seed=seed)
            rows = list(
                FollowUp.objects.order_by("resident_id", "programme", "scheduled_on").values_list(
                    "resident_id",
                    "programme",
                    "scheduled_on",
                    "status",
                    "sbp",
                    "fasting_glucose_mmol",
                    "classification",
                )
            )
            raise _Rollback
    except _Rollback:
        return counts, rows


def test_it_generates_care_consistent_with_the_district(panel: list[Resident]) -> None:
    counts = generate_care(TEST_DISTRICT, as_of=AS_OF, seed=5)

    expected = sum(1 for n in range(len(panel)) if n % 3 == 0) + sum(
        1 for n in range(len(panel)) if n % 5 == 0
    )
    assert counts["enrolments"] == ProgrammeEnrolment.objects.count() == expected
    assert counts["follow_ups"] == FollowUp.objects.count()
    assert counts["assessments"] == Assessment.objects.count() > 0
    assert counts["plan_items"] == PlanItem.objects.count() >= counts["assessments"]
    assert counts["contacts"] == Contact.objects.count() > 0
    assert counts["elderly_care_years"] == ElderlyCareYear.objects.count()
    # Every enrolment ends with exactly one visit nobody has made yet.
    open_visits = Counter(FollowUp.objects.filter(status="scheduled").values_list("enrolment_id", flat=True))
    assert set(open_visits.values()) == {1}
    assert len(open_visits) == counts["enrolments"]
    overdue = FollowUp.objects.filter(status="scheduled", scheduled_on__lt=AS_OF).count()
    assert 0 < overdue < counts["enrolments"]
    done = FollowUp.objects.filter(status="done")
    assert not done.filter(classification="").exists()
    assert not done.filter(programme="hypertension", sbp__isnull=True).exists()
    assert not done.filter(programme="diabetes", fasting_glucose_mmol__isnull=True).exists()
    assert set(done.values_list("classification", flat=True)) <= {
        "controlled",
        "first_uncontrolled",
        "uncontrolled_twice",
    }
    controlled = done.filter(classification="controlled").count() / done.count()
    assert 0.3 < controlled < 0.95
    patients = set(ProgrammeEnrolment.objects.values_list("resident_id", flat=True))
    assert (
        set(Assessment.objects.filter(classification="patient").values_list("resident_id", flat=True))
        <= patients
    )


def test_the_same_seed_gives_the_same_care(panel: list[Resident]) -> None:
    first, second, other = _snapshot(5), _snapshot(5), _snapshot(6)

    assert first == second
    assert first[1] != other[1]
