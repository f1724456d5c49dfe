"""Request and response shapes of the registry API.

Responses never carry a citizen ID or phone number in full: the output schemas have no such fields,
only `masked_*` ones, so a new endpoint cannot leak one by returning a model.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, ValidationInfo, field_validator

from jiayi.registry import identity
from jiayi.registry.choices import (
    AlternativeIdType,
    InstitutionKind,
    KeyPopulation,
    PlaceKind,
    PlaceLevel,
    Profession,
    Relationship,
    Sex,
    TeamRole,
)
from jiayi.registry.models import Resident, TeamMembership
from jiayi.registry.services import ResidentData

_CITIZEN_ID_QUERY = re.compile(r"^[0-9]{17}[0-9X]$")
# Letters of any script with the separators names use (张三, 阿依古丽·买买提, Anne-Marie O Brien);
# quotes, semicolons, digits and underscores have no business in a name search.
_NAME_QUERY = re.compile(r"^(?:[^\W\d_]|[ ·.\-])+$")
PLACE_CODE = r"^\d{6,12}$"
HOUSEHOLD_CODE = r"^[A-Za-z0-9-]{1,24}$"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PLACE_PAGE_SIZE = 500


# Errors ------------------------------------------------------------------------------------------------


class FieldErrorOut(Schema):
    field: str
    message: str


class FieldErrors(Schema):
    """422: every invalid field with what is wrong with it."""

    detail: list[FieldErrorOut]


class Conflict(Schema):
    """409: a unique identifier already belongs to another resident."""

    detail: list[FieldErrorOut]
    existing_resident_id: int


class Message(Schema):
    detail: str


# References embedded in other objects ------------------------------------------------------------------


class PlaceRef(Schema):
    id: int
    code: str
    name: str


class InstitutionRef(Schema):
    id: int
    code: str
    name: str
    kind: InstitutionKind


class StaffRef(Schema):
    id: int
    code: str
    name: str
    profession: Profession


class TeamRef(Schema):
    id: int
    name: str


class ResidentialPointRef(Schema):
    id: int
    code: str
    address: str


class HouseholdRef(Schema):
    id: int
    code: str


class ConsortiumRef(Schema):
    id: int
    name: str


# Residents ---------------------------------------------------------------------------------------------


class ResidentOut(Schema):
    id: int
    name: str
    sex: Sex
    birth_date: date
    masked_citizen_id: str = Field(description="Citizen ID with the birth date hidden: 110***********1234")
    masked_phone: str = Field(description="Phone with the middle hidden: 138****5678")
    alt_id_type: str
    masked_alt_id_number: str
    committee: PlaceRef | None
    household_id: int | None
    relationship: str
    is_resident: bool
    is_registered: bool
    date_of_death: date | None

    @staticmethod
    def resolve_masked_alt_id_number(obj: Resident) -> str:
        return identity.mask_citizen_id(obj.alt_id_number)


class KeyPopulationDeclarationOut(Schema):
    id: int
    key_population: KeyPopulation
    valid_from: date
    valid_until: date | None
    note: str
    declared_at: datetime


class ResidentDetailOut(ResidentOut):
    health_record_number: str | None
    residential_point: ResidentialPointRef | None
    household: HouseholdRef | None
    key_populations: list[KeyPopulation] = Field(
        default_factory=list, description="Derived from age and declared, in force today"
    )
    key_population_declarations: list[KeyPopulationDeclarationOut]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_key_population_declarations(obj: Resident) -> list[Any]:
        return list(obj.key_population_declarations.all())


class ResidentPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ResidentOut]


ResidentSort = Literal[
    "id",
    "-id",
    "name",
    "-name",
    "birth_date",
    "-birth_date",
    "committee",
    "-committee",
    "updated_at",
    "-updated_at",
]


class Paging(Schema):
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class ResidentFilters(Paging):
    """Filters of the resident list; every one only narrows what the user may already see."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(
        None, min_length=1, max_length=64, description="Name prefix, or a full citizen ID (exact match)"
    )
    committee_code: str | None = Field(None, pattern=PLACE_CODE)
    sub_district_code: str | None = Field(None, pattern=PLACE_CODE)
    sex: Sex | None = None
    age_min: int | None = Field(None, ge=0, le=150)
    age_max: int | None = Field(None, ge=0, le=150)
    key_population: KeyPopulation | None = None
    sort: ResidentSort = Field("id", description="A field name, descending with a leading '-'")

    @field_validator("q")
    @classmethod
    def _name_or_citizen_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = unicodedata.normalize("NFKC", value).strip()  # full-width digits as typed by an IME
        if _CITIZEN_ID_QUERY.match(identity.normalise_citizen_id(value)):
            return identity.normalise_citizen_id(value)
        if not _NAME_QUERY.match(value):
            raise ValueError("q must be the first characters of a name or a full 18-character citizen ID")
        return value

    @field_validator("age_max")
    @classmethod
    def _not_below_age_min(cls, value: int | None, info: ValidationInfo) -> int | None:
        age_min = info.data.get("age_min")
        if value is not None and age_min is not None and value < age_min:
            raise ValueError("age_max must not be below age_min")
        return value

    def is_citizen_id_search(self) -> bool:
        return self.q is not None and bool(_CITIZEN_ID_QUERY.match(self.q))

    def audit_detail(self) -> dict[str, Any]:
        """The query as the audit log keeps it: a citizen ID is reduced to the fact it was searched."""
        query = self.model_dump(exclude_none=True, exclude={"page", "page_size"}, mode="json")
        if self.is_citizen_id_search():
            query["q"] = "<citizen ID, exact>"
        return query


