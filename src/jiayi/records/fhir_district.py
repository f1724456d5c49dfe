"""The whole district as FHIR R4 bundles: registry, health accounts and signings (docs/fhir.md "District").

`export_district` writes transaction Bundles of at most `BUNDLE_ENTRIES` entries into a folder, one
resource type per file, the files numbered in dependency order (what others point to first), so that
`jiayi import-fhir DIR` into an empty database rebuilds the same district. Every reference between
files is by business identifier (codes, citizen IDs, source identifiers), never by database id, so
the receiving database assigns its own ids.

Rows are read with `iterator()` a chunk at a time and every bundle is written as soon as it is full:
memory stays bounded whatever the district's size. Citizen IDs and phone numbers are exported in
full: the files move a district between jiayi databases and are personal data to be kept as such.
"""

from __future__ import annotations

import base64
import itertools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
from django.db.models import QuerySet
from django.utils import timezone

from jiayi.records import fhir_in, fhir_out
from jiayi.records import fhir_systems as systems
from jiayi.records.lib import ELDERLY_EXAM_PARTS
from jiayi.records.models import ClinicalEntry, Condition, ElderlyExam, Encounter, Medication, Observation
from jiayi.registry.choices import PlaceLevel
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
from jiayi.signing import fhir as signing_fhir
from jiayi.signing.models import Consent, ServicePackage, Signing

Resource = dict[str, Any]
BUNDLE_ENTRIES = 1_000

_BASE = systems.FHIR_BASE
_SD = f"{_BASE}/StructureDefinition"
_CS = f"{_BASE}/CodeSystem"

# Registry profile: an Organization, Practitioner or Patient carrying the whole registry record, which
# an operator's import may create or update (a feed's Organization or Patient only names one).
REGISTRY_PROFILE = f"{_SD}/district-registry"

PLACE_SYSTEM = f"{_BASE}/sid/place-code"  # Place.code (GB/T 2260 and NBS statistical codes)
POINT_SYSTEM = f"{_BASE}/sid/residential-point"  # ResidentialPoint.code
CONSORTIUM_SYSTEM = f"{_BASE}/sid/medical-consortium"  # MedicalConsortium.name
TEAM_SYSTEM = f"{_BASE}/sid/team"  # "<centre code>/<team name>"
MEMBERSHIP_SYSTEM = f"{_BASE}/sid/team-membership"  # "<centre code>/<team name>/<staff code>"
DESIGNATION_SYSTEM = f"{_BASE}/sid/designated-doctor"  # the staff code
HOUSEHOLD_SYSTEM = f"{_BASE}/sid/household"  # Household.code
PACKAGE_SYSTEM = f"{_BASE}/sid/service-package"  # "<district code>/<year>/<package code>"
CONSENT_SYSTEM = f"{_BASE}/sid/consent"  # "<kind>@<accepted at>", unique for its patient
SIGNING_SYSTEM = signing_fhir.SIGNING_SYSTEM  # "<starts on>#<n>", unique for its patient
LICENCE_SYSTEM = f"{_BASE}/sid/licence-number"  # 执业证书编号

PLACE_LEVEL_SYSTEM = f"{_CS}/place-level"  # PlaceLevel, plus residential_point
PLACE_KIND_SYSTEM = f"{_CS}/place-kind"
INSTITUTION_KIND_SYSTEM = f"{_CS}/institution-kind"
ORGANIZATION_TYPE_SYSTEM = f"{_CS}/organization-type"  # medical_consortium
PROFESSION_SYSTEM = f"{_CS}/profession"
QUALIFICATION_SYSTEM = f"{_CS}/qualification"  # registered_gp
TEAM_ROLE_SYSTEM = f"{_CS}/team-role"
PRACTITIONER_ROLE_SYSTEM = f"{_CS}/practitioner-role"  # team_member, designated_doctor
RELATIONSHIP_SYSTEM = f"{_CS}/household-relationship"
PACKAGE_KIND_SYSTEM = f"{_CS}/service-package-kind"
CONSENT_KIND_SYSTEM = f"{_CS}/consent-kind"
CONSENT_TEXT_SYSTEM = f"{_CS}/consent-text"  # code = kind, version = the text's version
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
SIGNING_CHANNEL_SYSTEM = f"{_CS}/signing-channel"
SIGNING_REASON_SYSTEM = f"{_CS}/signing-change-reason"
PLACE_LEVEL_POINT = "residential_point"
TEAM_MEMBER_ROLE = "team_member"
DESIGNATED_DOCTOR_ROLE = "designated_doctor"
CONSORTIUM_TYPE = "medical_consortium"

