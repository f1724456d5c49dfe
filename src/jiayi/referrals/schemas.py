"""Request and response shapes of the referrals API.

Residents appear by id and masked name only: no response carries a citizen ID or phone number.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Field, Schema

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
from jiayi.registry.identity import mask_name
from jiayi.registry.schemas import FieldErrorOut, InstitutionRef, StaffRef

MAX_SLOTS = 200


class MaskedResident(Schema):
    id: int
    name: str

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return mask_name(obj.name)


class DepartmentOut(Schema):
    id: int
    hospital: InstitutionRef
    code: str
    name: str
    reserved_share: float

    @staticmethod
    def resolve_reserved_share(obj: Any) -> float:
        from jiayi.referrals.services import reserved_share_of

        return float(reserved_share_of(obj))


class DepartmentRef(Schema):
    id: int
    code: str
    name: str


class SlotOut(Schema):
    """A FHIR-like Slot: its schedule is the department (and specialist) at the hospital."""

    id: int
    hospital_id: int
    department: DepartmentRef
    specialist: StaffRef | None
    service_kind: ServiceKind
    start: datetime
    end: datetime
    pool: Pool
    status: SlotStatus


class SlotFilters(Schema):
    hospital_id: int | None = None
    department_id: int | None = None
    service_kind: ServiceKind | None = None
    pool: Pool | None = None
    start_from: datetime | None = None
    start_to: datetime | None = None
    limit: int = Field(50, ge=1, le=MAX_SLOTS)


class BookIn(Schema):
    resident_id: int


class AppointmentOut(Schema):
    id: int
    slot: SlotOut
    resident: MaskedResident
    status: AppointmentStatus
    pool: Pool
    family_doctor: StaffRef | None
    hold_expires_at: datetime | None
    created_at: datetime
    status_changed_at: datetime


class SlotUnavailableOut(Schema):
    """409: someone else took the slot first; pick another."""

    detail: list[FieldErrorOut]
    slot_id: int


class ReferralEventOut(Schema):
    from_status: str
    to_status: ReferralStatus
    note: str
    at: datetime
    actor: str | None

    @staticmethod
    def resolve_actor(obj: Any) -> str | None:
        return obj.actor.get_username() if obj.actor_id else None


class ReferralOut(Schema):
    id: int
    direction: Direction
    resident: MaskedResident
    family_doctor: StaffRef
    centre: InstitutionRef
    hospital: InstitutionRef
    department: DepartmentRef | None
    urgency: Urgency
    request_kind: RequestKind
    destination: str
    reason: str
    needs: list[str]
    status: ReferralStatus
    appointment_id: int | None
    parent_id: int | None
    follow_up_id: int | None
    scheduled_on: date | None
    created_at: datetime
    status_changed_at: datetime


class ReferralDetailOut(ReferralOut):
    summary: dict[str, Any]
    attachments: list[dict[str, Any]]
    appointment: AppointmentOut | None
    events: list[ReferralEventOut]


class ReferralFileOut(Schema):
    """A file sent with a referral; read its bytes at `GET /api/referrals/files/{id}`."""

    id: int
    referral_id: int
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class ReferralFilters(Schema):
    direction: Direction | None = None
    status: ReferralStatus | None = None
    resident_id: int | None = None
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(20, ge=1, le=100)


class ReferralPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ReferralOut]


class AttachmentIn(Schema):
    title: str = Field(..., min_length=1, max_length=100)
    reference: str = Field(..., min_length=1, max_length=200, description="e.g. Observation/123")


class ReferralIn(Schema):
    resident_id: int
    hospital_id: int
    department_id: int | None = None
    reason: str = Field(..., min_length=1, max_length=2000)
    urgency: Urgency = Urgency.ROUTINE
    request_kind: RequestKind = RequestKind.VISIT
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class SendIn(Schema):
    slot_id: int | None = None


class ScheduleIn(Schema):
    slot_id: int


class DeclineIn(Schema):
    note: str = Field(..., min_length=1, max_length=200)


class AcceptIn(Schema):
    scheduled_on: date | None = Field(None, description="Down-referrals: when community care starts")


class ReturnIn(Schema):
    destination: Destination
    reason: str = Field(..., min_length=1, max_length=2000)
    needs: list[str] = Field(default_factory=list, max_length=20)
