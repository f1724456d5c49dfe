"""Figures other modules read: reserved-slot utilisation and release rate per hospital (and the slot
facts the indicators count them from), and whether a visit came through a referral (so it counts
toward the signed residents' visit compliance).

Each is built like its definition reads; a period is [start, end) over the slot's or visit's start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from jiayi.records.models import Encounter
from jiayi.referrals.choices import OCCUPYING_STATUSES, Direction, Pool
from jiayi.referrals.models import Appointment, Referral, Slot
from jiayi.referrals.services import ENCOUNTER_SOURCE


@dataclass(frozen=True, slots=True)
class ReservedSlotUse:
    """Of the slots a hospital reserved for family doctors in a period: how many family doctors booked
    (utilisation) and how many went unused to the public pool at the lead time (release rate)."""

    hospital_id: int
    reserved: int
    booked_by_family_doctors: int
    released: int

    @property
    def utilisation(self) -> float | None:
        return self.booked_by_family_doctors / self.reserved if self.reserved else None

    @property
    def release_rate(self) -> float | None:
        return self.released / self.reserved if self.reserved else None


def reserved_slots(start: datetime, end: datetime) -> QuerySet[Slot]:
    """Slots reserved when generated: still in the reserved pool, or released from it."""
    return Slot.objects.filter(start__gte=start, start__lt=end).filter(
        Q(pool=Pool.RESERVED) | Q(released_at__isnull=False)
    )


def reserved_slot_use(start: datetime, end: datetime) -> dict[int, ReservedSlotUse]:
    """Reserved-slot utilisation and release rate per hospital (hospital id → figures)."""
    booked = Q(appointments__status__in=OCCUPYING_STATUSES, appointments__pool=Pool.RESERVED)
    rows = (
        reserved_slots(start, end)
        .values("hospital_id")
        .annotate(
            reserved=Count("id", distinct=True),
            booked=Count("id", filter=booked, distinct=True),
            released=Count("id", filter=Q(released_at__isnull=False), distinct=True),
        )
        .order_by("hospital_id")
    )
    return {
        row["hospital_id"]: ReservedSlotUse(
            hospital_id=row["hospital_id"],
            reserved=row["reserved"],
            booked_by_family_doctors=row["booked"],
            released=row["released"],
        )
        for row in rows
    }


@dataclass(frozen=True, slots=True)
class SlotFact:
    """What the per-hospital slot indicators need to know about one slot (号源指标事实)."""

    slot_id: int
    hospital_id: int
    reserved: bool  # generated into the reserved pool: still there, or released from it
    booked_from_reserve: bool  # a family doctor holds or booked it while it was reserved
    released: bool  # went unused to the public pool at the lead time


def slot_facts(start: datetime, end: datetime, hospital_ids: Sequence[int] | None = None) -> list[SlotFact]:
    """The facts of every slot starting in [start, end), of these hospitals (None: all), by slot id.
    Counted as `reserved_slot_use` counts, so the desk's figures and the indicators agree."""
    booked = Appointment.objects.filter(
        slot=OuterRef("pk"), status__in=OCCUPYING_STATUSES, pool=Pool.RESERVED
    )
    slots = Slot.objects.filter(start__gte=start, start__lt=end)
    if hospital_ids is not None:
        slots = slots.filter(hospital_id__in=list(hospital_ids))
    out: list[SlotFact] = []
    for slot_id, hospital_id, pool, released_at, taken in (
        slots.annotate(taken=Exists(booked))
        .order_by("id")
        .values_list("id", "hospital_id", "pool", "released_at", "taken")
    ):
        reserved = pool == Pool.RESERVED or released_at is not None
        out.append(
            SlotFact(slot_id, hospital_id, reserved, reserved and bool(taken), released_at is not None)
        )
    return out


def referral_visits(start: datetime, end: datetime) -> QuerySet[Encounter]:
    """Hospital visits made through a referral: encounters the referral desk recorded as seen."""
    return Encounter.objects.filter(start__gte=start, start__lt=end, referrals__isnull=False).distinct()


def came_through_referral(encounter: Encounter) -> bool:
    """Whether a visit was made through a family doctor's referral (recorded by a desk, or linked to
    an up-referral)."""
    if encounter.source_system == ENCOUNTER_SOURCE:
        return True
    return Referral.objects.filter(encounter=encounter, direction=Direction.UP).exists()


def referral_visit_ids(residents: dict[str, Any], start: datetime, end: datetime) -> set[int]:
    """Ids of the visits starting in [start, end) that came through a family doctor's referral, among
    the residents `residents` selects (filter keywords over `resident_id`).

    Two sources, as in `came_through_referral`: the encounters the referral desk recorded (known by
    their source even before the referral row links them, inside the same transaction) and any
    encounter an up-referral links to (a hospital's own record matched to the referral later)."""
    recorded = Encounter.objects.filter(
        **residents, source_system=ENCOUNTER_SOURCE, start__gte=start, start__lt=end
    ).values_list("id", flat=True)
    linked = Referral.objects.filter(
        **residents,
        direction=Direction.UP,
        encounter__isnull=False,
        encounter__start__gte=start,
        encounter__start__lt=end,
    ).values_list("encounter_id", flat=True)
    return set(recorded) | {encounter_id for encounter_id in linked if encounter_id is not None}