BOUNDARY_EXTENSION = "http://hl7.org/fhir/StructureDefinition/location-boundary-geojson"
GEOLOCATION_EXTENSION = "http://hl7.org/fhir/StructureDefinition/geolocation"
INSTITUTION_PLACE_EXTENSION = f"{_SD}/institution-place"
INSTITUTION_PERIOD_EXTENSION = f"{_SD}/institution-period"
RESPONSIBLE_FOR_EXTENSION = f"{_SD}/responsible-for-committee"
CONSORTIUM_LEAD_EXTENSION = f"{_SD}/consortium-lead"
CONSORTIUM_MEMBER_EXTENSION = f"{_SD}/consortium-member"
STAFF_INSTITUTION_EXTENSION = f"{_SD}/staff-institution"
STAFF_BIO_EXTENSION = f"{_SD}/staff-bio"
TEAM_EXTENSION = f"{_SD}/team"
SERVED_COMMITTEE_EXTENSION = f"{_SD}/served-committee"
PANEL_CAPACITY_EXTENSION = f"{_SD}/panel-capacity"
RESIDENTIAL_POINT_EXTENSION = f"{_SD}/residential-point"
HOUSEHOLD_EXTENSION = f"{_SD}/household-membership"  # sub-extensions household, relationship
RESIDENCE_EXTENSION = f"{_SD}/residence"  # sub-extensions is-resident, is-registered
PROVISIONAL_EXTENSION = f"{_SD}/provisional-record"
PACKAGE_EXTENSION = f"{_SD}/service-package"  # on PlanDefinition: sub-extensions per promised service
PACKAGE_DISTRICT_EXTENSION = f"{_SD}/service-package-district"
SIGNING_EXTENSION = f"{_SD}/signing"  # on EpisodeOfCare: sub-extensions, see `signing_episode`
SIGNING_EVENT_EXTENSION = f"{_SD}/signing-event"  # on each statusHistory entry
# The institution that recorded an entry whose resource has no element for one (Condition, the 65+ form).
RECORDED_AT_EXTENSION = fhir_in.RECORDED_AT_EXTENSION

# The promised services of a package (ServicePackage column → value[x] type), in this order.
PACKAGE_SERVICES: tuple[tuple[str, str], ...] = (
    ("yearly_assessment", "valueBoolean"),
    ("contacts_per_year", "valueInteger"),
    ("long_prescription_days", "valueInteger"),
    ("continued_hospital_prescriptions", "valueBoolean"),
    ("home_visits_per_year", "valueInteger"),
    ("priority_referral", "valueBoolean"),
    ("yearly_report", "valueBoolean"),
)


# References and small pieces --------------------------------------------------------------------------


def ident_ref(resource_type: str, system: str, value: str) -> Resource:
    return {"type": resource_type, "identifier": {"system": system, "value": value}}


def place_ref(code: str) -> Resource:
    return ident_ref("Location", PLACE_SYSTEM, code)


def institution_ref(code: str) -> Resource:
    return ident_ref("Organization", systems.INSTITUTION_SYSTEM, code)


def staff_ref(code: str) -> Resource:
    return ident_ref("Practitioner", systems.STAFF_SYSTEM, code)


def team_key(centre_code: str, name: str) -> str:
    return f"{centre_code}/{name}"


def package_key(district_code: str, year: int, code: str) -> str:
    return f"{district_code}/{year}/{code}"


def consent_key(kind: str, accepted_at: datetime) -> str:
    return f"{kind}@{_instant(accepted_at)}"


def signing_key(starts_on: date, n: int) -> str:
    return f"{starts_on.isoformat()}#{n}"


def patient_identifier(resident: Resident) -> tuple[str, str]:
    """The identifier a resident is referred to by: citizen ID, else alternative ID, else record number."""
    if resident.citizen_id:
        return systems.CITIZEN_ID_SYSTEM, resident.citizen_id
    if resident.alt_id_number:
        return systems.ALT_ID_SYSTEMS[resident.alt_id_type], resident.alt_id_number
    return systems.HEALTH_RECORD_SYSTEM, str(resident.health_record_number)


def patient_ref(resident: Resident) -> Resource:
    return ident_ref("Patient", *patient_identifier(resident))


def _instant(value: datetime) -> str:
    return timezone.localtime(value).isoformat()


def _coding(system: str, code: str, display: str = "") -> Resource:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(system: str, code: str, display: str = "") -> Resource:
    return {"coding": [_coding(system, code, display)]}


def _ext(url: str, kind: str, value: Any) -> Resource:
    return {"url": url, kind: value}


def _geolocation(lat: float, lon: float) -> Resource:
    return {
        "url": GEOLOCATION_EXTENSION,
        "extension": [
            {"url": "latitude", "valueDecimal": lat},
            {"url": "longitude", "valueDecimal": lon},
        ],
    }


def entry_source_id(entry: ClinicalEntry) -> Resource:
    """The entry's identifier exactly as stored, so that the import stores the same source id: a
    plain id travels without a system (FHIR allows it), a system|value pair as both."""
    system, sep, value = entry.source_id.partition("|")
    if sep:
        return {"system": system, "value": value}
    return {"value": entry.source_id}


_SAFE_ID = re.compile(r"[^A-Za-z0-9.\-]")


def resource_id(source_id: str) -> str:
    """A FHIR logical id derived from a source id (QuestionnaireResponse's identifier is not a list,
    so importers that read the first of a list fall back to the id)."""
    return _SAFE_ID.sub("-", source_id)[:64]


def _identifier_ref(resource_type: str, identifier: Resource) -> Resource:
    return {"type": resource_type, "identifier": identifier}


# Registry ---------------------------------------------------------------------------------------------


