"""Reading FHIR R4 resources into plain values: no database, the clock passed in.

Each resource is first checked against the `fhir.resources.R4B` model (structure, datatypes, required
elements), then mapped field by field. Every refusal is an `EntryError` naming the element
(`Observation.valueQuantity.value`) and the reason; the value itself is quoted only when it is not
personal data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import UnionType
from typing import Any, Literal, NoReturn, Union, get_args, get_origin
from urllib.parse import parse_qs

import orjson
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from pydantic import TypeAdapter, ValidationError

from jiayi.records import fhir_systems as systems
from jiayi.records import lib
from jiayi.records.choices import (
    ClinicalStatus,
    EncounterType,
    MedicationKind,
    MedicationStatus,
    ObservationCode,
    ObservationMethod,
)
from jiayi.registry import identity

# Processing order: what others point to comes first, so a reference to an entry of the same bundle
# resolves whatever order the sender listed the entries in.
ACCEPTED_TYPES: tuple[str, ...] = (
    "Location",
    "Organization",
    "Practitioner",
    "CareTeam",
    "PractitionerRole",
    "PlanDefinition",
    "Group",
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "QuestionnaireResponse",
    "Consent",
    "EpisodeOfCare",
)
BUNDLE_TYPES = frozenset({"batch", "transaction"})
ENTRY_METHODS = frozenset({"POST", "PUT"})

ENCOUNTER_CLASSES: dict[str, EncounterType] = {
    "AMB": EncounterType.OUTPATIENT,
    "IMP": EncounterType.INPATIENT,
    "ACUTE": EncounterType.INPATIENT,
    "NONAC": EncounterType.INPATIENT,
    "EMER": EncounterType.EMERGENCY,
    "HH": EncounterType.HOME_VISIT,
    "VR": EncounterType.ONLINE,
}
# Statuses saying "this did not happen": storing them would put wrong facts in the account, and
# withdrawing an earlier entry is not something this import does.
WITHDRAWN_STATUSES = frozenset({"entered-in-error", "cancelled"})
_OBSERVATION_CODES = frozenset(ObservationCode.values)  # `.values` builds a new list on every access
RECORDED_AT_EXTENSION = f"{systems.FHIR_BASE}/StructureDefinition/recorded-at-organization"
SUPPLY_DAYS = {"d": 1, "day": 1, "days": 1, "wk": 7, "week": 7, "weeks": 7, "mo": 30, "month": 30}


class EntryError(Exception):
    """One entry cannot be stored: which element and why."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True)
class Ref:
    """A FHIR reference: to an entry of the bundle (fullUrl or Type/id), or by business identifier."""

    field: str
    reference: str = ""
    identifier: tuple[str, str] | None = None
    type: str = ""

    @property
    def target_type(self) -> str:
        if self.type:
            return self.type
        if self.reference and not self.reference.startswith(("urn:", "http://", "https://")):
            return self.reference.split("?", 1)[0].split("/", 1)[0]
        return ""

    def describe(self) -> str:
        """The reference as a sender would recognise it, with a citizen ID masked."""
        if self.identifier is not None:
            system, value = self.identifier
            if system == systems.CITIZEN_ID_SYSTEM:
                value = identity.mask_citizen_id(value)
            return f"identifier {system}|{value}"
        return self.reference


@dataclass(frozen=True, slots=True)
class OrganizationIn:
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PractitionerIn:
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PatientIn:
    citizen_id: str | None
    health_record_number: str | None
    alt_id: tuple[str, str] | None
    name: str
    sex: str
    birth_date: date | None
    phone: str
    committee_code: str


@dataclass(frozen=True, slots=True)
class EncounterIn:
    subject: Ref | None
    type: str
    department: str
    start: datetime
    end: datetime | None
    provider: Ref | None
    practitioner: Ref | None


@dataclass(frozen=True, slots=True)
class ConditionIn:
    subject: Ref | None
    encounter: Ref | None
    performer: Ref | None
    code: str
    display: str
    clinical_status: str
    onset_date: date | None
    recorded_date: date | None


@dataclass(frozen=True, slots=True)
class ObservationValue:
    code: str
    value: float
    unit: str
    original_value: float
    original_unit: str


