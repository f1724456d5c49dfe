"""The booking race: many family-doctor requests for few reserved slots, through the HTTP API.

Kept apart from the test module so a child process can run it against a SQLite file database, as
jiayi runs SQLite (WAL, IMMEDIATE transactions, busy timeout): the test runner's in-memory SQLite uses
a shared cache whose table locks bypass the busy timeout, which is not how jiayi runs.
"""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from django.utils import timezone

from jiayi.referrals.choices import Pool, ServiceKind
from jiayi.referrals.models import Appointment, Department, Slot
from jiayi.registry import tokens
from jiayi.registry.choices import (
    AlternativeIdType,
    InstitutionKind,
    PlaceKind,
    PlaceLevel,
    Profession,
    Role,
    Sex,
    TeamRole,
)
from jiayi.registry.models import Account, Institution, Place, Resident, Staff, Team, TeamMembership
from jiayi.signing.choices import ConsentKind, PackageKind, SigningChannel, SigningStatus
from jiayi.signing.models import Consent, ServicePackage, Signing

ATTEMPTS = 200
SLOTS = 20


def build_race(tag: str = "RACE") -> dict[str, Any]:
    """A centre, a hospital department with SLOTS reserved slots, a family doctor with an API token,
    and ATTEMPTS residents signed with the doctor. Built with the ORM so it needs no generated district."""
    today = timezone.localdate()
    district = Place.objects.create(
        code=f"{tag}D", name="竞速区", level=PlaceLevel.DISTRICT, kind=PlaceKind.DISTRICT
    )
    committee = Place.objects.create(
        code=f"{tag}C",
        name="竞速居委",
        level=PlaceLevel.COMMITTEE,
        kind=PlaceKind.RESIDENTIAL_COMMITTEE,
        parent=district,
    )
    centre = Institution.objects.create(
        code=f"{tag}CHC",
        name="竞速社区卫生服务中心",
        kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE,
        place=district,
    )
    hospital = Institution.objects.create(
        code=f"{tag}RMC",
        name="竞速区域医疗中心",
        kind=InstitutionKind.REGIONAL_MEDICAL_CENTRE,
        place=district,
    )
    doctor = Staff.objects.create(
        code=f"{tag}GP",
        name="赛医生",
        profession=Profession.FAMILY_DOCTOR,
        institution=centre,
        is_registered_gp=True,
    )
    team = Team.objects.create(name=f"{tag}团队", centre=centre, lead=doctor)
    TeamMembership.objects.create(team=team, staff=doctor, team_role=TeamRole.LEAD)
    team.committees.add(committee)
    user = User.objects.create_user(f"{tag.lower()}-doctor")
    Account.objects.create(user=user, role=Role.FAMILY_DOCTOR, staff=doctor, institution=centre)
    _token, raw = tokens.issue_token(user, scopes="read write", days=1)
    residents = Resident.objects.bulk_create(
        Resident(
            alt_id_type=AlternativeIdType.PROVISIONAL,
            alt_id_number=f"{tag}{i:05d}",
            name=f"居民{i}",
            sex=Sex.FEMALE if i % 2 else Sex.MALE,
            birth_date=date(1950, 1, 1) + timedelta(days=i * 37),
            committee=committee,
        )
        for i in range(ATTEMPTS)
    )
    package = ServicePackage.objects.create(
        district=district, year=today.year, code=f"{tag}PKG", name="基础包", kind=PackageKind.BASIC
    )
    now = timezone.now()
    consents = Consent.objects.bulk_create(
        Consent(resident=r, kind=ConsentKind.SIGNING, text_version="2026.1", accepted_at=now)
        for r in residents
    )
    Signing.objects.bulk_create(
        Signing(
            resident=r,
            family_doctor=doctor,
            team=team,
            centre=centre,
            package=package,
            channel=SigningChannel.COUNTER,
            status=SigningStatus.ACTIVE,
            starts_on=today - timedelta(days=10),
            ends_on=today + timedelta(days=355),
            consent=c,
        )
        for r, c in zip(residents, consents, strict=True)
    )
    department = Department.objects.create(hospital=hospital, code=f"{tag}CARD", name="心内科")
    first = (timezone.localtime() + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
    slots = Slot.objects.bulk_create(
        Slot(
            hospital=hospital,
            department=department,
            service_kind=ServiceKind.CONSULTATION,
            start=first + timedelta(minutes=10 * i),
            end=first + timedelta(minutes=10 * (i + 1)),
            pool=Pool.RESERVED,
        )
        for i in range(SLOTS)
    )
    return {"token": raw, "residents": [r.pk for r in residents], "slots": [s.pk for s in slots]}


def run_race(token: str, residents: list[int], slots: list[int], workers: int) -> dict[str, Any]:
    """`workers` threads released at once send ATTEMPTS `$book` requests between them, attempt i for
    resident i on slot i mod SLOTS; returns the answers and the appointments that resulted."""
    start = threading.Barrier(workers)
    answers: list[tuple[int, int, str]] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            start.wait(timeout=60)
            for i in range(k, len(residents), workers):
                response = client.post(
                    f"/api/referrals/slots/{slots[i % len(slots)]}/$book",
                    json.dumps({"resident_id": residents[i]}),
                    content_type="application/json",
                )
                body = response.json()
                message = body["detail"][0]["message"] if response.status_code == 409 else str(body)[:200]
                with lock:
                    answers.append((response.status_code, residents[i], message))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    booked = list(Appointment.objects.filter(slot__in=slots).values_list("slot_id", "resident_id", "status"))
    return {"answers": answers, "appointments": booked}


def check_race(result: dict[str, Any], residents: list[int], slots: list[int]) -> None:
    answers = result["answers"]
    assert len(answers) == ATTEMPTS
    codes = sorted(code for code, _, _ in answers)
    assert codes == [201] * SLOTS + [409] * (ATTEMPTS - SLOTS), sorted(set(answers))[:5]
    assert {message for code, _, message in answers if code == 409} == {"slot no longer available"}
    appointments = result["appointments"]
    assert len(appointments) == SLOTS
    assert sorted(slot for slot, _, _ in appointments) == sorted(slots)
    winners = [resident for _, resident, _ in appointments]
    assert len(set(winners)) == SLOTS
    assert set(winners) == {resident for code, resident, _ in answers if code == 201}
    assert {status for _, _, status in appointments} == {"booked"}