def place_location(place: Place, parent_code: str | None) -> Resource:
    resource: Resource = {
        "resourceType": "Location",
        "identifier": [{"system": PLACE_SYSTEM, "value": place.code}],
        "status": "active",
        "name": place.name,
        "mode": "instance",
        "type": [
            {
                "coding": [
                    _coding(PLACE_LEVEL_SYSTEM, place.level, fhir_out._english(place.get_level_display())),
                    _coding(PLACE_KIND_SYSTEM, place.kind, fhir_out._english(place.get_kind_display())),
                ]
            }
        ],
        "physicalType": _concept(
            "http://terminology.hl7.org/CodeSystem/location-physical-type", "area", "Area"
        ),
    }
    if place.name_en:
        resource["alias"] = [place.name_en]
    if place.centroid_lat is not None and place.centroid_lon is not None:
        resource["position"] = {"longitude": place.centroid_lon, "latitude": place.centroid_lat}
    if place.boundary is not None:
        geojson = orjson.dumps(place.boundary)
        resource["extension"] = [
            _ext(
                BOUNDARY_EXTENSION,
                "valueAttachment",
                {"contentType": "application/geo+json", "data": base64.b64encode(geojson).decode()},
            )
        ]
    if parent_code:
        resource["partOf"] = place_ref(parent_code)
    return resource


def point_location(point: ResidentialPoint, committee_code: str) -> Resource:
    return {
        "resourceType": "Location",
        "identifier": [{"system": POINT_SYSTEM, "value": point.code}],
        "status": "active",
        "name": point.address,
        "mode": "instance",
        "type": [{"coding": [_coding(PLACE_LEVEL_SYSTEM, PLACE_LEVEL_POINT, "Residential point")]}],
        "physicalType": _concept(
            "http://terminology.hl7.org/CodeSystem/location-physical-type", "bu", "Building"
        ),
        "address": {"text": point.address},
        "position": {"longitude": point.lon, "latitude": point.lat},
        "partOf": place_ref(committee_code),
    }


def institution_organization(
    institution: Institution, place_code: str, parent_code: str | None, committees: list[str]
) -> Resource:
    resource: Resource = {
        "resourceType": "Organization",
        "meta": {"profile": [REGISTRY_PROFILE]},
        "identifier": [{"system": systems.INSTITUTION_SYSTEM, "value": institution.code}],
        "active": institution.closed_on is None,
        "type": [
            _concept(
                INSTITUTION_KIND_SYSTEM, institution.kind, fhir_out._english(institution.get_kind_display())
            )
        ],
        "name": institution.name,
    }
    extensions: list[Resource] = [_ext(INSTITUTION_PLACE_EXTENSION, "valueReference", place_ref(place_code))]
    if institution.opened_on or institution.closed_on:
        period: Resource = {}
        if institution.opened_on:
            period["start"] = institution.opened_on.isoformat()
        if institution.closed_on:
            period["end"] = institution.closed_on.isoformat()
        extensions.append(_ext(INSTITUTION_PERIOD_EXTENSION, "valuePeriod", period))
    extensions.extend(
        _ext(RESPONSIBLE_FOR_EXTENSION, "valueReference", place_ref(code)) for code in committees
    )
    resource["extension"] = extensions
    address: Resource = {}
    if institution.address:
        address["text"] = institution.address
    if institution.lat is not None and institution.lon is not None:
        address["extension"] = [_geolocation(institution.lat, institution.lon)]
    if address:
        resource["address"] = [address]
    if parent_code:
        resource["partOf"] = institution_ref(parent_code)
    return resource


def consortium_organization(consortium: MedicalConsortium, lead: str, members: list[str]) -> Resource:
    return {
        "resourceType": "Organization",
        "meta": {"profile": [REGISTRY_PROFILE]},
        "identifier": [{"system": CONSORTIUM_SYSTEM, "value": consortium.name}],
        "active": True,
        "type": [_concept(ORGANIZATION_TYPE_SYSTEM, CONSORTIUM_TYPE, "医联体 Medical consortium")],
        "name": consortium.name,
        "extension": [
            _ext(CONSORTIUM_LEAD_EXTENSION, "valueReference", institution_ref(lead)),
            *(_ext(CONSORTIUM_MEMBER_EXTENSION, "valueReference", institution_ref(code)) for code in members),
        ],
    }


def staff_practitioner(staff: Staff, institution_code: str) -> Resource:
    identifiers = [{"system": systems.STAFF_SYSTEM, "value": staff.code}]
    profession: Resource = {"code": _concept(PROFESSION_SYSTEM, staff.profession)}
    if staff.licence_number:
        profession["identifier"] = [{"system": LICENCE_SYSTEM, "value": staff.licence_number}]
    qualifications = [profession]
    if staff.is_registered_gp:
        qualifications.append({"code": _concept(QUALIFICATION_SYSTEM, "registered_gp", "注册全科医生")})
    resource: Resource = {
        "resourceType": "Practitioner",
        "meta": {"profile": [REGISTRY_PROFILE]},
        "identifier": identifiers,
        "active": staff.active,
        "name": [{"text": staff.name}],
        "gender": staff.sex,
        "qualification": qualifications,
        "extension": [_ext(STAFF_INSTITUTION_EXTENSION, "valueReference", institution_ref(institution_code))],
    }
    if staff.bio:
        resource["extension"].append(_ext(STAFF_BIO_EXTENSION, "valueString", staff.bio))
    if staff.phone:
        resource["telecom"] = [{"system": "phone", "value": staff.phone, "use": "work"}]
    return resource