@dataclass(frozen=True, slots=True)
class ObservationIn:
    subject: Ref | None
    encounter: Ref | None
    performer: Ref | None
    effective_at: datetime
    method: str | None
    values: tuple[ObservationValue, ...]
    # A blood-pressure panel becomes two rows; each gets the panel's identifier plus its code.
    is_panel: bool = False


@dataclass(frozen=True, slots=True)
class MedicationIn:
    subject: Ref | None
    encounter: Ref | None
    performer: Ref | None
    kind: str
    status: str
    medication_system: str
    medication_code: str
    medication_text: str
    dosage_text: str
    authored_at: datetime | None
    effective_start: date | None
    effective_end: date | None
    days_supply: int | None


class DistrictIn:
    """Base of what `fhir_district_in` reads: registry and signing records of a district transfer."""

    __slots__ = ()


Parsed = (
    OrganizationIn
    | PractitionerIn
    | PatientIn
    | EncounterIn
    | ConditionIn
    | ObservationIn
    | MedicationIn
    | DistrictIn
)


@dataclass(slots=True)
class ParsedEntry:
    """One bundle entry, read: where it sits, how it is named, and its values."""

    index: int
    resource_type: str
    full_url: str
    local_id: str
    source_id: str
    data: Parsed | None = None
    keys: list[str] = field(default_factory=list)


# Reading JSON -------------------------------------------------------------------------------------------


_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


