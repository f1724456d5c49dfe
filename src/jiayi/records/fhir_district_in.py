"""Reading and storing the registry and signing resources of a whole-district transfer.

The counterpart of `fhir_district`: Location (places, residential points), Organization and
Practitioner of the registry profile (institutions, consortia, staff), CareTeam (teams),
PractitionerRole (team membership, designated doctors), PlanDefinition (service packages), Group
(households), Patient of the registry profile (residents), QuestionnaireResponse (65+ exam forms),
Consent and EpisodeOfCare (signings). `fhir_in.parse_entry` hands these resources to `parse`, and the
bundle importer (`services._Importer`) hands what was read to `apply`, with the same rules as every
other entry: idempotent on the natural key the identifier carries (an unchanged entry writes and
audits nothing), every refusal an `EntryError` naming the element, nothing half-written (each entry's
writes run in one savepoint), transaction bundles all or nothing.

These entries change the registry, which a feed never may: they are accepted only from an operator's
import (`jiayi import-fhir`, which imports with no limit on residents and committees).
"""

from __future__ import annotations

import base64
import binascii
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from jiayi.audit.models import Action
from jiayi.audit.services import Event, record_many
from jiayi.records import fhir_district as d
from jiayi.records import fhir_in
from jiayi.records import fhir_systems as systems
from jiayi.records.fhir_in import EntryError, ParsedEntry, PatientIn, Ref
from jiayi.records.lib import ELDERLY_EXAM_PARTS
from jiayi.records.models import ElderlyExam
from jiayi.registry import services as registry
from jiayi.registry.choices import (
    InstitutionKind,
    PlaceKind,
    PlaceLevel,
    Profession,
    Relationship,
    Sex,
    TeamRole,
)
from jiayi.registry.models import (
    Household,
    Institution,
    MedicalConsortium,
    Place,
    Resident,
    ResidentialPoint,
    Staff,
    Team,
    TeamMembership,
)
from jiayi.signing.choices import ChangeReason, ConsentKind, PackageKind, SigningChannel, SigningStatus
from jiayi.signing.models import Consent, ServicePackage, Signing, SigningEvent

if TYPE_CHECKING:
    from jiayi.records.services import _Importer

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"

# Types only a district transfer sends; Organization, Practitioner and Patient join them when they
# carry the registry profile.
DISTRICT_TYPES: tuple[str, ...] = (
    "Location",
    "CareTeam",
    "PractitionerRole",
    "PlanDefinition",
    "Group",
    "QuestionnaireResponse",
    "Consent",
    "EpisodeOfCare",
)


# What was read ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaceIn(fhir_in.DistrictIn):
    code: str
    name: str
    name_en: str
    level: str
    kind: str
    parent_code: str
    lat: float | None
    lon: float | None
    boundary: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class PointIn(fhir_in.DistrictIn):
    code: str
    committee_code: str
    address: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class InstitutionIn(fhir_in.DistrictIn):
    code: str
    name: str
    kind: str
    place_code: str
    parent_code: str
    address: str
    lat: float | None
    lon: float | None
    opened_on: date | None
    closed_on: date | None
    committees: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConsortiumIn(fhir_in.DistrictIn):
    name: str
    lead_code: str
    member_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StaffIn(fhir_in.DistrictIn):
    code: str
    name: str
    sex: str
    profession: str
    institution_code: str
    licence_number: str
    is_registered_gp: bool
    phone: str
    active: bool
    bio: str


@dataclass(frozen=True, slots=True)
class TeamIn(fhir_in.DistrictIn):
    centre_code: str
    name: str
    lead_code: str
    panel_capacity: int
    committees: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MembershipIn(fhir_in.DistrictIn):
    team_key: str
    staff_code: str
    team_role: str


@dataclass(frozen=True, slots=True)
class DesignationIn(fhir_in.DistrictIn):
    staff_code: str
    committees: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PackageIn(fhir_in.DistrictIn):
    district_code: str
    year: int
    code: str
    name: str
    kind: str
    active: bool
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HouseholdIn(fhir_in.DistrictIn):
    code: str
    point_code: str


@dataclass(frozen=True, slots=True)
class ResidentIn(PatientIn, fhir_in.DistrictIn):
    point_code: str = ""
    household_code: str = ""
    relationship: str = ""
    is_resident: bool = True
    is_registered: bool = False
    date_of_death: date | None = None
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class ExamIn(fhir_in.DistrictIn):
    source_id: str
    subject: Ref  # named as the clinical entries' so the importer looks residents up a chunk at a time
    institution_code: str
    examiner_code: str
    exam_date: date
    parts: dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ConsentIn(fhir_in.DistrictIn):
    subject: Ref
    kind: str
    text_version: str
    accepted_at: datetime
    withdrawn_at: datetime | None
    proxy: Ref | None


@dataclass(frozen=True, slots=True)
class EventIn:
    from_status: str
    to_status: str
    reason: str
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SigningIn(fhir_in.DistrictIn):
    subject: Ref
    key: str
    status: str
    channel: str
    starts_on: date
    ends_on: date
    centre_code: str
    doctor_code: str
    team_key: str
    package_key: str
    consent_key: str
    created_at: datetime | None
    status_changed_at: datetime | None
    district_hospital: str = ""
    municipal_hospital: str = ""
    specialist: str = ""
    household: str = ""
    previous: str = ""
    events: tuple[EventIn, ...] = field(default_factory=tuple)