def team_care_team(team: Team, centre_code: str, lead_code: str, committees: list[str]) -> Resource:
    return {
        "resourceType": "CareTeam",
        "identifier": [{"system": TEAM_SYSTEM, "value": team_key(centre_code, team.name)}],
        "status": "active",
        "category": [_concept(signing_fhir.CARE_TEAM_CATEGORY_SYSTEM, signing_fhir.LONGITUDINAL_CARE_TEAM)],
        "name": team.name,
        "participant": [
            {"role": [_concept(TEAM_ROLE_SYSTEM, "lead", "团队长 Lead")], "member": staff_ref(lead_code)}
        ],
        "managingOrganization": [institution_ref(centre_code)],
        "extension": [
            _ext(PANEL_CAPACITY_EXTENSION, "valueInteger", team.panel_capacity),
            *(_ext(SERVED_COMMITTEE_EXTENSION, "valueReference", place_ref(code)) for code in committees),
        ],
    }


def membership_role(
    membership: TeamMembership, centre_code: str, team_name: str, staff_code: str
) -> Resource:
    key = team_key(centre_code, team_name)
    return {
        "resourceType": "PractitionerRole",
        "identifier": [{"system": MEMBERSHIP_SYSTEM, "value": f"{key}/{staff_code}"}],
        "active": True,
        "practitioner": staff_ref(staff_code),
        "organization": institution_ref(centre_code),
        "code": [
            _concept(PRACTITIONER_ROLE_SYSTEM, TEAM_MEMBER_ROLE, "家庭医生团队成员 Team member"),
            _concept(TEAM_ROLE_SYSTEM, membership.team_role),
        ],
        "extension": [_ext(TEAM_EXTENSION, "valueReference", ident_ref("CareTeam", TEAM_SYSTEM, key))],
    }


def designation_role(staff_code: str, institution_code: str, committees: list[str]) -> Resource:
    return {
        "resourceType": "PractitionerRole",
        "identifier": [{"system": DESIGNATION_SYSTEM, "value": staff_code}],
        "active": True,
        "practitioner": staff_ref(staff_code),
        "organization": institution_ref(institution_code),
        "code": [
            _concept(PRACTITIONER_ROLE_SYSTEM, DESIGNATED_DOCTOR_ROLE, "居委签约责任医生 Designated doctor")
        ],
        "location": [place_ref(code) for code in committees],
    }


def package_plan(package: ServicePackage, district_code: str) -> Resource:
    services: list[Resource] = [_ext(name, kind, getattr(package, name)) for name, kind in PACKAGE_SERVICES]
    services.extend(_ext("other_service", "valueString", str(text)) for text in package.other_services)
    return {
        "resourceType": "PlanDefinition",
        "identifier": [
            {"system": PACKAGE_SYSTEM, "value": package_key(district_code, package.year, package.code)}
        ],
        "name": package.code,
        "title": package.name,
        "type": _concept(PACKAGE_KIND_SYSTEM, package.kind, fhir_out._english(package.get_kind_display())),
        "status": "active" if package.active else "retired",
        "effectivePeriod": {"start": f"{package.year}-01-01", "end": f"{package.year}-12-31"},
        "extension": [
            _ext(PACKAGE_DISTRICT_EXTENSION, "valueReference", place_ref(district_code)),
            _ext(
                f"{PACKAGE_EXTENSION}-price", "valueMoney", {"value": float(package.price), "currency": "CNY"}
            ),
            {"url": PACKAGE_EXTENSION, "extension": services},
        ],
    }


def household_group(household: Household, point_code: str | None) -> Resource:
    resource: Resource = {
        "resourceType": "Group",
        "identifier": [{"system": HOUSEHOLD_SYSTEM, "value": household.code}],
        "type": "person",
        "actual": True,
        "code": {"text": "户 Household"},
    }
    if point_code:
        resource["extension"] = [
            _ext(
                RESIDENTIAL_POINT_EXTENSION, "valueReference", ident_ref("Location", POINT_SYSTEM, point_code)
            )
        ]
    return resource


def resident_patient(
    resident: Resident, committee_code: str | None, point: tuple[str, str] | None, household_code: str | None
) -> Resource:
    """The whole registry record of a resident (registry profile), all identifiers included."""
    identifiers: list[Resource] = []
    if resident.citizen_id:
        identifiers.append({"system": systems.CITIZEN_ID_SYSTEM, "value": resident.citizen_id})
    if resident.alt_id_number:
        identifiers.append(
            {"system": systems.ALT_ID_SYSTEMS[resident.alt_id_type], "value": resident.alt_id_number}
        )
    if resident.health_record_number:
        identifiers.append({"system": systems.HEALTH_RECORD_SYSTEM, "value": resident.health_record_number})
    resource: Resource = {
        "resourceType": "Patient",
        "meta": {"profile": [REGISTRY_PROFILE]},
        "identifier": identifiers,
        "name": [{"text": resident.name}],
        "gender": resident.sex,
        "birthDate": resident.birth_date.isoformat(),
    }
    if resident.date_of_death is not None:
        resource["deceasedDateTime"] = resident.date_of_death.isoformat()
    if resident.phone:
        resource["telecom"] = [{"system": "phone", "value": resident.phone, "use": "mobile"}]
    extensions: list[Resource] = [
        {
            "url": RESIDENCE_EXTENSION,
            "extension": [
                {"url": "is-resident", "valueBoolean": resident.is_resident},
                {"url": "is-registered", "valueBoolean": resident.is_registered},
            ],
        }
    ]
    if committee_code:
        extensions.append(_ext(systems.COMMITTEE_EXTENSION, "valueCode", committee_code))
    if household_code:
        parts: list[Resource] = [
            _ext("household", "valueReference", ident_ref("Group", HOUSEHOLD_SYSTEM, household_code))
        ]
        if resident.relationship:
            parts.append(
                _ext("relationship", "valueCoding", _coding(RELATIONSHIP_SYSTEM, resident.relationship))
            )
        extensions.append({"url": HOUSEHOLD_EXTENSION, "extension": parts})
    if resident.provisional:
        extensions.append(_ext(PROVISIONAL_EXTENSION, "valueBoolean", True))
    resource["extension"] = extensions
    if point is not None:
        code, address = point
        resource["address"] = [
            {
                "use": "home",
                "text": address,
                "extension": [
                    _ext(
                        RESIDENTIAL_POINT_EXTENSION,
                        "valueReference",
                        ident_ref("Location", POINT_SYSTEM, code),
                    )
                ],
            }
        ]
    return resource