def load_json(value: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """The bundle as a dict; ValueError with the position for malformed JSON."""
    if isinstance(value, dict):
        return value
    # orjson reads a large bundle several times faster. What it refuses (malformed JSON, and the few
    # things the standard parser accepts, such as NaN) goes to the standard parser, and so do bodies
    # with a run of 19 or more digits, as orjson reads an integer beyond 64 bits as a float: the
    # result and every error message are the standard parser's.
    loaded: Any = None
    long_number = _LONG_DIGITS_BYTES if isinstance(value, bytes) else _LONG_DIGITS
    if long_number.search(value) is None:  # type: ignore[arg-type]
        try:
            loaded = orjson.loads(value)
        except orjson.JSONDecodeError:
            loaded = None
    try:
        if loaded is None:
            loaded = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError:
        raise ValueError("malformed JSON: the body is not UTF-8") from None
    if not isinstance(loaded, dict):
        raise ValueError("a FHIR Bundle must be a JSON object")
    return loaded


def check_bundle(bundle: dict[str, Any]) -> tuple[str, list[Any]]:
    """The bundle's type and entries; ValueError when it is not a batch or transaction Bundle."""
    if bundle.get("resourceType") != "Bundle":
        raise ValueError(f"resourceType must be Bundle, got {str(bundle.get('resourceType'))[:40]!r}")
    bundle_type = bundle.get("type")
    if bundle_type not in BUNDLE_TYPES:
        raise ValueError(f"Bundle.type must be batch or transaction, got {str(bundle_type)[:40]!r}")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise ValueError("Bundle.entry must be a list")
    return str(bundle_type), entries


# Small readers ------------------------------------------------------------------------------------------


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _first(items: Any) -> dict[str, Any]:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def _concept_text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    text = _str(concept.get("text"))
    if text:
        return text
    for coding in _codings(concept):
        display = _str(coding.get("display"))
        if display:
            return display
    return ""


def _code_in(concept: Any, system: str) -> str:
    for coding in _codings(concept):
        if coding.get("system") == system and _str(coding.get("code")):
            return _str(coding.get("code"))
    return ""


def _reference(resource: dict[str, Any], key: str, path: str) -> Ref | None:
    value = resource.get(key)
    if isinstance(value, list):
        value = _first(value)
    if not isinstance(value, dict) or not value:
        return None
    return parse_reference(value, path)


def parse_reference(value: dict[str, Any], path: str) -> Ref:
    reference = _str(value.get("reference"))
    ident = value.get("identifier")
    if isinstance(ident, dict) and _str(ident.get("value")):
        pair = (_str(ident.get("system")), _str(ident.get("value")))
        return Ref(field=path, reference=reference, identifier=pair, type=_str(value.get("type")))
    if "?" in reference:
        # A conditional reference, `Patient?identifier=system|value`: the identifier is what counts.
        kind, query = reference.split("?", 1)
        values = parse_qs(query).get("identifier", [])
        if len(values) != 1 or "|" not in values[0]:
            raise EntryError(
                path, f"conditional reference {reference!r} must be Type?identifier=system|value"
            )
        system, _, number = values[0].partition("|")
        return Ref(field=path, reference=reference, identifier=(system, number), type=kind)
    if not reference:
        raise EntryError(path, "a reference needs reference or identifier")
    return Ref(field=path, reference=reference, type=_str(value.get("type")))


def _local_zone_datetime(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def parse_datetime(path: str, value: Any, now: datetime) -> datetime:
    """A FHIR dateTime to an aware datetime; a bare date means local midnight. Year-only or year-month
    values are refused for times that must be exact (when a measurement was taken)."""
    text = _str(value)
    if len(text) < 10:
        raise EntryError(path, f"{text!r} must be a full date or date-time")
    try:
        if len(text) == 10:
            moment = _local_zone_datetime(date.fromisoformat(text))
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, timezone.get_default_timezone())
    except ValueError:
        raise EntryError(path, f"{text!r} is not a valid date-time") from None
    try:
        lib.check_not_future(path.rsplit(".", 1)[-1], moment, now)
    except ValueError as exc:
        raise EntryError(path, str(exc)) from None
    return moment


def _plain_date(path: str, value: Any) -> date:
    text = _str(value)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise EntryError(path, f"{text!r} is not a valid date") from None


def parse_date(path: str, value: Any, now: datetime, *, partial: bool = False) -> date:
    """A FHIR date (or the date of a dateTime). With `partial`, "2019" and "2019-05" mean the first day
    of the year or month, as onset dates often are only known that well."""
    text = _str(value)
    try:
        if partial and len(text) == 4:
            day = date(int(text), 1, 1)
        elif partial and len(text) == 7:
            day = date(int(text[:4]), int(text[5:7]), 1)
        elif len(text) >= 10:
            day = date.fromisoformat(text[:10])
        else:
            raise ValueError(text)
    except ValueError:
        raise EntryError(path, f"{text!r} is not a valid date") from None
    if day > timezone.localtime(now + lib.CLOCK_SKEW).date():
        raise EntryError(path, f"{path.rsplit('.', 1)[-1]} {day.isoformat()} is in the future")
    return day


def _status(resource: dict[str, Any], path: str) -> str:
    status = _str(resource.get("status"))
    if status in WITHDRAWN_STATUSES:
        raise EntryError(path, f"status {status!r} withdraws a record; this import only adds and updates")
    return status


# Resources ----------------------------------------------------------------------------------------------


def _identifier_values(resource: dict[str, Any], system: str) -> tuple[str, ...]:
    return tuple(
        _str(i.get("value"))
        for i in resource.get("identifier") or []
        if isinstance(i, dict) and i.get("system") == system and _str(i.get("value"))
    )


def parse_organization(resource: dict[str, Any], now: datetime) -> OrganizationIn:
    codes = _identifier_values(resource, systems.INSTITUTION_SYSTEM)
    if not codes:
        raise EntryError(
            "Organization.identifier", f"an identifier with system {systems.INSTITUTION_SYSTEM} is required"
        )
    return OrganizationIn(codes)


def parse_practitioner(resource: dict[str, Any], now: datetime) -> PractitionerIn:
    codes = _identifier_values(resource, systems.STAFF_SYSTEM)
    if not codes:
        raise EntryError(
            "Practitioner.identifier", f"an identifier with system {systems.STAFF_SYSTEM} is required"
        )
    return PractitionerIn(codes)


def _human_name(resource: dict[str, Any]) -> str:
    name = _first(resource.get("name"))
    text = _str(name.get("text"))
    if text:
        return text
    family = _str(name.get("family"))
    given = [_str(g) for g in name.get("given") or [] if _str(g)]
    # Chinese names are written family name first with no space; others given names first.
    if any(ch >= "\u2e80" for ch in family + "".join(given)):
        return family + "".join(given)
    return " ".join([*given, family]).strip()


def parse_patient(resource: dict[str, Any], now: datetime) -> PatientIn:
    citizen_id: str | None = None
    record_number: str | None = None
    alt_id: tuple[str, str] | None = None
    alt_types = {uri: kind for kind, uri in systems.ALT_ID_SYSTEMS.items()}
    for ident in resource.get("identifier") or []:
        system, value = _str(ident.get("system")), _str(ident.get("value"))
        if system == systems.CITIZEN_ID_SYSTEM and value:
            try:
                citizen_id = identity.parse_citizen_id(value, today=timezone.localtime(now).date()).number
            except ValueError as exc:
                raise EntryError("Patient.identifier", str(exc)) from None
        elif system == systems.HEALTH_RECORD_SYSTEM and value:
            record_number = value
        elif system in alt_types and value and alt_id is None:
            alt_id = (alt_types[system], value)
    if citizen_id is None and record_number is None and alt_id is None:
        raise EntryError(
            "Patient.identifier",
            f"a citizen ID ({systems.CITIZEN_ID_SYSTEM}), health-record number "
            f"({systems.HEALTH_RECORD_SYSTEM}) or alternative identifier is required",
        )
    gender = _str(resource.get("gender"))
    birth = resource.get("birthDate")
    phone = next(
        (
            _str(t.get("value"))
            for t in resource.get("telecom") or []
            if isinstance(t, dict) and t.get("system") == "phone"
        ),
        "",
    )
    committee = next(
        (
            _str(e.get("valueCode") or e.get("valueString"))
            for e in resource.get("extension") or []
            if isinstance(e, dict) and e.get("url") == systems.COMMITTEE_EXTENSION
        ),
        "",
    )
    return PatientIn(
        citizen_id=citizen_id,
        health_record_number=record_number,
        alt_id=alt_id,
        name=_human_name(resource),
        sex=gender if gender in {"male", "female"} else "unknown",
        birth_date=parse_date("Patient.birthDate", birth, now) if birth else None,
        phone=phone,
        committee_code=committee,
    )


def parse_encounter(resource: dict[str, Any], now: datetime) -> EncounterIn:
    _status(resource, "Encounter.status")
    explicit = ""
    for concept in resource.get("type") or []:
        explicit = explicit or _code_in(concept, systems.ENCOUNTER_TYPE_SYSTEM)
    if explicit:
        if explicit not in EncounterType.values:
            raise EntryError(
                "Encounter.type",
                f"encounter type {explicit!r} is not one of {', '.join(EncounterType.values)}",
            )
        encounter_type = explicit
    else:
        klass = _str((resource.get("class") or {}).get("code"))
        if klass not in ENCOUNTER_CLASSES:
            raise EntryError(
                "Encounter.class", f"class {klass!r} is not one of {', '.join(ENCOUNTER_CLASSES)}"
            )
        encounter_type = ENCOUNTER_CLASSES[klass].value
    period = resource.get("period") or {}
    if not period.get("start"):
        raise EntryError("Encounter.period.start", "the start of the encounter is required")
    start = parse_datetime("Encounter.period.start", period["start"], now)
    end = parse_datetime("Encounter.period.end", period["end"], now) if period.get("end") else None
    if end is not None and end < start:
        raise EntryError("Encounter.period.end", f"end {end.isoformat()} is before start {start.isoformat()}")
    department = _concept_text(resource.get("serviceType")) or _concept_text(_first(resource.get("type")))
    participant = _first(resource.get("participant"))
    individual = participant.get("individual")
    return EncounterIn(
        subject=_reference(resource, "subject", "Encounter.subject"),
        type=encounter_type,
        department=department[:64],
        start=start,
        end=end,
        provider=_reference(resource, "serviceProvider", "Encounter.serviceProvider"),
        practitioner=parse_reference(individual, "Encounter.participant.individual")
        if isinstance(individual, dict)
        else None,
    )


def parse_condition(resource: dict[str, Any], now: datetime) -> ConditionIn:
    verification = _code_in(
        resource.get("verificationStatus"), "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    )
    if verification in {"entered-in-error", "refuted"}:
        raise EntryError(
            "Condition.verificationStatus", f"verification status {verification!r} is not a diagnosis"
        )
    code = ""
    display = ""
    for coding in _codings(resource.get("code")):
        if coding.get("system") in systems.ICD10_SYSTEMS and _str(coding.get("code")):
            try:
                code = lib.normalise_icd10(_str(coding.get("code")))
            except ValueError as exc:
                raise EntryError("Condition.code", str(exc)) from None
            display = _str(coding.get("display"))
            break
    if not code:
        raise EntryError("Condition.code", f"an ICD-10 coding (system {systems.ICD10}) is required")
    status = _str((_codings(resource.get("clinicalStatus")) or [{}])[0].get("code")) or ClinicalStatus.ACTIVE
    if status not in ClinicalStatus.values:
        raise EntryError(
            "Condition.clinicalStatus",
            f"clinical status {status!r} is not one of {', '.join(ClinicalStatus.values)}",
        )
    onset_value = resource.get("onsetDateTime") or (resource.get("onsetPeriod") or {}).get("start")
    recorded = resource.get("recordedDate")
    # Condition cannot name an Organization; a district export says which institution recorded it.
    recorded_at = next(
        (
            e["valueReference"]
            for e in resource.get("extension") or []
            if e.get("url") == RECORDED_AT_EXTENSION
        ),
        None,
    )
    return ConditionIn(
        subject=_reference(resource, "subject", "Condition.subject"),
        encounter=_reference(resource, "encounter", "Condition.encounter"),
        performer=_reference(resource, "recorder", "Condition.recorder")
        or _reference(resource, "asserter", "Condition.asserter")
        or (parse_reference(recorded_at, "Condition.extension") if recorded_at else None),
        code=code,
        display=(display or _concept_text(resource.get("code")))[:200],
        clinical_status=status,
        onset_date=parse_date("Condition.onsetDateTime", onset_value, now, partial=True)
        if onset_value
        else None,
        recorded_date=parse_date("Condition.recordedDate", recorded, now) if recorded else None,
    )


def _observation_code(concept: Any, path: str) -> str:
    for coding in _codings(concept):
        if coding.get("system") in {systems.LOINC, systems.LOCAL_OBSERVATION_SYSTEM}:
            code = _str(coding.get("code"))
            if code in _OBSERVATION_CODES or code in systems.BLOOD_PRESSURE_PANELS:
                return code
    codes = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in _codings(concept)) or "none"
    raise EntryError(path, f"no observation code jiayi records (LOINC) among: {codes}")


def _quantity(code: str, quantity: Any, path: str) -> ObservationValue:
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        raise EntryError(path, f"a valueQuantity is required for {lib.spec_for(code).label}")
    unit = _str(quantity.get("code")) or _str(quantity.get("unit"))
    value = float(quantity["value"])
    try:
        normalised, canonical = lib.normalise_unit(code, value, unit)
    except ValueError as exc:
        raise EntryError(f"{path}.unit", str(exc)) from None
    try:
        lib.check_plausible(code, normalised)
    except ValueError as exc:
        raise EntryError(f"{path}.value", str(exc)) from None
    return ObservationValue(code, normalised, canonical, value, unit[:24])


def parse_observation(resource: dict[str, Any], now: datetime) -> ObservationIn:
    _status(resource, "Observation.status")
    code = _observation_code(resource.get("code"), "Observation.code")
    values: list[ObservationValue] = []
    if code in systems.BLOOD_PRESSURE_PANELS:
        for i, component in enumerate(resource.get("component") or []):
            part = _observation_code(component.get("code"), f"Observation.component[{i}].code")
            values.append(
                _quantity(part, component.get("valueQuantity"), f"Observation.component[{i}].valueQuantity")
            )
        if not values:
            raise EntryError(
                "Observation.component", "a blood-pressure panel needs its systolic and diastolic components"
            )
    else:
        values.append(_quantity(code, resource.get("valueQuantity"), "Observation.valueQuantity"))
    effective = (
        resource.get("effectiveDateTime")
        or resource.get("effectiveInstant")
        or (resource.get("effectivePeriod") or {}).get("start")
    )
    if not effective:
        raise EntryError("Observation.effectiveDateTime", "when the measurement was taken is required")
    method = _code_in(resource.get("method"), systems.OBSERVATION_METHOD_SYSTEM) or None
    if method is not None and method not in ObservationMethod.values:
        raise EntryError(
            "Observation.method", f"method {method!r} is not one of {', '.join(ObservationMethod.values)}"
        )
    if method is None and any(
        _code_in(category, systems.OBSERVATION_CATEGORY) == "laboratory"
        for category in resource.get("category") or []
    ):
        method = ObservationMethod.LABORATORY.value
    return ObservationIn(
        subject=_reference(resource, "subject", "Observation.subject"),
        encounter=_reference(resource, "encounter", "Observation.encounter"),
        performer=_reference(resource, "performer", "Observation.performer"),
        effective_at=parse_datetime("Observation.effectiveDateTime", effective, now),
        method=method,
        values=tuple(values),
        is_panel=code in systems.BLOOD_PRESSURE_PANELS,
    )


def _medication_concept(resource: dict[str, Any], kind: str) -> tuple[str, str, str]:
    if "medicationReference" in resource:
        raise EntryError(f"{kind}.medicationReference", "send the medicine as medicationCodeableConcept")
    concept = resource.get("medicationCodeableConcept")
    coding = _first(_codings(concept))
    text = _concept_text(concept) or _str(coding.get("code"))
    if not text:
        raise EntryError(f"{kind}.medicationCodeableConcept", "the medicine's code or name is required")
    return _str(coding.get("system"))[:200], _str(coding.get("code"))[:64], text[:200]


def _medication_status(resource: dict[str, Any], kind: str) -> str:
    status = _status(resource, f"{kind}.status")
    if status not in MedicationStatus.values:
        raise EntryError(
            f"{kind}.status",
            f"status {status!r} is not recorded; one of {', '.join(MedicationStatus.values)}",
        )
    return status


def _supply_days(resource: dict[str, Any]) -> int | None:
    duration = (resource.get("dispenseRequest") or {}).get("expectedSupplyDuration")
    if not isinstance(duration, dict) or duration.get("value") is None:
        return None
    unit = _str(duration.get("code")) or _str(duration.get("unit"))
    if unit not in SUPPLY_DAYS:
        raise EntryError(
            "MedicationRequest.dispenseRequest.expectedSupplyDuration.unit",
            f"unit {unit!r} is not one of {', '.join(SUPPLY_DAYS)}",
        )
    days = round(float(duration["value"]) * SUPPLY_DAYS[unit])
    if not 0 < days <= 366:
        raise EntryError(
            "MedicationRequest.dispenseRequest.expectedSupplyDuration.value", f"{days} days is outside 1–366"
        )
    return days


def parse_medication_request(resource: dict[str, Any], now: datetime) -> MedicationIn:
    status = _medication_status(resource, "MedicationRequest")
    system, code, text = _medication_concept(resource, "MedicationRequest")
    authored = resource.get("authoredOn")
    return MedicationIn(
        subject=_reference(resource, "subject", "MedicationRequest.subject"),
        encounter=_reference(resource, "encounter", "MedicationRequest.encounter"),
        performer=_reference(resource, "requester", "MedicationRequest.requester"),
        kind=MedicationKind.REQUEST.value,
        status=status,
        medication_system=system,
        medication_code=code,
        medication_text=text,
        dosage_text=_str(_first(resource.get("dosageInstruction")).get("text"))[:500],
        authored_at=parse_datetime("MedicationRequest.authoredOn", authored, now) if authored else None,
        effective_start=None,
        effective_end=None,
        days_supply=_supply_days(resource),
    )


def parse_medication_statement(resource: dict[str, Any], now: datetime) -> MedicationIn:
    status = _medication_status(resource, "MedicationStatement")
    system, code, text = _medication_concept(resource, "MedicationStatement")
    period = resource.get("effectivePeriod") or {}
    start_value = resource.get("effectiveDateTime") or period.get("start")
    start = parse_date("MedicationStatement.effectiveDateTime", start_value, now) if start_value else None
    # A planned end date may lie ahead (a course still being taken), so it is not checked against today.
    end = _plain_date("MedicationStatement.effectivePeriod.end", period["end"]) if period.get("end") else None
    if start is not None and end is not None and end < start:
        raise EntryError("MedicationStatement.effectivePeriod.end", f"end {end} is before start {start}")
    return MedicationIn(
        subject=_reference(resource, "subject", "MedicationStatement.subject"),
        encounter=_reference(resource, "context", "MedicationStatement.context"),
        performer=_reference(resource, "informationSource", "MedicationStatement.informationSource"),
        kind=MedicationKind.STATEMENT.value,
        status=status,
        medication_system=system,
        medication_code=code,
        medication_text=text,
        dosage_text=_str(_first(resource.get("dosage")).get("text"))[:500],
        authored_at=None,
        effective_start=start,
        effective_end=end,
        days_supply=None,
    )


def _district(resource_type: str) -> Callable[[dict[str, Any], datetime], Parsed]:
    """The reader of a district transfer's resource (fhir_district_in, imported late: it builds on
    this module). Organization, Practitioner and Patient fall back to the readers above."""

    def parse(resource: dict[str, Any], now: datetime) -> Parsed:
        from jiayi.records import fhir_district_in

        return fhir_district_in.parse(resource_type, resource, now)  # type: ignore[no-any-return]

    return parse


PARSERS: dict[str, Callable[[dict[str, Any], datetime], Parsed]] = {
    "Location": _district("Location"),
    "Organization": _district("Organization"),
    "Practitioner": _district("Practitioner"),
    "CareTeam": _district("CareTeam"),
    "PractitionerRole": _district("PractitionerRole"),
    "PlanDefinition": _district("PlanDefinition"),
    "Group": _district("Group"),
    "Patient": _district("Patient"),
    "QuestionnaireResponse": _district("QuestionnaireResponse"),
    "Consent": _district("Consent"),
    "EpisodeOfCare": _district("EpisodeOfCare"),
    "Encounter": parse_encounter,
    "Condition": parse_condition,
    "Observation": parse_observation,
    "MedicationRequest": parse_medication_request,
    "MedicationStatement": parse_medication_statement,
}


# Checking structure ------------------------------------------------------------------------------------
#
# Validating a resource against its fhir.resources model builds a pydantic model for every element and
# runs fhir_core's model-level checks (required elements, choice types, nulls in lists, no unknown
# elements) in Python: about half of a feed's import time. Those model-level checks depend only on the
# resource's *shape* (which elements are present, nested how, holding which JSON types), never on the
# values. So the first resource of each shape is validated by the model; once a shape has passed, a
# later resource of the same shape needs only its primitive values checked, each with the pydantic type
# of its element (the same FHIR regexes and date, decimal and code rules the model applies). Whenever
# that quick check is not sure (a value fails, an element it cannot type), the full model decides, so
# every refusal and its message still come from the model.

_SHAPES_KEPT = 4096
# Per shape that passed: one adapter checking all its primitive values at once, or None when some
# element cannot be typed (the model then checks every resource of that shape).
_passed_shapes: dict[tuple[str, tuple[object, ...]], TypeAdapter[Any] | None] = {}


def _shape(value: Any, tokens: list[object], leaves: list[Any]) -> None:
    """Append the shape of a JSON object or array to `tokens` and its primitive values, in the same
    order, to `leaves`."""
    if isinstance(value, dict):
        tokens.append("{")
        for key, item in value.items():
            tokens.append(key)
            if isinstance(item, (dict, list)):
                _shape(item, tokens, leaves)
            else:
                tokens.append(type(item))
                leaves.append(item)
        tokens.append("}")
    else:
        tokens.append("[")
        for item in value:
            if isinstance(item, (dict, list)):
                _shape(item, tokens, leaves)
            else:
                tokens.append(type(item))
                leaves.append(item)
        tokens.append("]")


def _element_type(annotation: Any) -> tuple[bool, Any]:
    """(is a list, the element's type) of a model field's annotation, Optional removed."""
    if get_origin(annotation) in (Union, UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) != 1:
            return False, None
        annotation = args[0]
    if get_origin(annotation) is list:
        return True, get_args(annotation)[0]
    return False, annotation


def _leaf_plan(model: type[Any], data: dict[str, Any], plan: list[Any]) -> bool:
    """Append to `plan` the type of each primitive value of `data` (a dict the model has
    accepted), in `_shape`'s order; False when some element cannot be typed this way."""
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    for key, value in data.items():
        if key == "resourceType" and "resourceType" not in fields:
            plan.append(Literal[model.get_resource_type()])
            continue
        info = fields.get(key)
        if info is None or key.startswith("_"):
            return False
        is_list, element = _element_type(info.annotation)
        if element is None:
            return False
        items = value if is_list and isinstance(value, list) else [value]
        if is_list and not isinstance(value, list):
            return False
        klass = element.get_model_klass() if hasattr(element, "get_model_klass") else None
        for item in items:
            if klass is not None:
                if not isinstance(item, dict) or klass.get_resource_type() in {"Resource", "DomainResource"}:
                    return False
                if not _leaf_plan(klass, item, plan):
                    return False
            elif isinstance(item, (dict, list)):
                return False
            else:
                plan.append(element)
    return True


def _values_conform(plan: TypeAdapter[Any], leaves: list[Any]) -> bool:
    try:
        plan.validate_python(tuple(leaves))
    except Exception:
        # Whatever the quick check stumbles on, the model decides, and gives the exact error (or
        # accepts what the quick check doubted).
        return False
    return True


def check_structure(resource_type: str, resource: dict[str, Any]) -> None:
    """Validate a resource against the FHIR R4 model of its type; pydantic's ValidationError when it
    does not conform."""
    tokens: list[object] = []
    leaves: list[Any] = []
    _shape(resource, tokens, leaves)
    key = (resource_type, tuple(tokens))
    plan = _passed_shapes.get(key)
    if plan is not None and _values_conform(plan, leaves):
        return
    model = get_fhir_model_class(resource_type)
    model.model_validate(resource)
    if key not in _passed_shapes and len(_passed_shapes) < _SHAPES_KEPT:
        types: list[Any] = []
        typed = _leaf_plan(model, resource, types)
        _passed_shapes[key] = TypeAdapter(tuple[tuple(types)]) if typed and types else None  # type: ignore[arg-type,misc]


def _structure_error(resource_type: str, exc: ValidationError) -> EntryError:
    error = exc.errors()[0]
    location = ""
    for part in error.get("loc", ()):
        # FHIRPath writes list positions as component[0], not component.0.
        location += f"[{part}]" if isinstance(part, int) else f".{part}"
    location = location.lstrip(".")
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    # pydantic's input echo is left out on purpose: it may be a citizen ID or a phone number.
    return EntryError(f"{resource_type}.{location}" if location else resource_type, message)


def source_id_of(resource: dict[str, Any]) -> str:
    """The sender's identifier of a resource: its first business identifier (system|value), else its
    logical id. Re-sending the same identifier updates the stored entry."""
    ident = _first(resource.get("identifier"))
    value = _str(ident.get("value"))
    if value:
        system = _str(ident.get("system"))
        return f"{system}|{value}" if system else value
    return _str(resource.get("id"))


def parse_entry(index: int, entry: Any, now: datetime) -> ParsedEntry:
    """Read one bundle entry into a ParsedEntry with `data` set, or raise ParsedEntryError carrying the
    entry's names (filled in before anything can fail) so the outcome can point at it either way."""
    parsed = ParsedEntry(index=index, resource_type="", full_url="", local_id="", source_id="")
    if not isinstance(entry, dict):
        raise_with(parsed, EntryError("entry", "an entry must be a JSON object"))
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        raise_with(parsed, EntryError("entry.resource", "the entry has no resource"))
    parsed.resource_type = _str(resource.get("resourceType"))
    parsed.full_url = _str(entry.get("fullUrl"))
    parsed.local_id = _str(resource.get("id"))
    parsed.source_id = source_id_of(resource)
    if parsed.full_url:
        parsed.keys.append(parsed.full_url)
    if parsed.local_id:
        parsed.keys.append(f"{parsed.resource_type}/{parsed.local_id}")
    if parsed.resource_type not in PARSERS:
        raise_with(
            parsed,
            EntryError(
                "resourceType",
                f"{parsed.resource_type or 'a resource without a type'} is not accepted; "
                f"send one of {', '.join(ACCEPTED_TYPES)}",
            ),
        )
    method = _str((entry.get("request") or {}).get("method")) or "POST"
    if method not in ENTRY_METHODS:
        raise_with(
            parsed, EntryError("request.method", f"method {method!r} is not accepted; use POST or PUT")
        )
    try:
        check_structure(parsed.resource_type, resource)
    except ValidationError as exc:
        raise_with(parsed, _structure_error(parsed.resource_type, exc))
    needs_source_id = parsed.resource_type not in {"Organization", "Practitioner", "Patient"}
    if needs_source_id and not parsed.source_id:
        raise_with(
            parsed,
            EntryError(
                f"{parsed.resource_type}.identifier",
                "an identifier (or id) is required to import idempotently",
            ),
        )
    if len(parsed.source_id) > 190:
        raise_with(
            parsed,
            EntryError(f"{parsed.resource_type}.identifier", "the identifier is longer than 190 characters"),
        )
    try:
        parsed.data = PARSERS[parsed.resource_type](resource, now)
    except EntryError as exc:
        raise_with(parsed, exc)
    return parsed


class ParsedEntryError(Exception):
    """An entry that failed to read, with whatever of its names could be read."""

    def __init__(self, parsed: ParsedEntry, error: EntryError) -> None:
        self.parsed = parsed
        self.error = error
        super().__init__(str(error))


def raise_with(parsed: ParsedEntry, error: EntryError) -> NoReturn:
    raise ParsedEntryError(parsed, error)
