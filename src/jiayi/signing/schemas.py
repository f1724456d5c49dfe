"""Request and response shapes of the signing API.

Residents appear by id and name only: a signing response never carries a citizen ID or phone number.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from jiayi.registry.schemas import FieldErrorOut, InstitutionRef, PlaceRef, StaffRef, TeamRef
from jiayi.signing.choices import (
    ChangeReason,
    PackageKind,
    SigningChannel,
    SigningStatus,
    TerminationReason,
)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
TEXT_VERSION = r"^[A-Za-z0-9._-]{1,32}$"


class SigningConflictOut(Schema):
    """409: the resident already has an open signing, named here."""

    detail: list[FieldErrorOut]
    existing_signing_id: int


class ResidentRef(Schema):
    id: int
    name: str


class PackageOut(Schema):
    id: int
    district: PlaceRef
    year: int
    code: str
    name: str
    kind: PackageKind
    price: Decimal
    yearly_assessment: bool
    contacts_per_year: int
    long_prescription_days: int
    continued_hospital_prescriptions: bool
    home_visits_per_year: int
    priority_referral: bool
    yearly_report: bool
    other_services: list[str]
    active: bool


class PackageRef(Schema):
    id: int
    code: str
    name: str
    kind: PackageKind
    year: int


class PackageFilters(Schema):
    model_config = ConfigDict(extra="forbid")

    year: int | None = Field(None, ge=2000, le=2100)
    kind: PackageKind | None = None
    district_id: int | None = None
    active: bool | None = None


class SigningOut(Schema):
    id: int
    resident: ResidentRef
    family_doctor: StaffRef
    team: TeamRef
    centre: InstitutionRef
    district_hospital: InstitutionRef | None
    municipal_hospital: InstitutionRef | None
    specialist: StaffRef | None
    household_id: int | None
    package: PackageRef
    channel: SigningChannel
    status: SigningStatus
    starts_on: date
    ends_on: date
    previous_id: int | None
    consent_id: int


class SigningEventOut(Schema):
    from_status: str
    to_status: SigningStatus
    reason: ChangeReason
    note: str
    actor_name: str
    at: datetime

    @staticmethod
    def resolve_actor_name(obj: Any) -> str:
        return obj.actor.get_username() if obj.actor is not None else ""


class SigningDetailOut(SigningOut):
    events: list[SigningEventOut]

    @staticmethod
    def resolve_events(obj: Any) -> list[Any]:
        return list(obj.events.all())


class SigningPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[SigningOut]


class SigningFilters(Schema):
    model_config = ConfigDict(extra="forbid")

    status: SigningStatus | None = None
    # Bounded to the database's 64-bit keys: a larger number is a 422, not an overflow in the query.
    resident_id: int | None = Field(None, ge=1, le=2**63 - 1)
    family_doctor_id: int | None = Field(None, ge=1, le=2**63 - 1)
    team_id: int | None = Field(None, ge=1, le=2**63 - 1)
    ends_before: date | None = Field(None, description="Signings ending on or before this day")
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class ConsentIn(Schema):
    """Consent given now, at the counter or online: the version of the text the resident accepted."""

    model_config = ConfigDict(extra="forbid")

    text_version: str = Field(pattern=TEXT_VERSION)
    proxy_resident_id: int | None = Field(None, description="The household member consenting for them")


class TermsIn(Schema):
    """The 1+1+1 combination, the package and the channel of a signing."""

    model_config = ConfigDict(extra="forbid")

    family_doctor_id: int
    package_id: int
    channel: SigningChannel = SigningChannel.COUNTER
    team_id: int | None = None
    district_hospital_id: int | None = None
    municipal_hospital_id: int | None = None
    specialist_id: int | None = Field(None, description="专科医生 for double signing (双签约)")
    starts_on: date | None = None


class SigningIn(TermsIn):
    resident_id: int
    consent: ConsentIn | None = Field(
        None, description="Consent given now; without it, the resident's signing consent on file is used"
    )


class HouseholdSigningIn(TermsIn):
    member_ids: list[int] = Field(min_length=1, max_length=30)
    consent: ConsentIn | None = Field(None, description="Recorded for every member named")


class MemberOutcomeOut(Schema):
    resident_id: int
    signed: bool
    signing_id: int | None
    errors: list[FieldErrorOut]
    existing_signing_id: int | None


class HouseholdSigningOut(Schema):
    household_id: int
    signed: int
    not_signed: int
    members: list[MemberOutcomeOut]


class DeclineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)


class SwitchDoctorIn(Schema):
    model_config = ConfigDict(extra="forbid")

    family_doctor_id: int = Field(description="The family doctor taking over for the rest of the period")
    reason: str = Field(min_length=1, max_length=200)


class TerminateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: TerminationReason
    note: str = Field("", max_length=200)


class RenewIn(Schema):
    model_config = ConfigDict(extra="forbid")

    family_doctor_id: int | None = Field(None, description="Switch to this family doctor at renewal")
    switch_reason: str = Field("", max_length=200)
    package_id: int | None = None