# Reading ----------------------------------------------------------------------------------------------


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _extensions(node: Any, url: str) -> list[dict[str, Any]]:
    if not isinstance(node, dict):
        return []
    return [e for e in node.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def _extension(node: Any, url: str) -> dict[str, Any]:
    found = _extensions(node, url)
    return found[0] if found else {}


def _identifier(resource: dict[str, Any], system: str, path: str) -> str:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == system and _str(ident.get("value")):
            return _str(ident.get("value"))
    raise EntryError(path, f"an identifier with system {system} is required")


def _ref_value(value: Any, system: str, path: str, *, required: bool = True) -> str:
    """The identifier value of a reference by business identifier in `system`."""
    ident = value.get("identifier") if isinstance(value, dict) else None
    if isinstance(ident, dict) and ident.get("system") == system and _str(ident.get("value")):
        return _str(ident.get("value"))
    if required or value:
        raise EntryError(path, f"a reference by identifier with system {system} is required")
    return ""


def _ext_ref(node: Any, url: str, system: str, path: str, *, required: bool = False) -> str:
    ext = _extension(node, url)
    if not ext:
        if required:
            raise EntryError(path, f"the extension {url} is required")
        return ""
    return _ref_value(ext.get("valueReference"), system, path)


def _patient_ref(value: Any, path: str) -> Ref:
    if not isinstance(value, dict) or not isinstance(value.get("identifier"), dict):
        raise EntryError(path, "a reference to the patient by identifier is required")
    return fhir_in.parse_reference(value, path)


def _code(concept: Any, system: str) -> str:
    if isinstance(concept, list):
        for item in concept:
            found = _code(item, system)
            if found:
                return found
        return ""
    if not isinstance(concept, dict):
        return ""
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and coding.get("system") == system and _str(coding.get("code")):
            return _str(coding.get("code"))
    return ""


def _choice(value: str, choices: type[models.TextChoices], path: str, what: str) -> str:
    if value not in choices.values:
        raise EntryError(path, f"{what} {value!r} is not one of {', '.join(choices.values)}")
    return value


def _date(value: Any, path: str) -> date:
    try:
        return date.fromisoformat(_str(value)[:10])
    except ValueError:
        raise EntryError(path, f"{_str(value)!r} is not a valid date") from None


def _moment(value: Any, path: str) -> datetime:
    """A date-time exactly as sent: registry times (consent given, signing created) may lie in the
    future of a test clock but never of the sender's, so they are not checked against now."""
    text = _str(value)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EntryError(path, f"{text!r} is not a valid date-time") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EntryError(path, "a number is required")
    return float(value)


def _position(resource: dict[str, Any], path: str) -> tuple[float | None, float | None]:
    position = resource.get("position")
    if not isinstance(position, dict):
        return None, None
    lat = _number(position.get("latitude"), f"{path}.latitude")
    lon = _number(position.get("longitude"), f"{path}.longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise EntryError(path, "latitude must lie within ±90 and longitude within ±180")
    return lat, lon


def parse_location(resource: dict[str, Any], now: datetime) -> PlaceIn | PointIn:
    level = _code(resource.get("type"), d.PLACE_LEVEL_SYSTEM)
    lat, lon = _position(resource, "Location.position")
    parent = resource.get("partOf")
    if level == d.PLACE_LEVEL_POINT:
        if lat is None or lon is None:
            raise EntryError("Location.position", "a residential point needs its position")
        return PointIn(
            code=_identifier(resource, d.POINT_SYSTEM, "Location.identifier"),
            committee_code=_ref_value(parent, d.PLACE_SYSTEM, "Location.partOf"),
            address=_str((resource.get("address") or {}).get("text")) or _str(resource.get("name")),
            lat=lat,
            lon=lon,
        )
    boundary: dict[str, Any] | None = None
    attachment = _extension(resource, d.BOUNDARY_EXTENSION).get("valueAttachment")
    if isinstance(attachment, dict):
        try:
            loaded = orjson.loads(base64.b64decode(_str(attachment.get("data")), validate=True))
        except (binascii.Error, orjson.JSONDecodeError):
            raise EntryError("Location.extension.valueAttachment.data", "not base64 GeoJSON") from None
        if not isinstance(loaded, dict) or "type" not in loaded:
            raise EntryError("Location.extension.valueAttachment.data", "a GeoJSON geometry is required")
        boundary = loaded
    level = _choice(level, PlaceLevel, "Location.type", "level")
    kind = _choice(_code(resource.get("type"), d.PLACE_KIND_SYSTEM), PlaceKind, "Location.type", "kind")
    name = _str(resource.get("name"))
    if not name:
        raise EntryError("Location.name", "a name is required")
    parent_code = _ref_value(parent, d.PLACE_SYSTEM, "Location.partOf", required=False)
    if level != PlaceLevel.CITY and not parent_code:
        raise EntryError("Location.partOf", f"a {level} is part of a larger place")
    aliases = resource.get("alias") or []
    return PlaceIn(
        code=_identifier(resource, d.PLACE_SYSTEM, "Location.identifier")[:12],
        name=name[:64],
        name_en=_str(aliases[0])[:64] if aliases else "",
        level=level,
        kind=kind,
        parent_code=parent_code,
        lat=lat,
        lon=lon,
        boundary=boundary,
    )


def _is_registry(resource: dict[str, Any]) -> bool:
    meta = resource.get("meta")
    return isinstance(meta, dict) and d.REGISTRY_PROFILE in (meta.get("profile") or [])


def parse_organization(resource: dict[str, Any], now: datetime) -> Any:
    if not _is_registry(resource):
        return fhir_in.parse_organization(resource, now)
    name = _str(resource.get("name"))
    if not name:
        raise EntryError("Organization.name", "a name is required")
    if _code(resource.get("type"), d.ORGANIZATION_TYPE_SYSTEM) == d.CONSORTIUM_TYPE:
        return ConsortiumIn(
            name=_identifier(resource, d.CONSORTIUM_SYSTEM, "Organization.identifier")[:100],
            lead_code=_ext_ref(
                resource,
                d.CONSORTIUM_LEAD_EXTENSION,
                systems.INSTITUTION_SYSTEM,
                "Organization.extension",
                required=True,
            ),
            member_codes=tuple(
                _ref_value(e.get("valueReference"), systems.INSTITUTION_SYSTEM, "Organization.extension")
                for e in _extensions(resource, d.CONSORTIUM_MEMBER_EXTENSION)
            ),
        )
    kind = _choice(
        _code(resource.get("type"), d.INSTITUTION_KIND_SYSTEM), InstitutionKind, "Organization.type", "kind"
    )
    address = (resource.get("address") or [{}])[0]
    lat = lon = None
    geo = _extension(address, d.GEOLOCATION_EXTENSION)
    if geo:
        parts = {e.get("url"): e.get("valueDecimal") for e in geo.get("extension") or []}
        lat = _number(parts.get("latitude"), "Organization.address.extension.latitude")
        lon = _number(parts.get("longitude"), "Organization.address.extension.longitude")
    period = _extension(resource, d.INSTITUTION_PERIOD_EXTENSION).get("valuePeriod") or {}
    return InstitutionIn(
        code=_identifier(resource, systems.INSTITUTION_SYSTEM, "Organization.identifier")[:24],
        name=name[:100],
        kind=kind,
        place_code=_ext_ref(
            resource, d.INSTITUTION_PLACE_EXTENSION, d.PLACE_SYSTEM, "Organization.extension", required=True
        ),
        parent_code=_ref_value(
            resource.get("partOf"), systems.INSTITUTION_SYSTEM, "Organization.partOf", required=False
        ),
        address=_str(address.get("text"))[:200] if isinstance(address, dict) else "",
        lat=lat,
        lon=lon,
        opened_on=_date(period["start"], "Organization.extension.valuePeriod.start")
        if period.get("start")
        else None,
        closed_on=_date(period["end"], "Organization.extension.valuePeriod.end")
        if period.get("end")
        else None,
        committees=tuple(
            _ref_value(e.get("valueReference"), d.PLACE_SYSTEM, "Organization.extension")
            for e in _extensions(resource, d.RESPONSIBLE_FOR_EXTENSION)
        ),
    )


def parse_practitioner(resource: dict[str, Any], now: datetime) -> Any:
    if not _is_registry(resource):
        return fhir_in.parse_practitioner(resource, now)
    profession = ""
    licence = ""
    gp = False
    for qualification in resource.get("qualification") or []:
        code = _code(qualification.get("code"), d.PROFESSION_SYSTEM)
        if code:
            profession = code
            for ident in qualification.get("identifier") or []:
                if ident.get("system") == d.LICENCE_SYSTEM:
                    licence = _str(ident.get("value"))
        if _code(qualification.get("code"), d.QUALIFICATION_SYSTEM) == "registered_gp":
            gp = True
    name = fhir_in._human_name(resource)
    if not name:
        raise EntryError("Practitioner.name", "a name is required")
    gender = _str(resource.get("gender")) or Sex.UNKNOWN
    phone = next(
        (_str(t.get("value")) for t in resource.get("telecom") or [] if t.get("system") == "phone"), ""
    )
    return StaffIn(
        code=_identifier(resource, systems.STAFF_SYSTEM, "Practitioner.identifier")[:24],
        name=name[:64],
        sex=_choice(gender, Sex, "Practitioner.gender", "gender"),
        profession=_choice(profession, Profession, "Practitioner.qualification.code", "profession"),
        institution_code=_ext_ref(
            resource,
            d.STAFF_INSTITUTION_EXTENSION,
            systems.INSTITUTION_SYSTEM,
            "Practitioner.extension",
            required=True,
        ),
        licence_number=licence[:32],
        is_registered_gp=gp,
        phone=phone[:20],
        active=resource.get("active") is not False,
        bio=_str(_extension(resource, d.STAFF_BIO_EXTENSION).get("valueString")),
    )


def parse_care_team(resource: dict[str, Any], now: datetime) -> TeamIn:
    key = _identifier(resource, d.TEAM_SYSTEM, "CareTeam.identifier")
    centre = _ref_value(
        (resource.get("managingOrganization") or [{}])[0],
        systems.INSTITUTION_SYSTEM,
        "CareTeam.managingOrganization",
    )
    name = _str(resource.get("name"))
    if key != d.team_key(centre, name):
        raise EntryError("CareTeam.identifier", "the identifier must be <centre code>/<team name>")
    lead = ""
    for participant in resource.get("participant") or []:
        if _code(participant.get("role"), d.TEAM_ROLE_SYSTEM) == TeamRole.LEAD:
            lead = _ref_value(participant.get("member"), systems.STAFF_SYSTEM, "CareTeam.participant.member")
    if not lead:
        raise EntryError("CareTeam.participant", "the team's lead (role lead) is required")
    capacity = _extension(resource, d.PANEL_CAPACITY_EXTENSION).get("valueInteger", 2400)
    if not isinstance(capacity, int) or capacity < 0:
        raise EntryError("CareTeam.extension.valueInteger", "the panel capacity must be a whole number ≥ 0")
    return TeamIn(
        centre_code=centre,
        name=name[:100],
        lead_code=lead,
        panel_capacity=capacity,
        committees=tuple(
            _ref_value(e.get("valueReference"), d.PLACE_SYSTEM, "CareTeam.extension")
            for e in _extensions(resource, d.SERVED_COMMITTEE_EXTENSION)
        ),
    )


def parse_practitioner_role(resource: dict[str, Any], now: datetime) -> MembershipIn | DesignationIn:
    role = _code(resource.get("code"), d.PRACTITIONER_ROLE_SYSTEM)
    staff = _ref_value(resource.get("practitioner"), systems.STAFF_SYSTEM, "PractitionerRole.practitioner")
    if role == d.DESIGNATED_DOCTOR_ROLE:
        return DesignationIn(
            staff_code=staff,
            committees=tuple(
                _ref_value(location, d.PLACE_SYSTEM, "PractitionerRole.location")
                for location in resource.get("location") or []
            ),
        )
    if role != d.TEAM_MEMBER_ROLE:
        raise EntryError(
            "PractitionerRole.code",
            f"a role coded {d.TEAM_MEMBER_ROLE} or {d.DESIGNATED_DOCTOR_ROLE} ({d.PRACTITIONER_ROLE_SYSTEM}) "
            "is required",
        )
    team_role = _code(resource.get("code"), d.TEAM_ROLE_SYSTEM) or TeamRole.MEMBER
    return MembershipIn(
        team_key=_ext_ref(
            resource, d.TEAM_EXTENSION, d.TEAM_SYSTEM, "PractitionerRole.extension", required=True
        ),
        staff_code=staff,
        team_role=_choice(team_role, TeamRole, "PractitionerRole.code", "team role"),
    )


def parse_plan_definition(resource: dict[str, Any], now: datetime) -> PackageIn:
    key = _identifier(resource, d.PACKAGE_SYSTEM, "PlanDefinition.identifier")
    district, _, rest = key.partition("/")
    year_text, _, code = rest.partition("/")
    if not (district and year_text.isdigit() and code):
        raise EntryError("PlanDefinition.identifier", "the identifier must be <district>/<year>/<code>")
    values: dict[str, Any] = {}
    price = _extension(resource, f"{d.PACKAGE_EXTENSION}-price").get("valueMoney") or {}
    try:
        values["price"] = Decimal(str(price.get("value", 0))).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise EntryError("PlanDefinition.extension.valueMoney.value", "the price must be a number") from None
    if values["price"] < 0:
        raise EntryError("PlanDefinition.extension.valueMoney.value", "the price must not be negative")
    services = _extension(resource, d.PACKAGE_EXTENSION)
    kinds = dict(d.PACKAGE_SERVICES)
    other: list[str] = []
    for part in services.get("extension") or []:
        url = part.get("url")
        if url in kinds:
            value = part.get(kinds[url])
            if kinds[url] == "valueInteger" and (not isinstance(value, int) or value < 0):
                raise EntryError(f"PlanDefinition.extension.{url}", "a whole number ≥ 0 is required")
            values[url] = value if kinds[url] == "valueInteger" else value is True
        elif url == "other_service":
            other.append(_str(part.get("valueString")))
    values["other_services"] = other
    title = _str(resource.get("title"))
    if not title:
        raise EntryError("PlanDefinition.title", "the package's name is required")
    return PackageIn(
        district_code=district,
        year=int(year_text),
        code=code[:32],
        name=title[:100],
        kind=_choice(
            _code(resource.get("type"), d.PACKAGE_KIND_SYSTEM), PackageKind, "PlanDefinition.type", "kind"
        ),
        active=_str(resource.get("status")) != "retired",
        values=values,
    )


def parse_group(resource: dict[str, Any], now: datetime) -> HouseholdIn:
    return HouseholdIn(
        code=_identifier(resource, d.HOUSEHOLD_SYSTEM, "Group.identifier")[:24],
        point_code=_ext_ref(resource, d.RESIDENTIAL_POINT_EXTENSION, d.POINT_SYSTEM, "Group.extension"),
    )


def parse_patient(resource: dict[str, Any], now: datetime) -> Any:
    base = fhir_in.parse_patient(resource, now)
    if not _is_registry(resource):
        return base
    if base.birth_date is None:
        raise EntryError("Patient.birthDate", "a resident's birth date is required")
    residence = {
        e.get("url"): e.get("valueBoolean")
        for e in _extension(resource, d.RESIDENCE_EXTENSION).get("extension") or []
    }
    membership = _extension(resource, d.HOUSEHOLD_EXTENSION)
    household = relationship = ""
    if membership:
        household = _ext_ref(
            membership, "household", d.HOUSEHOLD_SYSTEM, "Patient.extension.household", required=True
        )
        relationship = _code(
            _extension(membership, "relationship").get("valueCoding", {})
            and {"coding": [_extension(membership, "relationship")["valueCoding"]]},
            d.RELATIONSHIP_SYSTEM,
        )
        if relationship:
            _choice(relationship, Relationship, "Patient.extension.relationship", "relationship")
    point = ""
    for address in resource.get("address") or []:
        point = point or _ext_ref(
            address, d.RESIDENTIAL_POINT_EXTENSION, d.POINT_SYSTEM, "Patient.address.extension"
        )
    death = resource.get("deceasedDateTime")
    return ResidentIn(
        citizen_id=base.citizen_id,
        health_record_number=base.health_record_number,
        alt_id=base.alt_id,
        name=base.name,
        sex=base.sex,
        birth_date=base.birth_date,
        phone=base.phone,
        committee_code=base.committee_code,
        point_code=point,
        household_code=household,
        relationship=relationship,
        is_resident=residence.get("is-resident") is not False,
        is_registered=residence.get("is-registered") is True,
        date_of_death=fhir_in.parse_date("Patient.deceasedDateTime", death, now) if death else None,
        provisional=_extension(resource, d.PROVISIONAL_EXTENSION).get("valueBoolean") is True,
    )


def _answer_value(answer: dict[str, Any]) -> Any:
    for key in ("valueBoolean", "valueInteger", "valueDecimal", "valueString", "valueDate"):
        if key in answer:
            return answer[key]
    raise EntryError(
        "QuestionnaireResponse.item.answer", "an answer must be boolean, integer, decimal or text"
    )


def _answers(items: list[Any], prefix: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        link = _str(item.get("linkId"))
        if not link.startswith(prefix + "."):
            raise EntryError("QuestionnaireResponse.item.linkId", f"{link!r} is not an item of {prefix}")
        key = link[len(prefix) + 1 :]
        if "item" in item:
            values[key] = _answers(item["item"], link)
        elif "answer" in item:
            answers = [_answer_value(a) for a in item["answer"]]
            values[key] = answers[0] if len(answers) == 1 else answers
        else:
            values[key] = None
    return values


def parse_questionnaire_response(resource: dict[str, Any], now: datetime) -> ExamIn:
    if _str(resource.get("questionnaire")) != systems.ELDERLY_EXAM_QUESTIONNAIRE:
        raise EntryError(
            "QuestionnaireResponse.questionnaire",
            f"only the 65+ exam form ({systems.ELDERLY_EXAM_QUESTIONNAIRE}) is imported",
        )
    ident = resource.get("identifier")
    if not isinstance(ident, dict) or not _str(ident.get("value")):
        raise EntryError(
            "QuestionnaireResponse.identifier", "an identifier is required to import idempotently"
        )
    system = _str(ident.get("system"))
    source_id = f"{system}|{_str(ident.get('value'))}" if system else _str(ident.get("value"))
    parts: dict[str, dict[str, Any]] = {part: {} for part in ELDERLY_EXAM_PARTS}
    for group in resource.get("item") or []:
        link = _str(group.get("linkId"))
        if link not in parts:
            raise EntryError("QuestionnaireResponse.item.linkId", f"{link!r} is not a part of the 65+ form")
        parts[link] = _answers(group.get("item") or [], link)
    author = resource.get("author")
    examiner = ""
    if isinstance(author, dict) and author.get("type") == "Practitioner":
        examiner = _ref_value(author, systems.STAFF_SYSTEM, "QuestionnaireResponse.author")
    institution = _ext_ref(
        resource, d.RECORDED_AT_EXTENSION, systems.INSTITUTION_SYSTEM, "QuestionnaireResponse.extension"
    )
    if not institution:
        institution = _ref_value(author, systems.INSTITUTION_SYSTEM, "QuestionnaireResponse.author")
    authored = resource.get("authored")
    if not authored:
        raise EntryError("QuestionnaireResponse.authored", "the exam date is required")
    return ExamIn(
        source_id=source_id[:200],
        subject=_patient_ref(resource.get("subject"), "QuestionnaireResponse.subject"),
        institution_code=institution,
        examiner_code=examiner,
        exam_date=fhir_in.parse_date("QuestionnaireResponse.authored", authored, now),
        parts=parts,
    )


def parse_consent(resource: dict[str, Any], now: datetime) -> ConsentIn:
    kind = _choice(
        _code(resource.get("category"), d.CONSENT_KIND_SYSTEM), ConsentKind, "Consent.category", "kind"
    )
    version = ""
    for coding in (resource.get("policyRule") or {}).get("coding") or []:
        if coding.get("system") == d.CONSENT_TEXT_SYSTEM:
            version = _str(coding.get("version"))
    if not version:
        raise EntryError("Consent.policyRule", "the version of the text agreed to is required")
    if not resource.get("dateTime"):
        raise EntryError("Consent.dateTime", "when the consent was given is required")
    accepted = _moment(resource["dateTime"], "Consent.dateTime")
    period = (resource.get("provision") or {}).get("period") or {}
    withdrawn = _moment(period["end"], "Consent.provision.period.end") if period.get("end") else None
    if withdrawn is not None and withdrawn < accepted:
        raise EntryError("Consent.provision.period.end", "a consent is withdrawn after it was given")
    performers = resource.get("performer") or []
    return ConsentIn(
        subject=_patient_ref(resource.get("patient"), "Consent.patient"),
        kind=kind,
        text_version=version[:32],
        accepted_at=accepted,
        withdrawn_at=withdrawn,
        proxy=_patient_ref(performers[0], "Consent.performer") if performers else None,
    )


def parse_episode_of_care(resource: dict[str, Any], now: datetime) -> SigningIn:
    ext = _extension(resource, d.SIGNING_EXTENSION)
    if not ext:
        raise EntryError(
            "EpisodeOfCare.extension", f"the signing extension {d.SIGNING_EXTENSION} is required"
        )
    path = "EpisodeOfCare.extension"

    def part(name: str) -> dict[str, Any]:
        return _extension(ext, name)

    def ref(name: str, system: str, *, required: bool = False) -> str:
        return _ext_ref(ext, name, system, f"{path}.{name}", required=required)

    def when(name: str) -> datetime | None:
        value = part(name).get("valueDateTime")
        return _moment(value, f"{path}.{name}") if value else None

    status = _choice(
        _str((part("status").get("valueCoding") or {}).get("code")), SigningStatus, f"{path}.status", "status"
    )
    channel = _choice(
        _str((part("channel").get("valueCoding") or {}).get("code")),
        SigningChannel,
        f"{path}.channel",
        "channel",
    )
    period = resource.get("period") or {}
    if not period.get("start") or not period.get("end"):
        raise EntryError("EpisodeOfCare.period", "a signing's start and end are required")
    starts_on = _date(period["start"], "EpisodeOfCare.period.start")
    ends_on = _date(period["end"], "EpisodeOfCare.period.end")
    if ends_on < starts_on:
        raise EntryError("EpisodeOfCare.period.end", f"end {ends_on} is before start {starts_on}")
    events: list[EventIn] = []
    for i, entry in enumerate(resource.get("statusHistory") or []):
        detail = {
            e.get("url"): e for e in _extension(entry, d.SIGNING_EVENT_EXTENSION).get("extension") or []
        }
        where = f"EpisodeOfCare.statusHistory[{i}]"
        to_status = _choice(
            _str((detail.get("to") or {}).get("valueCode")), SigningStatus, f"{where}.extension.to", "status"
        )
        from_status = _str((detail.get("from") or {}).get("valueCode"))
        if from_status:
            _choice(from_status, SigningStatus, f"{where}.extension.from", "status")
        reason = _choice(
            _str(((detail.get("reason") or {}).get("valueCoding") or {}).get("code")),
            ChangeReason,
            f"{where}.extension.reason",
            "reason",
        )
        events.append(
            EventIn(
                from_status=from_status,
                to_status=to_status,
                reason=reason,
                note=_str((detail.get("note") or {}).get("valueString"))[:200],
                at=_moment((entry.get("period") or {}).get("start"), f"{where}.period.start"),
            )
        )
    key = _identifier(resource, d.SIGNING_SYSTEM, "EpisodeOfCare.identifier")
    if not key.startswith(f"{starts_on.isoformat()}#") or not key.partition("#")[2].isdigit():
        raise EntryError("EpisodeOfCare.identifier", "the identifier must be <period start>#<n>")
    return SigningIn(
        subject=_patient_ref(resource.get("patient"), "EpisodeOfCare.patient"),
        key=key,
        status=status,
        channel=channel,
        starts_on=starts_on,
        ends_on=ends_on,
        centre_code=_ref_value(
            resource.get("managingOrganization"),
            systems.INSTITUTION_SYSTEM,
            "EpisodeOfCare.managingOrganization",
        ),
        doctor_code=_ref_value(
            resource.get("careManager"), systems.STAFF_SYSTEM, "EpisodeOfCare.careManager"
        ),
        team_key=_ref_value((resource.get("team") or [{}])[0], d.TEAM_SYSTEM, "EpisodeOfCare.team"),
        package_key=ref("package", d.PACKAGE_SYSTEM, required=True),
        consent_key=ref("consent", d.CONSENT_SYSTEM, required=True),
        created_at=when("created"),
        status_changed_at=when("status-changed"),
        district_hospital=ref("district-hospital", systems.INSTITUTION_SYSTEM),
        municipal_hospital=ref("municipal-hospital", systems.INSTITUTION_SYSTEM),
        specialist=ref("specialist", systems.STAFF_SYSTEM),
        household=ref("household", d.HOUSEHOLD_SYSTEM),
        previous=ref("previous", d.SIGNING_SYSTEM),
        events=tuple(events),
    )


PARSERS: dict[str, Callable[[dict[str, Any], datetime], Any]] = {
    "Location": parse_location,
    "Organization": parse_organization,
    "Practitioner": parse_practitioner,
    "CareTeam": parse_care_team,
    "PractitionerRole": parse_practitioner_role,
    "PlanDefinition": parse_plan_definition,
    "Group": parse_group,
    "Patient": parse_patient,
    "QuestionnaireResponse": parse_questionnaire_response,
    "Consent": parse_consent,
    "EpisodeOfCare": parse_episode_of_care,
}


def parse(resource_type: str, resource: dict[str, Any], now: datetime) -> Any:
    return PARSERS[resource_type](resource, now)


# Storing ----------------------------------------------------------------------------------------------


class _Lookups:
    """Rows found by business key during one import, so a district's thousands of references to the
    same few places, teams and packages cost one query each."""

    def __init__(self) -> None:
        self.places: dict[str, Place | None] = {}
        self.points: dict[str, ResidentialPoint | None] = {}
        self.teams: dict[str, Team | None] = {}
        self.packages: dict[str, ServicePackage | None] = {}
        self.households: dict[str, Household | None] = {}


_LOOKUPS: weakref.WeakKeyDictionary[Any, _Lookups] = weakref.WeakKeyDictionary()


def _lookups(importer: _Importer) -> _Lookups:
    found = _LOOKUPS.get(importer)
    if found is None:
        found = _LOOKUPS[importer] = _Lookups()
    return found


def _place(importer: _Importer, code: str, path: str) -> Place:
    cache = _lookups(importer).places
    if cache.get(code) is None:
        cache[code] = Place.objects.filter(code=code).first()
    found = cache[code]
    if found is None:
        raise EntryError(path, f"no place with code {code}")
    return found


def _point(importer: _Importer, code: str, path: str) -> ResidentialPoint:
    cache = _lookups(importer).points
    if cache.get(code) is None:
        cache[code] = ResidentialPoint.objects.filter(code=code).first()
    found = cache[code]
    if found is None:
        raise EntryError(path, f"no residential point with code {code}")
    return found


def _team(importer: _Importer, key: str, path: str) -> Team:
    cache = _lookups(importer).teams
    if cache.get(key) is None:
        centre, _, name = key.partition("/")
        cache[key] = Team.objects.filter(centre__code=centre, name=name).first()
    found = cache[key]
    if found is None:
        raise EntryError(path, f"no team {key}")
    return found


def _package(importer: _Importer, key: str, path: str) -> ServicePackage:
    cache = _lookups(importer).packages
    if cache.get(key) is None:
        district, year, code = key.split("/", 2)
        cache[key] = ServicePackage.objects.filter(district__code=district, year=int(year), code=code).first()
    found = cache[key]
    if found is None:
        raise EntryError(path, f"no service package {key}")
    return found


def _household(importer: _Importer, code: str, path: str) -> Household:
    cache = _lookups(importer).households
    if cache.get(code) is None:
        cache[code] = Household.objects.filter(code=code).first()
    found = cache[code]
    if found is None:
        raise EntryError(path, f"no household with code {code}")
    return found


def _institution(importer: _Importer, code: str, path: str) -> Institution:
    return importer._institution_by_code([code], path)


def _staff(importer: _Importer, code: str, path: str) -> Staff:
    return importer._staff_by_code([code], path)


def _resident(importer: _Importer, ref: Ref) -> Resident:
    return importer._patient(ref, ref.field.split(".", 1)[0])


_UNKNOWN = object()  # `_save` was not told whether the row is stored


def _save(
    importer: _Importer,
    model: type[models.Model],
    key: dict[str, Any],
    values: dict[str, Any],
    resident_id: int | None = None,
    after: Callable[[Any, bool], list[str]] | None = None,
    stored: Any = _UNKNOWN,
) -> tuple[str, Any]:
    """Create the row `key` names, or update the one stored; nothing (no write, no audit) when every
    value is already stored. `after(row, created)` writes what hangs off the row (many-to-many links,
    events) and returns the names of what it changed. `stored` is the row when the caller found it
    (`key` alone does not name it). One savepoint: all of it or none."""
    row = model._default_manager.filter(**key).first() if stored is _UNKNOWN else stored
    try:
        with transaction.atomic():
            if row is None:
                row = model._default_manager.create(**key, **values)
                changed = sorted(values)
                status = CREATED
            else:
                changed = [name for name, value in values.items() if getattr(row, name) != value]
                for name in changed:
                    setattr(row, name, values[name])
                if changed:
                    row.save(update_fields=changed)
                status = UPDATED
            if after is not None:
                changed += after(row, status == CREATED)
            if status == UPDATED and not changed:
                return UNCHANGED, row
            record_many(
                [
                    Event(
                        action=Action.CREATE if status == CREATED else Action.UPDATE,
                        resource_type=model._meta.model_name or "",
                        resource_id=row.pk,
                        resident_id=resident_id,
                        detail={"via": f"fhir {importer.bundle_type}", "fields": changed},
                    )
                ],
                request=importer.request,
                actor=importer.actor,
            )
    except IntegrityError:
        raise EntryError(
            f"{model.__name__}.identifier", "the database refused it: it conflicts with a stored record"
        ) from None
    return status, row


def _set_links(manager: Any, wanted: set[int]) -> bool:
    """Make a many-to-many relation hold exactly `wanted`; whether that changed anything."""
    if set(manager.values_list("pk", flat=True)) == wanted:
        return False
    manager.set(wanted)
    return True


def _apply_place(importer: _Importer, data: PlaceIn) -> tuple[str, Any]:
    parent = _place(importer, data.parent_code, "Location.partOf") if data.parent_code else None
    values = {
        "name": data.name,
        "name_en": data.name_en,
        "level": data.level,
        "kind": data.kind,
        "parent_id": parent.pk if parent else None,
        "centroid_lat": data.lat,
        "centroid_lon": data.lon,
        "boundary": data.boundary,
    }
    status, row = _save(importer, Place, {"code": data.code}, values)
    _lookups(importer).places[data.code] = row
    return status, row


def _apply_point(importer: _Importer, data: PointIn) -> tuple[str, Any]:
    committee = _place(importer, data.committee_code, "Location.partOf")
    values = {"committee_id": committee.pk, "address": data.address, "lat": data.lat, "lon": data.lon}
    status, row = _save(importer, ResidentialPoint, {"code": data.code}, values)
    _lookups(importer).points[data.code] = row
    return status, row


def _apply_institution(importer: _Importer, data: InstitutionIn) -> tuple[str, Any]:
    place = _place(importer, data.place_code, "Organization.extension")
    parent = _institution(importer, data.parent_code, "Organization.partOf") if data.parent_code else None
    committees = [_place(importer, code, "Organization.extension") for code in data.committees]
    values = {
        "name": data.name,
        "kind": data.kind,
        "place_id": place.pk,
        "parent_id": parent.pk if parent else None,
        "address": data.address,
        "lat": data.lat,
        "lon": data.lon,
        "opened_on": data.opened_on,
        "closed_on": data.closed_on,
    }

    def served(row: Institution, created: bool) -> list[str]:
        moved = [c for c in committees if c.responsible_centre_id != row.pk]
        for committee in moved:
            committee.responsible_centre_id = row.pk
        if moved:
            Place.objects.filter(pk__in=[c.pk for c in moved]).update(responsible_centre=row)
            return ["served_committees"]
        return []

    status, row = _save(importer, Institution, {"code": data.code}, values, after=served)
    importer.institutions[data.code] = row
    return status, row


def _apply_consortium(importer: _Importer, data: ConsortiumIn) -> tuple[str, Any]:
    lead = _institution(importer, data.lead_code, "Organization.extension")
    members = {_institution(importer, code, "Organization.extension").pk for code in data.member_codes}

    def link(row: MedicalConsortium, created: bool) -> list[str]:
        return ["members"] if _set_links(row.members, members) else []

    return _save(importer, MedicalConsortium, {"name": data.name}, {"lead_id": lead.pk}, after=link)


def _apply_staff(importer: _Importer, data: StaffIn) -> tuple[str, Any]:
    institution = _institution(importer, data.institution_code, "Practitioner.extension")
    values = {
        "name": data.name,
        "sex": data.sex,
        "profession": data.profession,
        "institution_id": institution.pk,
        "licence_number": data.licence_number,
        "is_registered_gp": data.is_registered_gp,
        "phone": data.phone,
        "active": data.active,
        "bio": data.bio,
    }
    status, row = _save(importer, Staff, {"code": data.code}, values)
    importer.staff[data.code] = row
    return status, row


def _apply_team(importer: _Importer, data: TeamIn) -> tuple[str, Any]:
    centre = _institution(importer, data.centre_code, "CareTeam.managingOrganization")
    lead = _staff(importer, data.lead_code, "CareTeam.participant.member")
    committees = {_place(importer, code, "CareTeam.extension").pk for code in data.committees}

    def link(row: Team, created: bool) -> list[str]:
        return ["committees"] if _set_links(row.committees, committees) else []

    status, row = _save(
        importer,
        Team,
        {"centre_id": centre.pk, "name": data.name},
        {"lead_id": lead.pk, "panel_capacity": data.panel_capacity},
        after=link,
    )
    _lookups(importer).teams[d.team_key(data.centre_code, data.name)] = row
    return status, row


def _apply_membership(importer: _Importer, data: MembershipIn) -> tuple[str, Any]:
    team = _team(importer, data.team_key, "PractitionerRole.extension")
    staff = _staff(importer, data.staff_code, "PractitionerRole.practitioner")
    return _save(
        importer, TeamMembership, {"team_id": team.pk, "staff_id": staff.pk}, {"team_role": data.team_role}
    )


def _apply_designation(importer: _Importer, data: DesignationIn) -> tuple[str, Any]:
    staff = _staff(importer, data.staff_code, "PractitionerRole.practitioner")
    committees = [_place(importer, code, "PractitionerRole.location") for code in data.committees]
    for committee in committees:
        if committee.level != PlaceLevel.COMMITTEE:
            raise EntryError("PractitionerRole.location", f"{committee.code} is not a committee")
    moved = [c for c in committees if c.designated_doctor_id != staff.pk]
    if not moved:
        return UNCHANGED, staff
    with transaction.atomic():
        Place.objects.filter(pk__in=[c.pk for c in moved]).update(designated_doctor=staff)
        for committee in moved:
            committee.designated_doctor_id = staff.pk
        record_many(
            [
                Event(
                    action=Action.UPDATE,
                    resource_type="place",
                    resource_id=c.pk,
                    detail={"via": f"fhir {importer.bundle_type}", "fields": ["designated_doctor"]},
                )
                for c in moved
            ],
            request=importer.request,
            actor=importer.actor,
        )
    return UPDATED, staff


def _apply_package(importer: _Importer, data: PackageIn) -> tuple[str, Any]:
    district = _place(importer, data.district_code, "PlanDefinition.identifier")
    values = {"name": data.name, "kind": data.kind, "active": data.active, **data.values}
    status, row = _save(
        importer, ServicePackage, {"district_id": district.pk, "year": data.year, "code": data.code}, values
    )
    _lookups(importer).packages[d.package_key(data.district_code, data.year, data.code)] = row
    return status, row


def _apply_household(importer: _Importer, data: HouseholdIn) -> tuple[str, Any]:
    point = _point(importer, data.point_code, "Group.extension") if data.point_code else None
    status, row = _save(
        importer, Household, {"code": data.code}, {"residential_point_id": point.pk if point else None}
    )
    _lookups(importer).households[data.code] = row
    return status, row


def _apply_resident(importer: _Importer, data: ResidentIn) -> tuple[str, Any]:
    from jiayi.records import services

    committee = _place(importer, data.committee_code, "Patient.extension") if data.committee_code else None
    point = _point(importer, data.point_code, "Patient.address.extension") if data.point_code else None
    household = (
        _household(importer, data.household_code, "Patient.extension") if data.household_code else None
    )
    wanted: dict[str, Any] = {
        "citizen_id": data.citizen_id,
        "alt_id_type": data.alt_id[0] if data.alt_id else "",
        "alt_id_number": data.alt_id[1] if data.alt_id else "",
        "health_record_number": data.health_record_number,
        "name": data.name,
        "sex": data.sex,
        "birth_date": data.birth_date,
        "phone": data.phone,
        "committee_id": committee.pk if committee else None,
        "residential_point_id": point.pk if point else None,
        "household_id": household.pk if household else None,
        "relationship": data.relationship,
        "is_resident": data.is_resident,
        "is_registered": data.is_registered,
        "date_of_death": data.date_of_death,
    }
    existing: Resident | None = None
    lookups = services._patient_lookups(data)
    for system, value in lookups:
        existing = importer._resident_by_identifier(system, value)
        if existing is not None:
            break
    today = timezone.localtime(importer.now).date()
    try:
        if existing is None:
            resident = registry.do_create_resident(
                importer.actor, wanted, importer.request, committees=None, today=today
            )
            status = CREATED
        else:
            before = registry.resident_data(Resident.objects.get(pk=existing.pk))
            changes = {name: value for name, value in wanted.items() if before.get(name) != value}
            if not changes and not data.provisional:
                return UNCHANGED, existing
            resident = registry.do_update_resident(
                importer.actor, existing, changes, importer.request, committees=None, today=today
            )
            status = UPDATED if changes else UNCHANGED
    except registry.RegistryValidationError as exc:
        where, message = exc.errors[0]
        raise EntryError(f"Patient.{services._PATIENT_ELEMENTS.get(where, where)}", message) from None
    except registry.DuplicateResidentError:
        raise EntryError(
            "Patient.identifier", "another resident already has one of these identifiers"
        ) from None
    if data.provisional and not resident.provisional:
        Resident.objects.filter(pk=resident.pk).update(provisional=True)
        status = UPDATED if status == UNCHANGED else status
    for key in lookups:
        importer.resident_ids[key] = resident.pk
    importer.resident_cache[resident.pk] = resident
    importer.in_scope[resident.pk] = True
    return status, resident


def _apply_exam(importer: _Importer, data: ExamIn) -> tuple[str, Any]:
    resident = _resident(importer, data.subject)
    institution = _institution(importer, data.institution_code, "QuestionnaireResponse.extension")
    examiner = (
        _staff(importer, data.examiner_code, "QuestionnaireResponse.author") if data.examiner_code else None
    )
    values = {"exam_date": data.exam_date, "examiner_id": examiner.pk if examiner else None, **data.parts}
    return importer._upsert(ElderlyExam, data.source_id, resident, institution.pk, values)


def _apply_consent(importer: _Importer, data: ConsentIn) -> tuple[str, Any]:
    resident = _resident(importer, data.subject)
    proxy = _resident(importer, data.proxy) if data.proxy is not None else None
    return _save(
        importer,
        Consent,
        {"resident_id": resident.pk, "kind": data.kind, "accepted_at": data.accepted_at},
        {
            "text_version": data.text_version,
            "withdrawn_at": data.withdrawn_at,
            "proxy_id": proxy.pk if proxy else None,
        },
        resident_id=resident.pk,
    )


def _apply_signing(importer: _Importer, data: SigningIn) -> tuple[str, Any]:
    resident = _resident(importer, data.subject)
    path = "EpisodeOfCare.extension"
    kind, _, accepted = data.consent_key.partition("@")
    consent = Consent.objects.filter(
        resident=resident, kind=kind, accepted_at=_moment(accepted, f"{path}.consent")
    ).first()
    if consent is None:
        raise EntryError(f"{path}.consent", f"no consent {data.consent_key} of this patient")
    previous: Signing | None = None
    if data.previous:
        previous = _stored_signing(resident, data.previous, f"{path}.previous")
        if previous is None:
            raise EntryError(f"{path}.previous", f"no signing of this patient starting {data.previous}")

    def staff_id(code: str, where: str) -> int | None:
        return _staff(importer, code, where).pk if code else None

    def institution_id(code: str, where: str) -> int | None:
        return _institution(importer, code, where).pk if code else None

    values: dict[str, Any] = {
        "family_doctor_id": staff_id(data.doctor_code, "EpisodeOfCare.careManager"),
        "team_id": _team(importer, data.team_key, "EpisodeOfCare.team").pk,
        "centre_id": institution_id(data.centre_code, "EpisodeOfCare.managingOrganization"),
        "district_hospital_id": institution_id(data.district_hospital, f"{path}.district-hospital"),
        "municipal_hospital_id": institution_id(data.municipal_hospital, f"{path}.municipal-hospital"),
        "specialist_id": staff_id(data.specialist, f"{path}.specialist"),
        "household_id": _household(importer, data.household, f"{path}.household").pk
        if data.household
        else None,
        "package_id": _package(importer, data.package_key, f"{path}.package").pk,
        "channel": data.channel,
        "status": data.status,
        "ends_on": data.ends_on,
        "consent_id": consent.pk,
        "previous_id": previous.pk if previous else None,
        "status_changed_at": data.status_changed_at,
    }
    wanted_events = [(e.from_status, e.to_status, e.reason, e.note, e.at) for e in data.events]

    def history(row: Signing, created: bool) -> list[str]:
        changed: list[str] = []
        if data.created_at is not None and row.created_at != data.created_at:
            Signing.objects.filter(pk=row.pk).update(created_at=data.created_at)
            row.created_at = data.created_at
            changed.append("created_at")
        stored = (
            []
            if created
            else list(
                row.events.order_by("at", "id").values_list(
                    "from_status", "to_status", "reason", "note", "at"
                )
            )
        )
        if stored != wanted_events:
            if not created:
                row.events.all().delete()
            SigningEvent.objects.bulk_create(
                SigningEvent(signing=row, from_status=f, to_status=t, reason=r, note=n, at=at)
                for f, t, r, n, at in wanted_events
            )
            changed.append("events")
        return changed

    return _save(
        importer,
        Signing,
        {"resident_id": resident.pk, "starts_on": data.starts_on},
        values,
        resident_id=resident.pk,
        after=history,
        stored=_stored_signing(resident, data.key, "EpisodeOfCare.identifier"),
    )


def _stored_signing(resident: Resident, key: str, path: str) -> Signing | None:
    """The resident's signing a key "<starts on>#<n>" names: the n-th (by id) starting that day."""
    start, _, n = key.partition("#")
    if not n.isdigit() or int(n) < 1:
        raise EntryError(path, f"{key!r} is not <period start>#<n>")
    rows = Signing.objects.filter(resident=resident, starts_on=_date(start, path)).order_by("id")
    found = list(rows[int(n) - 1 : int(n)])
    return found[0] if found else None


_APPLY: dict[type[Any], Callable[[Any, Any], tuple[str, Any]]] = {
    PlaceIn: _apply_place,
    PointIn: _apply_point,
    InstitutionIn: _apply_institution,
    ConsortiumIn: _apply_consortium,
    StaffIn: _apply_staff,
    TeamIn: _apply_team,
    MembershipIn: _apply_membership,
    DesignationIn: _apply_designation,
    PackageIn: _apply_package,
    HouseholdIn: _apply_household,
    ResidentIn: _apply_resident,
    ExamIn: _apply_exam,
    ConsentIn: _apply_consent,
    SigningIn: _apply_signing,
}


def apply(importer: _Importer, entry: ParsedEntry, data: fhir_in.DistrictIn) -> tuple[str, object]:
    """Store one district entry; the registry only from an operator's import."""
    if importer.residents is not None or importer.committees is not None:
        raise EntryError(
            f"{entry.resource_type}.meta.profile"
            if entry.resource_type in {"Organization", "Practitioner", "Patient"}
            else "resourceType",
            "registry and signing records are accepted only from an operator's import (jiayi import-fhir)",
        )
    return _APPLY[type(data)](importer, data)