class ResidentIn(Schema):
    """A new resident. Identified by a citizen ID or, without one, an alternative identifier."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    sex: Sex
    birth_date: date
    citizen_id: str | None = Field(None, max_length=32)
    alt_id_type: AlternativeIdType | None = None
    alt_id_number: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=20)
    committee_id: int
    residential_point_id: int | None = None
    household_id: int | None = None
    relationship: Relationship | None = None
    is_resident: bool = True
    is_registered: bool = False
    date_of_death: date | None = None


class ResidentPatch(Schema):
    """Changes to a resident: only the fields sent are changed; null clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=64)
    sex: Sex | None = None
    birth_date: date | None = None
    citizen_id: str | None = Field(None, max_length=32)
    alt_id_type: AlternativeIdType | None = None
    alt_id_number: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=20)
    committee_id: int | None = None
    residential_point_id: int | None = None
    household_id: int | None = None
    relationship: Relationship | None = None
    is_resident: bool | None = None
    is_registered: bool | None = None
    date_of_death: date | None = None


# Text fields stored as "" when absent; the others keep None.
_BLANK_WHEN_NONE = frozenset({"alt_id_type", "alt_id_number", "phone", "relationship"})


def to_resident_data(payload: ResidentIn | ResidentPatch) -> ResidentData:
    """The fields a client sent, as the services take them (enums as their values, "" for absent text)."""
    data: dict[str, Any] = {}
    for field in payload.model_fields_set:
        value = getattr(payload, field)
        if value is None and field in _BLANK_WHEN_NONE:
            value = ""
        elif isinstance(value, str):
            value = str(value)  # a TextChoices member becomes its plain value
        data[field] = value
    return data  # type: ignore[return-value]


class KeyPopulationDeclarationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    key_population: KeyPopulation
    valid_from: date
    valid_until: date | None = None
    note: str = Field("", max_length=200)


# Households --------------------------------------------------------------------------------------------


class HouseholdOut(Schema):
    id: int
    code: str
    residential_point: ResidentialPointRef | None


class HouseholdDetailOut(HouseholdOut):
    members: list[ResidentOut] = Field(description="The members the user may see")


class HouseholdPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[HouseholdOut]


