"""Builders shared by the referral tests: departments, slots and signed residents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from jiayi.referrals.choices import Pool, ServiceKind
from jiayi.referrals.models import Department, Slot
from jiayi.registry.choices import InstitutionKind
from jiayi.registry.models import Institution, Resident, Staff
from jiayi.signing.choices import ConsentKind, PackageKind, SigningChannel, SigningStatus
from jiayi.signing.models import Consent, ServicePackage, Signing
from jiayi.signing.services import district_of, team_of


def hospital() -> Institution:
    found = Institution.objects.filter(kind=InstitutionKind.REGIONAL_MEDICAL_CENTRE).order_by("id").first()
    assert found is not None
    return found


def make_department(
    at: Institution | None = None, code: str = "CARD", share: Decimal | None = None
) -> Department:
    return Department.objects.create(
        hospital=at or hospital(), code=code, name=f"{code}科", reserved_share=share
    )


def make_slots(
    department: Department,
    count: int,
    *,
    pool: str = Pool.RESERVED,
    first: datetime | None = None,
    minutes: int = 15,
) -> list[Slot]:
    """`count` consecutive slots from `first` (default: three days from now, 08:00 local)."""
    if first is None:
        first = (timezone.localtime() + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    return Slot.objects.bulk_create(
        Slot(
            hospital_id=department.hospital_id,
            department=department,
            service_kind=ServiceKind.CONSULTATION,
            start=first + timedelta(minutes=minutes * i),
            end=first + timedelta(minutes=minutes * (i + 1)),
            pool=pool,
        )
        for i in range(count)
    )


def sign_all(residents: Sequence[Resident], doctor: Staff, today: date | None = None) -> list[Signing]:
    """Active signings of the residents with the doctor, written directly: the tests here are about
    referrals, not about how a signing is made."""
    today = today or timezone.localdate()
    team = team_of(doctor)
    assert team is not None
    district = district_of(residents[0])
    assert district is not None
    package, _ = ServicePackage.objects.get_or_create(
        district=district,
        year=today.year,
        code="REF-BASIC",
        defaults={"name": "基础包", "kind": PackageKind.BASIC},
    )
    now = timezone.now()
    consents = Consent.objects.bulk_create(
        Consent(resident=r, kind=ConsentKind.SIGNING, text_version="2026.1", accepted_at=now)
        for r in residents
    )
    return Signing.objects.bulk_create(
        Signing(
            resident=r,
            family_doctor=doctor,
            team=team,
            centre=doctor.institution.centre,
            package=package,
            channel=SigningChannel.COUNTER,
            status=SigningStatus.ACTIVE,
            starts_on=today - timedelta(days=30),
            ends_on=today + timedelta(days=335),
            consent=c,
        )
        for r, c in zip(residents, consents, strict=True)
    )


def unsigned_residents(scope: Sequence[Resident] | None = None, count: int = 1) -> list[Resident]:
    qs = Resident.objects.filter(date_of_death__isnull=True, committee__isnull=False).exclude(
        signings__status__in=[SigningStatus.ACTIVE, SigningStatus.PENDING]
    )
    if scope is not None:
        qs = qs.filter(pk__in=[r.pk for r in scope])
    return list(qs.order_by("id")[:count])