# Health accounts --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Codes:
    """Business identifiers by database id, for the small tables every clinical entry points to."""

    institutions: dict[int, str] = field(default_factory=dict)
    staff: dict[int, str] = field(default_factory=dict)


def _clinical(entry: ClinicalEntry, resource: Resource, codes: _Codes) -> Resource:
    """A resource from fhir_out with its database ids replaced by business identifiers."""
    resource.pop("id", None)
    resource.pop("meta", None)
    resource["identifier"] = [entry_source_id(entry)]
    resource = _swap_refs(resource, codes, entry)
    resource["subject"] = patient_ref(entry.resident)
    return resource  # type: ignore[no-any-return]


def _swap_refs(node: Any, codes: _Codes, entry: ClinicalEntry) -> Any:
    """`node` with every `{"reference": "Type/id"}` replaced by a reference by business identifier."""
    if isinstance(node, list):
        return [_swap_refs(item, codes, entry) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("reference")
    if isinstance(reference, str) and len(node) == 1:
        kind, _, pk = reference.partition("/")
        if kind == "Organization":
            return institution_ref(codes.institutions[int(pk)])
        if kind == "Practitioner":
            return staff_ref(codes.staff[int(pk)])
        if kind == "Encounter":
            encounter = getattr(entry, "encounter", None)
            assert encounter is not None
            return _identifier_ref("Encounter", entry_source_id(encounter))
        return node
    return {key: _swap_refs(value, codes, entry) for key, value in node.items()}


def _exam_items(prefix: str, answers: dict[str, Any], order: Iterable[str] = ()) -> list[Resource]:
    """Answers as items; a nested object becomes a group of items, so its structure survives."""
    keys = [*order, *sorted(k for k in answers if k not in set(order))]
    items: list[Resource] = []
    for key in keys:
        if key not in answers:
            continue
        value = answers[key]
        link = f"{prefix}.{key}"
        if isinstance(value, dict):
            items.append({"linkId": link, "item": _exam_items(link, value)})
        elif isinstance(value, list):
            items.append({"linkId": link, "answer": [fhir_out._answer(v) for v in value]})
        elif value is None:
            items.append({"linkId": link})
        else:
            items.append({"linkId": link, "answer": [fhir_out._answer(value)]})
    return items


def elderly_exam_response(exam: ElderlyExam, codes: _Codes) -> Resource:
    groups = []
    for part, order in ELDERLY_EXAM_PARTS.items():
        answers = exam.parts[part] or {}
        if answers:
            groups.append(
                {
                    "linkId": part,
                    "text": fhir_out.ELDERLY_EXAM_PART_LABELS[part],
                    "item": _exam_items(part, answers, order),
                }
            )
    resource: Resource = {
        "resourceType": "QuestionnaireResponse",
        "id": resource_id(exam.source_id),
        "identifier": entry_source_id(exam),
        "questionnaire": systems.ELDERLY_EXAM_QUESTIONNAIRE,
        "status": "completed" if exam.is_complete else "in-progress",
        "subject": patient_ref(exam.resident),
        "authored": exam.exam_date.isoformat(),
        "author": staff_ref(codes.staff[exam.examiner_id])
        if exam.examiner_id is not None
        else institution_ref(codes.institutions[exam.institution_id]),
        "extension": [
            _ext(
                RECORDED_AT_EXTENSION,
                "valueReference",
                institution_ref(codes.institutions[exam.institution_id]),
            )
        ],
    }
    if groups:
        resource["item"] = groups
    return resource


# Signings ---------------------------------------------------------------------------------------------


def consent_resource(consent: Consent) -> Resource:
    resource: Resource = {
        "resourceType": "Consent",
        "identifier": [{"system": CONSENT_SYSTEM, "value": consent_key(consent.kind, consent.accepted_at)}],
        "status": "active" if consent.withdrawn_at is None else "inactive",
        "scope": _concept(CONSENT_SCOPE_SYSTEM, "patient-privacy", "Privacy Consent"),
        "category": [
            _concept(CONSENT_KIND_SYSTEM, consent.kind, fhir_out._english(consent.get_kind_display()))
        ],
        "patient": patient_ref(consent.resident),
        "dateTime": _instant(consent.accepted_at),
        "policyRule": {
            "coding": [{"system": CONSENT_TEXT_SYSTEM, "code": consent.kind, "version": consent.text_version}]
        },
        "provision": {"period": {"start": _instant(consent.accepted_at)}},
    }
    if consent.withdrawn_at is not None:
        resource["provision"]["period"]["end"] = _instant(consent.withdrawn_at)
    if consent.proxy is not None:
        resource["performer"] = [patient_ref(consent.proxy)]
    return resource


def signing_episode(
    signing: Signing,
    codes: _Codes,
    teams: dict[int, str],
    packages: dict[int, str],
    households: dict[int, str],
    keys: dict[int, str],
) -> Resource:
    """A signing as an EpisodeOfCare: the status, period, centre and family doctor in FHIR's own
    elements; team, package, consent, 1+1+1 hospitals, specialist, household, channel and the signing it
    renews in the `signing` extension; every status change in statusHistory with its reason."""
    resident = signing.resident
    parts: list[Resource] = [
        _ext("status", "valueCoding", _coding(signing_fhir.SIGNING_STATUS_SYSTEM, signing.status)),
        _ext("channel", "valueCoding", _coding(SIGNING_CHANNEL_SYSTEM, signing.channel)),
        _ext(
            "package",
            "valueReference",
            ident_ref("PlanDefinition", PACKAGE_SYSTEM, packages[signing.package_id]),
        ),
        _ext(
            "consent",
            "valueReference",
            ident_ref(
                "Consent", CONSENT_SYSTEM, consent_key(signing.consent.kind, signing.consent.accepted_at)
            ),
        ),
        _ext("created", "valueDateTime", _instant(signing.created_at)),
    ]
    for name, pk in (
        ("district-hospital", signing.district_hospital_id),
        ("municipal-hospital", signing.municipal_hospital_id),
    ):
        if pk is not None:
            parts.append(_ext(name, "valueReference", institution_ref(codes.institutions[pk])))
    if signing.specialist_id is not None:
        parts.append(_ext("specialist", "valueReference", staff_ref(codes.staff[signing.specialist_id])))
    if signing.household_id is not None:
        parts.append(
            _ext(
                "household",
                "valueReference",
                ident_ref("Group", HOUSEHOLD_SYSTEM, households[signing.household_id]),
            )
        )
    if signing.previous_id is not None:
        parts.append(
            _ext(
                "previous",
                "valueReference",
                ident_ref("EpisodeOfCare", SIGNING_SYSTEM, keys[signing.previous_id]),
            )
        )
    if signing.status_changed_at is not None:
        parts.append(_ext("status-changed", "valueDateTime", _instant(signing.status_changed_at)))
    history: list[Resource] = []
    for event in signing.events.all():
        detail: list[Resource] = [
            _ext("to", "valueCode", event.to_status),
            _ext("reason", "valueCoding", _coding(SIGNING_REASON_SYSTEM, event.reason)),
        ]
        if event.from_status:
            detail.insert(0, _ext("from", "valueCode", event.from_status))
        if event.note:
            detail.append(_ext("note", "valueString", event.note))
        history.append(
            {
                "extension": [{"url": SIGNING_EVENT_EXTENSION, "extension": detail}],
                "status": signing_fhir.EPISODE_STATUS[event.to_status],
                "period": {"start": _instant(event.at)},
            }
        )
    for before, after in itertools.pairwise(history):
        before["period"]["end"] = after["period"]["start"]
    resource: Resource = {
        "resourceType": "EpisodeOfCare",
        "identifier": [{"system": SIGNING_SYSTEM, "value": keys[signing.pk]}],
        "extension": [{"url": SIGNING_EXTENSION, "extension": parts}],
        "status": signing_fhir.EPISODE_STATUS[signing.status],
        "type": [
            _concept(
                signing_fhir.EPISODE_TYPE_SYSTEM,
                "family_doctor_signing",
                "家庭医生签约 Family-doctor signing",
            )
        ],
        "patient": patient_ref(resident),
        "managingOrganization": institution_ref(codes.institutions[signing.centre_id]),
        "period": {"start": signing.starts_on.isoformat(), "end": signing.ends_on.isoformat()},
        "careManager": staff_ref(codes.staff[signing.family_doctor_id]),
        "team": [ident_ref("CareTeam", TEAM_SYSTEM, teams[signing.team_id])],
    }
    if history:
        resource["statusHistory"] = history
    return resource


# Writing ----------------------------------------------------------------------------------------------


class Progress(Protocol):
    def stage(self, name: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


class _Silent:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass


@dataclass(slots=True)
class ExportSummary:
    """Resources written per type, and the files."""

    resources: dict[str, int] = field(default_factory=dict)
    files: int = 0

    @property
    def total(self) -> int:
        return sum(self.resources.values())


class _Writer:
    """Fills transaction bundles of one type (and source system) and writes each one when full."""

    def __init__(self, folder: Path, summary: ExportSummary, progress: Progress) -> None:
        self.folder = folder
        self.summary = summary
        self.progress = progress

    def write(self, resource_type: str, resources: Iterable[Resource], source: str = "") -> None:
        batch: list[Resource] = []
        for resource in resources:
            batch.append(resource)
            if len(batch) == BUNDLE_ENTRIES:
                self._flush(resource_type, batch, source)
                batch = []
        if batch:
            self._flush(resource_type, batch, source)

    def _flush(self, resource_type: str, batch: list[Resource], source: str) -> None:
        self.summary.files += 1
        bundle: Resource = {"resourceType": "Bundle", "type": "transaction"}
        if source:
            bundle["meta"] = {"source": source}
        bundle["entry"] = [
            {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
            for resource in batch
        ]
        path = self.folder / f"{self.summary.files:06d}-{resource_type}.json"
        path.write_bytes(orjson.dumps(bundle))
        self.summary.resources[resource_type] = self.summary.resources.get(resource_type, 0) + len(batch)
        self.progress.advance(len(batch))


def _rows(queryset: QuerySet[Any], chunk: int = 2_000) -> Iterator[Any]:
    return queryset.iterator(chunk_size=chunk)


def export_district(folder: Path, *, progress: Progress | None = None) -> ExportSummary:
    """Write every place, institution, staff member, team, package, household, resident, health-account
    entry and signing of the database into `folder` (created if missing; it should be empty)."""
    folder.mkdir(parents=True, exist_ok=True)
    reporter: Progress = progress or _Silent()
    summary = ExportSummary()
    out = _Writer(folder, summary, reporter)
    places = dict(Place.objects.values_list("pk", "code"))
    codes = _Codes(
        institutions=dict(Institution.objects.values_list("pk", "code")),
        staff=dict(Staff.objects.values_list("pk", "code")),
    )

    def stage(name: str, queryset: QuerySet[Any]) -> None:
        reporter.stage(name, queryset.count())

    level_order = [PlaceLevel.CITY, PlaceLevel.DISTRICT, PlaceLevel.SUB_DISTRICT, PlaceLevel.COMMITTEE]
    reporter.stage("places", Place.objects.count() + ResidentialPoint.objects.count())
    for level in level_order:
        out.write(
            "Location",
            (
                place_location(p, places.get(p.parent_id) if p.parent_id else None)
                for p in _rows(Place.objects.filter(level=level).order_by("code"))
            ),
        )
    out.write(
        "Location",
        (point_location(p, places[p.committee_id]) for p in _rows(ResidentialPoint.objects.order_by("code"))),
    )

    served: dict[int, list[str]] = {}
    for pk, centre in Place.objects.filter(responsible_centre__isnull=False).values_list(
        "pk", "responsible_centre"
    ):
        served.setdefault(centre, []).append(places[pk])
    # Parents before the branches and stations that point to them.
    institutions = sorted(Institution.objects.all(), key=lambda i: (i.parent_id is not None, i.code))
    stage("institutions", Institution.objects.all())
    out.write(
        "Organization",
        (
            institution_organization(
                i,
                places[i.place_id],
                codes.institutions[i.parent_id] if i.parent_id else None,
                sorted(served.get(i.pk, [])),
            )
            for i in institutions
        ),
    )
    consortia = MedicalConsortium.objects.order_by("name").prefetch_related("members")
    out.write(
        "Organization",
        (
            consortium_organization(
                c, codes.institutions[c.lead_id], sorted(codes.institutions[m.pk] for m in c.members.all())
            )
            for c in consortia
        ),
    )

    stage("staff", Staff.objects.all())
    out.write(
        "Practitioner",
        (
            staff_practitioner(s, codes.institutions[s.institution_id])
            for s in _rows(Staff.objects.order_by("code"))
        ),
    )
    team_keys: dict[int, str] = {}
    team_committees: dict[int, list[str]] = {}
    for team_id, place_id in Team.committees.through.objects.values_list("team_id", "place_id"):
        team_committees.setdefault(team_id, []).append(places[place_id])
    teams = list(Team.objects.order_by("centre__code", "name"))
    for team in teams:
        team_keys[team.pk] = team_key(codes.institutions[team.centre_id], team.name)
    reporter.stage("teams", len(teams))
    out.write(
        "CareTeam",
        (
            team_care_team(
                t,
                codes.institutions[t.centre_id],
                codes.staff[t.lead_id],
                sorted(team_committees.get(t.pk, [])),
            )
            for t in teams
        ),
    )
    team_by_id = {t.pk: t for t in teams}
    memberships = TeamMembership.objects.order_by("team__centre__code", "team__name", "staff__code")
    designated: dict[int, list[str]] = {}
    for pk, doctor in Place.objects.filter(designated_doctor__isnull=False).values_list(
        "pk", "designated_doctor"
    ):
        designated.setdefault(doctor, []).append(places[pk])
    staff_institution = dict(Staff.objects.filter(pk__in=designated).values_list("pk", "institution_id"))
    stage("team roles", memberships)
    out.write(
        "PractitionerRole",
        (
            membership_role(
                m,
                codes.institutions[team_by_id[m.team_id].centre_id],
                team_by_id[m.team_id].name,
                codes.staff[m.staff_id],
            )
            for m in _rows(memberships)
        ),
    )
    out.write(
        "PractitionerRole",
        (
            designation_role(codes.staff[pk], codes.institutions[staff_institution[pk]], sorted(committees))
            for pk, committees in sorted(designated.items(), key=lambda item: codes.staff[item[0]])
        ),
    )
    packages = {
        p.pk: package_key(places[p.district_id], p.year, p.code) for p in ServicePackage.objects.all()
    }
    stage("service packages", ServicePackage.objects.all())
    out.write(
        "PlanDefinition",
        (
            package_plan(p, places[p.district_id])
            for p in ServicePackage.objects.order_by("district__code", "year", "code")
        ),
    )

    points = dict(ResidentialPoint.objects.values_list("pk", "code"))
    households: dict[int, str] = {}
    stage("households", Household.objects.all())

    def groups() -> Iterator[Resource]:
        for household in _rows(Household.objects.order_by("code")):
            households[household.pk] = household.code
            point = household.residential_point_id
            yield household_group(household, points[point] if point is not None else None)

    out.write("Group", groups())
    residents = Resident.objects.select_related("residential_point").order_by("pk")
    stage("residents", residents)
    out.write(
        "Patient",
        (
            resident_patient(
                r,
                places[r.committee_id] if r.committee_id else None,
                (r.residential_point.code, r.residential_point.address) if r.residential_point else None,
                households[r.household_id] if r.household_id else None,
            )
            for r in _rows(residents)
        ),
    )

    _export_accounts(out, codes, reporter)

    consents = Consent.objects.select_related("resident", "proxy").order_by(
        "resident_id", "accepted_at", "id"
    )
    stage("consents", consents)
    out.write("Consent", (consent_resource(c) for c in _rows(consents)))
    signings = (
        Signing.objects.select_related("resident", "consent")
        .prefetch_related("events")
        .order_by("resident_id", "starts_on", "id")
    )
    stage("signings", signings)
    out.write(
        "EpisodeOfCare",
        (signing_episode(s, codes, team_keys, packages, households, keys) for s, keys in _keyed(signings)),
    )
    return summary


def _keyed(signings: QuerySet[Signing]) -> Iterator[tuple[Signing, dict[int, str]]]:
    """Each signing with the keys of its resident's signings so far: "<starts on>#<n>", n counting the
    resident's signings that start the same day (a switch of doctor can end one and start another)."""
    keys: dict[int, str] = {}
    resident = None
    for signing in _rows(signings):
        if signing.resident_id != resident:
            keys, resident = {}, signing.resident_id
        same_day = sum(1 for key in keys.values() if key.startswith(signing.starts_on.isoformat()))
        keys[signing.pk] = signing_key(signing.starts_on, same_day + 1)
        yield signing, keys


def _export_accounts(out: _Writer, codes: _Codes, reporter: Progress) -> None:
    """Clinical entries, one bundle set per source system (the import reads it from meta.source)."""
    kinds: list[tuple[str, type[ClinicalEntry], Callable[[Any], Resource], dict[str, Any]]] = [
        ("Encounter", Encounter, fhir_out.encounter_resource, {}),
        ("Condition", Condition, fhir_out.condition_resource, {}),
        ("Observation", Observation, fhir_out.observation_resource, {}),
        ("MedicationRequest", Medication, fhir_out.medication_resource, {"kind": "request"}),
        ("MedicationStatement", Medication, fhir_out.medication_resource, {"kind": "statement"}),
    ]
    for resource_type, model, build, where in kinds:
        queryset = model._default_manager.filter(**where)
        reporter.stage(resource_type, queryset.count())
        related = ["resident"] + (
            ["encounter"] if any(f.name == "encounter" for f in model._meta.fields) else []
        )
        for source in sorted(set(queryset.values_list("source_system", flat=True).distinct())):
            rows = queryset.filter(source_system=source).select_related(*related).order_by("pk")

            def resources(
                rows: QuerySet[Any] = rows, build: Callable[[Any], Resource] = build
            ) -> Iterator[Resource]:
                for row in _rows(rows):
                    resource = _clinical(row, build(row), codes)
                    if isinstance(row, Condition):
                        resource.setdefault("extension", []).append(
                            _ext(
                                RECORDED_AT_EXTENSION,
                                "valueReference",
                                institution_ref(codes.institutions[row.institution_id]),
                            )
                        )
                    yield resource

            out.write(resource_type, resources(), source)
    exams = ElderlyExam.objects.all()
    reporter.stage("65+ exams", exams.count())
    for source in sorted(set(exams.values_list("source_system", flat=True).distinct())):
        rows = exams.filter(source_system=source).select_related("resident").order_by("pk")
        out.write("QuestionnaireResponse", (elderly_exam_response(e, codes) for e in _rows(rows)), source)


def export_district_command(
    folder: Path, *, progress: bool = True, purpose: str = "", reason: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`export_district` for the commands: with progress bars, timed, and audited (one entry, with the
    operator's stated reason when the export holds real residents' data)."""
    from jiayi.audit.models import Action
    from jiayi.audit.services import record
    from jiayi.registry.management.progress import RichProgress

    started = time.perf_counter()
    if progress:
        with RichProgress() as bars:
            summary = export_district(folder, progress=bars)
    else:
        summary = export_district(folder)
    seconds = time.perf_counter() - started
    record(
        action=Action.EXPORT,
        resource_type="district",
        purpose=purpose,
        detail={
            "format": "fhir district",
            "via": "command",
            "resources": summary.resources,
            **(reason or {}),
        },
    )
    return {
        "resources": summary.total,
        "files": summary.files,
        "seconds": round(seconds, 3),
        "per_second": round(summary.total / seconds) if seconds else None,
        "by_type": summary.resources,
    }