class HouseholdFilters(Paging):
    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(None, pattern=HOUSEHOLD_CODE, description="Household code prefix")
    committee_code: str | None = Field(None, pattern=PLACE_CODE)
    residential_point_id: int | None = None


# Places ------------------------------------------------------------------------------------------------


class PlaceOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    level: PlaceLevel
    kind: PlaceKind
    parent_id: int | None
    centroid_lat: float | None
    centroid_lon: float | None
    child_count: int = Field(description="Number of places directly below this one")


class PlaceDetailOut(PlaceOut):
    parent: PlaceRef | None
    responsible_centre: InstitutionRef | None
    designated_doctor: StaffRef | None
    boundary: dict[str, Any] | None
    children: list[PlaceRef]

    @staticmethod
    def resolve_children(obj: Any) -> list[Any]:
        return list(obj.children.all())


class PlacePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[PlaceOut]


class PlaceFilters(Schema):
    model_config = ConfigDict(extra="forbid")

    level: PlaceLevel | None = None
    parent_id: int | None = None
    parent_code: str | None = Field(None, pattern=PLACE_CODE)
    page: int = Field(1, ge=1, le=100_000)
    # Large enough for a whole level of a district in one page, so a tree can be drawn from one call.
    page_size: int = Field(MAX_PLACE_PAGE_SIZE, ge=1, le=MAX_PLACE_PAGE_SIZE)


# Institutions ------------------------------------------------------------------------------------------


class InstitutionOut(Schema):
    id: int
    code: str
    name: str
    kind: InstitutionKind
    place: PlaceRef
    parent_id: int | None
    address: str
    lat: float | None
    lon: float | None
    opened_on: date | None
    closed_on: date | None


class InstitutionDetailOut(InstitutionOut):
    parent: InstitutionRef | None
    units: list[InstitutionRef]
    consortia: list[ConsortiumRef]

    @staticmethod
    def resolve_units(obj: Any) -> list[Any]:
        return list(obj.units.all())

    @staticmethod
    def resolve_consortia(obj: Any) -> list[Any]:
        return list(obj.consortia.all())


class InstitutionPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[InstitutionOut]


class InstitutionFilters(Paging):
    model_config = ConfigDict(extra="forbid")

    kind: InstitutionKind | None = None
    place_id: int | None = Field(None, description="The place or any place below it")
    parent_id: int | None = None


# Staff and teams ---------------------------------------------------------------------------------------


class StaffOut(Schema):
    id: int
    code: str
    name: str
    sex: Sex
    profession: Profession
    institution: InstitutionRef
    is_registered_gp: bool
    active: bool
    masked_phone: str

    @staticmethod
    def resolve_masked_phone(obj: Any) -> str:
        return identity.mask_phone(obj.phone)


class StaffDetailOut(StaffOut):
    teams: list[TeamRef]

    @staticmethod
    def resolve_teams(obj: Any) -> list[Any]:
        return list(obj.teams.all())


class StaffPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[StaffOut]


class StaffFilters(Paging):
    model_config = ConfigDict(extra="forbid")

    institution_id: int | None = None
    profession: Profession | None = None
    active: bool | None = None


class TeamOut(Schema):
    id: int
    name: str
    centre: InstitutionRef
    lead: StaffRef
    panel_capacity: int


class TeamMemberOut(Schema):
    staff: StaffRef
    team_role: TeamRole


class TeamDetailOut(TeamOut):
    members: list[TeamMemberOut]
    committees: list[PlaceRef]

    @staticmethod
    def resolve_members(obj: Any) -> list[TeamMembership]:
        return list(obj.teammembership_set.all())

    @staticmethod
    def resolve_committees(obj: Any) -> list[Any]:
        return list(obj.committees.all())


class TeamPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[TeamOut]


class TeamFilters(Paging):
    model_config = ConfigDict(extra="forbid")

    centre_id: int | None = None
    committee_code: str | None = Field(None, pattern=PLACE_CODE)
