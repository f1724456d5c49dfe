"""A hand-built street of the test district: one committee, one centre with a team, a family doctor and
a district hospital, and helpers to add residents and their records. The street is new, so its figures
hold only what a test puts there."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.utils import timezone

from jiayi.records.choices import EncounterType, ObservationCode, ObservationMethod
from jiayi.records.lib import ELDERLY_EXAM_PARTS
from jiayi.records.models import Condition, ElderlyExam, Encounter, Observation
from jiayi.registry.choices import (
    InstitutionKind,
    PlaceKind,
    PlaceLevel,
    Profession,
    Sex,
    TeamRole,
)
from jiayi.registry.models import Institution, Place, Resident, ResidentialPoint, Staff, Team, TeamMembership
from jiayi.signing.choices import ConsentKind, PackageKind, SigningChannel, SigningStatus
from jiayi.signing.models import Consent, ServicePackage, Signing

AS_OF = date(2026, 6, 30)
_serial = itertools.count(1)
# Worlds get codes 3101059NN: place codes hold 12 characters, and each test rolls its world back.
_worlds = itertools.count(1)


def moment(day: date, hour: int = 9) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def complete_exam_parts() -> dict[str, dict[str, Any]]:
    return {part: dict.fromkeys(items, "normal") for part, items in ELDERLY_EXAM_PARTS.items()}


@dataclass
class World:
    district: Place
    street: Place
    committee: Place
    centre: Institution
    hospital: Institution
    doctor: Staff
    team: Team
    point: ResidentialPoint
    package: ServicePackage

    def resident(
        self,
        birth: date,
        *,
        lives_here: bool = True,
        record: bool = True,
        phone: str = "13800000000",
        died: date | None = None,
        sex: str = Sex.FEMALE,
    ) -> Resident:
        n = next(_serial)
        return Resident.objects.create(
            alt_id_type="provisional",
            alt_id_number=f"IND{n:06d}",
            health_record_number=f"99{n:015d}" if record else None,
            name=f"测试{n}",
            sex=sex,
            birth_date=birth,
            phone=phone,
            committee=self.committee,
            residential_point=self.point,
            is_resident=lives_here,
            is_registered=not lives_here,
            date_of_death=died,
        )

    def sign(self, resident: Resident, starts_on: date = date(2025, 7, 1), **extra: Any) -> Signing:
        consent = Consent.objects.create(
            resident=resident, kind=ConsentKind.SIGNING, text_version="t1", accepted_at=moment(starts_on)
        )
        return Signing.objects.create(
            resident=resident,
            family_doctor=self.doctor,
            team=self.team,
            centre=self.centre,
            district_hospital=extra.pop("district_hospital", None),
            package=self.package,
            channel=SigningChannel.COUNTER,
            status=extra.pop("status", SigningStatus.ACTIVE),
            starts_on=starts_on,
            ends_on=extra.pop("ends_on", date(2026, 12, 31)),
            consent=consent,
            **extra,
        )

    def diagnose(self, resident: Resident, code: str, onset: date) -> Condition:
        return Condition.objects.create(
            resident=resident,
            institution=self.centre,
            source_system="test",
            source_id=f"cond-{next(_serial)}",
            received_at=moment(onset),
            code=code,
            onset_date=onset,
        )

    def observe(
        self, resident: Resident, code: str, value: float, day: date, method: str = ObservationMethod.CLINIC
    ) -> Observation:
        unit = "mmol/L" if code == ObservationCode.FASTING_GLUCOSE else "mm[Hg]"
        return Observation.objects.create(
            resident=resident,
            institution=self.centre,
            source_system="test",
            source_id=f"obs-{next(_serial)}",
            received_at=moment(day),
            code=code,
            value=value,
            unit=unit,
            effective_at=moment(day),
            method=method,
            original_value=value,
            original_unit=unit,
        )

    def bp(self, resident: Resident, day: date, sbp: float, dbp: float) -> None:
        self.observe(resident, ObservationCode.SYSTOLIC_BP, sbp, day)
        self.observe(resident, ObservationCode.DIASTOLIC_BP, dbp, day)

    def visit(self, resident: Resident, day: date, institution: Institution | None = None) -> Encounter:
        return Encounter.objects.create(
            resident=resident,
            institution=institution or self.centre,
            source_system="test",
            source_id=f"enc-{next(_serial)}",
            received_at=moment(day),
            type=EncounterType.OUTPATIENT,
            start=moment(day),
        )

    def exam(self, resident: Resident, day: date, *, complete: bool = True) -> ElderlyExam:
        parts = complete_exam_parts()
        if not complete:
            parts["tests"] = {}
        return ElderlyExam.objects.create(
            resident=resident,
            institution=self.centre,
            source_system="test",
            source_id=f"exam-{next(_serial)}",
            received_at=moment(day),
            exam_date=day,
            **parts,
        )


def build_world() -> World:
    n = next(_worlds) % 100
    district = Place.objects.get(level=PlaceLevel.DISTRICT)
    street = Place.objects.create(
        code=f"3101059{n:02d}",
        name=f"测试街道{n}",
        level=PlaceLevel.SUB_DISTRICT,
        kind=PlaceKind.STREET,
        parent=district,
    )
    centre = Institution.objects.create(
        code=f"IND-C{n}",
        name=f"测试中心{n}",
        kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE,
        place=street,
        opened_on=date(2010, 1, 1),
    )
    hospital = Institution.objects.create(
        code=f"IND-H{n}", name=f"测试医院{n}", kind=InstitutionKind.DISTRICT_HOSPITAL, place=street
    )
    doctor = Staff.objects.create(
        code=f"IND-D{n}",
        name=f"医生{n}",
        profession=Profession.FAMILY_DOCTOR,
        institution=centre,
        is_registered_gp=True,
    )
    team = Team.objects.create(name=f"测试团队{n}", centre=centre, lead=doctor)
    TeamMembership.objects.create(team=team, staff=doctor, team_role=TeamRole.LEAD)
    committee = Place.objects.create(
        code=f"3101059{n:02d}001",
        name=f"测试居委{n}",
        level=PlaceLevel.COMMITTEE,
        kind=PlaceKind.RESIDENTIAL_COMMITTEE,
        parent=street,
        responsible_centre=centre,
        designated_doctor=doctor,
    )
    team.committees.add(committee)
    point = ResidentialPoint.objects.create(
        code=f"IND-P{n}", committee=committee, address=f"测试路{n}号", lat=31.2, lon=121.4
    )
    package = ServicePackage.objects.create(
        district=district, year=2099 - n, code=f"IND{n}", name="测试包", kind=PackageKind.BASIC
    )
    return World(district, street, committee, centre, hospital, doctor, team, point, package)
