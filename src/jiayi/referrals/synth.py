"""Synthetic referrals for a generated district: hospital departments and weekly schedules, their slots
(the reserved share of each session for family doctors), and referrals of signed residents with their
appointments, visits, no-shows and down-referrals, consistent with the district's hospitals and panels.

Slots cover four weeks before `as_of` and two after. Past reserved slots nobody booked were released at
the lead time, as the release task would have done. Rows go in with `insert_rows`; selection is
vectorised with numpy, so a district of 100k+ residents takes seconds. Deterministic per seed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any

import numpy as np
from django.db import transaction

from jiayi.records.choices import EncounterType
from jiayi.records.models import Encounter
from jiayi.referrals import rules
from jiayi.referrals.choices import (
    AppointmentStatus,
    Destination,
    Direction,
    Pool,
    ReferralStatus,
    RequestKind,
    ServiceKind,
    SlotStatus,
    Urgency,
)
from jiayi.referrals.models import Appointment, Department, Referral, ReferralEvent, ScheduleTemplate, Slot
from jiayi.referrals.services import ENCOUNTER_SOURCE, district_release_lead_hours, district_reserved_share
from jiayi.registry.choices import HOSPITAL_KINDS, Profession
from jiayi.registry.models import Institution, Staff
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing
from jiayi.synth.config import SynthConfig
from jiayi.synth.writer import insert_rows, next_id, reset_sequence

WEEKS_BEFORE = 4
WEEKS_AFTER = 2
# Of signed residents, referred up in the six weeks (about one in five a year, spread evenly).
REFERRAL_SHARE = 0.025
URGENT_SHARE = 0.15
NO_SHOW_SHARE = 0.06
DOWN_SHARE = 0.35  # of those seen, referred back down
PUBLIC_BOOKED_SHARE = 0.7  # of past public slots, booked by the public (not referrals)
REASONS = [
    "血压控制不佳",
    "血糖控制不佳",
    "胸闷待查",
    "头晕待查",
    "关节疼痛",
    "复查评估",
    "影像学检查",
    "专科会诊",
]
NEEDS = ["康复训练", "伤口换药", "用药随访", "鼻饲护理", "血压监测"]


def _catalogue() -> dict[str, Any]:
    text = resources.files("jiayi.referrals").joinpath("data/departments.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _aware(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=rules.SHANGHAI)


@transaction.atomic
def generate_referrals(config: SynthConfig, *, as_of: date, seed: int) -> dict[str, int]:
    """Generate departments, schedules, slots, referrals and appointments; returns counts per kind.

    Needs a district made by `generate_district(cfg, signings=True)`; without signings it makes the
    schedules and slots only.
    """
    del config  # the district in the database is the source of truth; kept for the generator's signature
    rng = np.random.default_rng(seed)
    catalogue = _catalogue()
    hospitals = list(Institution.objects.filter(kind__in=HOSPITAL_KINDS).order_by("id"))
    share = district_reserved_share()
    lead = timedelta(hours=district_release_lead_hours())
    first = as_of - timedelta(weeks=WEEKS_BEFORE)
    last = as_of + timedelta(weeks=WEEKS_AFTER)
    now = _aware(as_of, time(7, 0))

    departments: list[Department] = []
    templates: list[ScheduleTemplate] = []
    for hospital in hospitals:
        specialists = list(
            Staff.objects.filter(institution=hospital, profession=Profession.SPECIALIST).order_by("id")
        )
        for entry in catalogue["departments"]:
            if hospital.kind not in entry["kinds"]:
                continue
            department = Department(hospital=hospital, code=entry["code"], name=entry["name"])
            departments.append(department)
    Department.objects.bulk_create(departments)
    for department in departments:
        specialists = list(
            Staff.objects.filter(
                institution=department.hospital_id, profession=Profession.SPECIALIST
            ).order_by("id")
        )
        kind = next(e["service_kind"] for e in catalogue["departments"] if e["code"] == department.code)
        for i, session in enumerate(catalogue["sessions"]):
            specialist = (
                specialists[(department.pk + i) % len(specialists)]
                if specialists and kind == "consultation"
                else None
            )
            templates.append(
                ScheduleTemplate(
                    department=department,
                    specialist=specialist,
                    service_kind=kind,
                    weekday=session["weekday"],
                    start_time=time.fromisoformat(session["start"]),
                    end_time=time.fromisoformat(session["end"]),
                    slot_minutes=session["minutes"],
                )
            )
    ScheduleTemplate.objects.bulk_create(templates)

    # Slots: one row per template, day and position; reserved positions spread over each session.
    slot_rows: list[tuple[Any, ...]] = []
    slot_id = next_id(Slot)
    for template in templates:
        for day in rules.days_on_weekday(first, last, template.weekday):
            times = rules.session_times(day, template.start_time, template.end_time, template.slot_minutes)
            reserved = rules.reserved_positions(len(times), share)
            for i, (start, end) in enumerate(times):
                slot_rows.append(
                    (
                        slot_id,
                        template.department.hospital_id,
                        template.department_id,
                        template.specialist_id,
                        template.pk,
                        template.service_kind,
                        start.astimezone(UTC),
                        end.astimezone(UTC),
                        Pool.RESERVED if i in reserved else Pool.PUBLIC,
                        SlotStatus.FREE,
                        None,
                    )
                )
                slot_id += 1
    n_slots = len(slot_rows)
    starts = np.array([row[6].timestamp() for row in slot_rows]) if n_slots else np.zeros(0)
    reserved_mask = np.array([row[8] == Pool.RESERVED for row in slot_rows], dtype=bool)
    departments_of = np.array([row[2] for row in slot_rows], dtype=np.int64)
    booked = np.zeros(n_slots, dtype=bool)
    reserved_of = {d.pk: np.flatnonzero((departments_of == d.pk) & reserved_mask) for d in departments}
    pool = np.where(reserved_mask, Pool.RESERVED, Pool.PUBLIC).astype(object)
    released_at: list[datetime | None] = [None] * n_slots

    # Referrals of signed residents, each to a department of the hospital the centre refers to.
    signed = list(
        Signing.objects.filter(status=SigningStatus.ACTIVE)
        .order_by("resident_id")
        .values_list("resident_id", "family_doctor_id", "centre_id")
    )
    lead_of = {m.pk: m for m in Institution.objects.filter(led_consortia__isnull=False)}
    centre_hospital: dict[int, int] = {}
    for lead_id, member_id in Institution.objects.filter(led_consortia__members__isnull=False).values_list(
        "id", "led_consortia__members"
    ):
        centre_hospital.setdefault(member_id, lead_id)
    default_hospital = next(iter(lead_of), hospitals[0].pk if hospitals else None)
    dept_by_hospital: dict[int, list[Department]] = {}
    for department in departments:
        dept_by_hospital.setdefault(department.hospital_id, []).append(department)

    n_ref = round(len(signed) * REFERRAL_SHARE)
    picked = (
        np.sort(rng.choice(len(signed), size=n_ref, replace=False)) if n_ref else np.zeros(0, dtype=np.int64)
    )
    appointment_rows: list[tuple[Any, ...]] = []
    appointment_id = next_id(Appointment)
    referrals: list[Referral] = []
    referral_slots: list[int | None] = []
    for index in picked:
        resident_id, doctor_id, centre_id = signed[int(index)]
        target = centre_hospital.get(centre_id, default_hospital)
        if target is None or target not in dept_by_hospital:
            continue
        hospital_id: int = target
        options = dept_by_hospital[hospital_id]
        department = options[int(rng.integers(len(options)))]
        candidates = reserved_of[department.pk]
        free = candidates[~booked[candidates]]
        slot_index = int(free[int(rng.integers(len(free)))]) if len(free) else None
        urgent = bool(rng.random() < URGENT_SHARE)
        created = (
            datetime.fromtimestamp(float(starts[slot_index]), tz=UTC)
            - timedelta(days=int(rng.integers(2, 10)))
            if slot_index is not None
            else now - timedelta(days=int(rng.integers(0, 7)))
        )
        kind = {ServiceKind.EXAM: RequestKind.EXAM, ServiceKind.LAB: RequestKind.LAB}.get(
            ServiceKind(department_kind(department, catalogue)), RequestKind.VISIT
        )
        referrals.append(
            Referral(
                direction=Direction.UP,
                resident_id=resident_id,
                family_doctor_id=doctor_id,
                centre_id=centre_id,
                hospital_id=hospital_id,
                department=department,
                urgency=Urgency.URGENT if urgent else Urgency.ROUTINE,
                request_kind=kind,
                reason=REASONS[int(rng.integers(len(REASONS)))],
                status=ReferralStatus.SENT,
                created_at=min(created, now),
                status_changed_at=min(created, now),
            )
        )
        referral_slots.append(slot_index)
        if slot_index is not None:
            booked[slot_index] = True
    Referral.objects.bulk_create(referrals)

    events: list[ReferralEvent] = []
    encounters: list[Encounter] = []
    downs: list[Referral] = []
    linked: list[tuple[Referral, int]] = []
    for referral, slot_index in zip(referrals, referral_slots, strict=True):
        events.append(
            ReferralEvent(
                referral=referral, from_status="", to_status=ReferralStatus.DRAFT, at=referral.created_at
            )
        )
        events.append(
            ReferralEvent(
                referral=referral,
                from_status=ReferralStatus.DRAFT,
                to_status=ReferralStatus.SENT,
                at=referral.created_at,
            )
        )
        if slot_index is None:
            continue
        row = slot_rows[slot_index]
        slot_start: datetime = row[6]
        past = slot_start < now
        accepted_at = referral.created_at + timedelta(hours=4)
        no_show = past and bool(rng.random() < NO_SHOW_SHARE)
        appt_status = (
            AppointmentStatus.BOOKED
            if not past
            else AppointmentStatus.NO_SHOW
            if no_show
            else AppointmentStatus.FULFILLED
        )
        appointment_rows.append(
            (
                appointment_id,
                row[0],
                referral.resident_id,
                appt_status,
                Pool.RESERVED,
                None,
                referral.family_doctor_id,
                None,
                referral.created_at,
                slot_start if past else referral.created_at,
            )
        )
        linked.append((referral, appointment_id))
        appointment_id += 1
        events.append(
            ReferralEvent(
                referral=referral,
                from_status=ReferralStatus.SENT,
                to_status=ReferralStatus.ACCEPTED,
                at=accepted_at,
            )
        )
        events.append(
            ReferralEvent(
                referral=referral,
                from_status=ReferralStatus.ACCEPTED,
                to_status=ReferralStatus.BOOKED,
                at=accepted_at,
            )
        )
        referral.status = ReferralStatus.BOOKED
        referral.status_changed_at = accepted_at
        if not past or no_show:
            if no_show:
                events.append(
                    ReferralEvent(
                        referral=referral,
                        from_status=ReferralStatus.BOOKED,
                        to_status=ReferralStatus.ACCEPTED,
                        at=slot_start,
                        note="no-show",
                    )
                )
                referral.status = ReferralStatus.ACCEPTED
                referral.status_changed_at = slot_start
            continue
        seen_at = row[7]
        encounters.append(
            Encounter(
                resident_id=referral.resident_id,
                institution_id=referral.hospital_id,
                source_system=ENCOUNTER_SOURCE,
                source_id=f"referral/{referral.pk}",
                received_at=seen_at,
                type=EncounterType.OUTPATIENT,
                department=referral.department.name if referral.department else "",
                start=slot_start,
                end=seen_at,
                practitioner_id=row[3],
            )
        )
        events.append(
            ReferralEvent(
                referral=referral,
                from_status=ReferralStatus.BOOKED,
                to_status=ReferralStatus.SEEN,
                at=seen_at,
            )
        )
        referral.status = ReferralStatus.SEEN
        referral.status_changed_at = seen_at
        if rng.random() < DOWN_SHARE:
            returned_at = seen_at + timedelta(days=int(rng.integers(1, 5)))
            if returned_at >= now:
                continue
            destination = [Destination.FOLLOW_UP, Destination.COMMUNITY_BED, Destination.FAMILY_BED][
                int(rng.integers(3))
            ]
            down = Referral(
                direction=Direction.DOWN,
                resident_id=referral.resident_id,
                family_doctor_id=referral.family_doctor_id,
                centre_id=referral.centre_id,
                hospital_id=referral.hospital_id,
                department=referral.department,
                urgency=Urgency.ROUTINE,
                request_kind=referral.request_kind,
                destination=destination,
                reason="出院小结：病情稳定，转回社区继续管理",
                needs=[NEEDS[int(rng.integers(len(NEEDS)))]],
                status=ReferralStatus.SENT,
                parent=referral,
                created_at=returned_at,
                status_changed_at=returned_at,
            )
            downs.append(down)
            events.append(
                ReferralEvent(
                    referral=referral,
                    from_status=ReferralStatus.SEEN,
                    to_status=ReferralStatus.RETURNED,
                    at=returned_at,
                )
            )
            referral.status = ReferralStatus.RETURNED
            referral.status_changed_at = returned_at

    # Public bookings of past public slots, by people outside any referral.
    public_past = np.flatnonzero(~reserved_mask & (starts < now.timestamp()))
    booked_public = public_past[rng.random(len(public_past)) < PUBLIC_BOOKED_SHARE]
    resident_pool = np.array([row[0] for row in signed], dtype=np.int64)
    if len(resident_pool):
        for slot_index in booked_public:
            row = slot_rows[int(slot_index)]
            appointment_rows.append(
                (
                    appointment_id,
                    row[0],
                    int(resident_pool[int(rng.integers(len(resident_pool)))]),
                    AppointmentStatus.FULFILLED,
                    Pool.PUBLIC,
                    None,
                    None,
                    None,
                    row[6] - timedelta(days=3),
                    row[6],
                )
            )
            booked[int(slot_index)] = True
            appointment_id += 1

    # Reserved slots nobody booked were released at the lead time, as the release task does.
    due = reserved_mask & ~booked & (starts <= (now + lead).timestamp())
    for due_index in np.flatnonzero(due):
        pool[int(due_index)] = Pool.PUBLIC
        released_at[int(due_index)] = min(slot_rows[int(due_index)][6] - lead, now)

    insert_rows(
        Slot,
        [
            "id",
            "hospital_id",
            "department_id",
            "specialist_id",
            "template_id",
            "service_kind",
            "start",
            "end",
            "pool",
            "status",
            "released_at",
        ],
        (
            (*row[:8], str(pool[i]), SlotStatus.BOOKED if booked[i] else SlotStatus.FREE, released_at[i])
            for i, row in enumerate(slot_rows)
        ),
    )
    reset_sequence(Slot)
    insert_rows(
        Appointment,
        [
            "id",
            "slot_id",
            "resident_id",
            "status",
            "pool",
            "booked_by_id",
            "family_doctor_id",
            "hold_expires_at",
            "created_at",
            "status_changed_at",
        ],
        appointment_rows,
    )
    reset_sequence(Appointment)
    Encounter.objects.bulk_create(encounters, batch_size=2000)
    by_source = {e.source_id: e.pk for e in encounters}
    for referral, appointment_pk in linked:
        referral.appointment_id = appointment_pk
        referral.encounter_id = by_source.get(f"referral/{referral.pk}")
    Referral.objects.bulk_update(
        referrals, ["status", "status_changed_at", "appointment", "encounter"], batch_size=2000
    )
    Referral.objects.bulk_create(downs, batch_size=2000)
    events += [
        ReferralEvent(referral=d, from_status="", to_status=ReferralStatus.SENT, at=d.created_at)
        for d in downs
    ]
    ReferralEvent.objects.bulk_create(events, batch_size=5000)
    return {
        "departments": len(departments),
        "schedule_templates": len(templates),
        "slots": n_slots,
        "reserved_slots": int(reserved_mask.sum()),
        "released_slots": int(due.sum()),
        "appointments": len(appointment_rows),
        "referrals": len(referrals) + len(downs),
        "down_referrals": len(downs),
        "referral_visits": len(encounters),
    }


def department_kind(department: Department, catalogue: dict[str, Any]) -> str:
    return str(next(e["service_kind"] for e in catalogue["departments"] if e["code"] == department.code))
