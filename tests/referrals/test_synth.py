"""The synthetic referrals: consistent with the district's hospitals and panels, and deterministic."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.db.models import Count, F

from jiayi.records.models import Encounter
from jiayi.referrals.choices import AppointmentStatus, Direction, Pool, ReferralStatus
from jiayi.referrals.indicators import came_through_referral, reserved_slot_use
from jiayi.referrals.models import Appointment, Department, Referral, Slot
from jiayi.referrals.rules import SHANGHAI
from jiayi.referrals.synth import generate_referrals
from jiayi.registry.choices import HOSPITAL_KINDS
from jiayi.registry.models import Resident, Team
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing
from tests.conftest import TEST_DISTRICT

from .helpers import sign_all

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 1, 1)


def _snapshot() -> list[tuple[object, ...]]:
    return list(
        Referral.objects.order_by("id").values_list(
            "direction", "resident_id", "department__code", "status", "urgency"
        )
    )


def _sign_a_panel() -> None:
    """The session's district is unsigned; sign living residents with their committee's team lead."""
    for team in Team.objects.order_by("id"):
        residents = list(
            Resident.objects.filter(committee__in=team.committees.all(), date_of_death__isnull=True)
            .exclude(signings__status=SigningStatus.ACTIVE)
            .order_by("id")[:200]
        )
        if residents:
            sign_all(residents, team.lead, today=AS_OF)


def test_it_generates_referrals_consistent_with_hospitals_and_panels() -> None:
    _sign_a_panel()
    counts = generate_referrals(TEST_DISTRICT, as_of=AS_OF, seed=3)

    assert counts["referrals"] == Referral.objects.count() > 0
    assert counts["slots"] == Slot.objects.count()
    assert set(Department.objects.values_list("hospital__kind", flat=True)) <= set(HOSPITAL_KINDS)
    active = set(
        Signing.objects.filter(status=SigningStatus.ACTIVE).values_list("resident_id", "family_doctor_id")
    )
    for resident_id, doctor_id in Referral.objects.filter(direction=Direction.UP).values_list(
        "resident_id", "family_doctor_id"
    ):
        assert (resident_id, doctor_id) in active
    assert not Referral.objects.exclude(department__hospital=F("hospital")).exists()
    reserved_bookings = Appointment.objects.filter(pool=Pool.RESERVED)
    assert reserved_bookings.exclude(family_doctor__isnull=False).count() == 0
    assert not (
        Appointment.objects.exclude(status=AppointmentStatus.CANCELLED)
        .values("slot")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    seen = Referral.objects.filter(encounter__isnull=False)
    assert seen.count() == counts["referral_visits"]
    assert all(came_through_referral(e) for e in Encounter.objects.filter(referrals__in=seen)[:20])
    assert (
        Referral.objects.filter(direction=Direction.DOWN, parent__status=ReferralStatus.RETURNED).count()
        == (counts["down_referrals"])
    )
    window_start = datetime(2025, 12, 1, tzinfo=SHANGHAI)
    use = reserved_slot_use(window_start, window_start + timedelta(days=60))
    assert use
    for figures in use.values():
        assert figures.reserved > 0
        assert 0 <= (figures.utilisation or 0) <= 1
        assert 0 <= (figures.release_rate or 0) <= 1
        assert figures.booked_by_family_doctors + figures.released <= figures.reserved


def test_it_is_deterministic_per_seed() -> None:
    _sign_a_panel()
    generate_referrals(TEST_DISTRICT, as_of=AS_OF, seed=5)
    first = _snapshot()
    Referral.objects.filter(direction=Direction.DOWN).delete()
    Referral.objects.all().delete()
    Appointment.objects.all().delete()
    Encounter.objects.filter(source_system="jiayi-referrals").delete()
    Slot.objects.all().delete()
    Department.objects.all().delete()
    generate_referrals(TEST_DISTRICT, as_of=AS_OF, seed=5)
    assert [row[1:] for row in _snapshot()] == [row[1:] for row in first]
