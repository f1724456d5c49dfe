"""Figures other modules read: reserved-slot utilisation and release rate per hospital, and whether a
visit came through a referral (so it counts toward the signed residents' visit compliance).

Each is built like its definition reads; a period is [start, end) over the slot's or visit's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from jiayi.records.models import Encounter
from jiayi.referrals.choices import OCCUPYING_STATUSES, Pool
from jiayi.referrals.models import Referral, Slot
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


def referral_visits(start: datetime, end: datetime) -> QuerySet[Encounter]:
    """Hospital visits made through a referral: encounters the referral desk recorded as seen."""
    return Encounter.objects.filter(start__gte=start, start__lt=end, referrals__isnull=False).distinct()


def came_through_referral(encounter: Encounter) -> bool:
    """Whether a visit was made through a referral (recorded by a desk, or linked to a referral)."""
    if encounter.source_system == ENCOUNTER_SOURCE:
        return True
    return Referral.objects.filter(encounter=encounter).exists()
