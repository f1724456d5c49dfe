"""A resident's whole health account as a FHIR R4 Bundle (Patient $everything).

The bundle is a `searchset`, as the operation returns: the Patient and their clinical entries are
matches, the Organizations and Practitioners they point to are includes. The 65+ exam and school
checks, forms rather than single facts, travel as QuestionnaireResponses.

Citizen ID and phone number are left out unless the caller asks for them (`reveal_identifiers`): an
export is read by more people and systems than the record, and the masked forms are no use in FHIR.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from django.utils import timezone

from jiayi.records import fhir_systems as systems
from jiayi.records.choices import EncounterType, ObservationCode, ObservationMethod
from jiayi.records.lib import ELDERLY_EXAM_PARTS
from jiayi.records.models import (
    ClinicalEntry,
    Condition,
    ElderlyExam,
    Encounter,
    Medication,
    Observation,
    SchoolHealthCheck,
)
from jiayi.registry.models import Institution, Resident, Staff

Resource = dict[str, Any]

ENCOUNTER_CLASSES: dict[str, tuple[str, str]] = {
    EncounterType.OUTPATIENT: ("AMB", "ambulatory"),
    EncounterType.INPATIENT: ("IMP", "inpatient encounter"),
    EncounterType.EMERGENCY: ("EMER", "emergency"),
    EncounterType.HOME_VISIT: ("HH", "home health"),
    EncounterType.ONLINE: ("VR", "virtual"),
}
ELDERLY_EXAM_PART_LABELS = {
    "assessment": "生活方式和健康状况评估 Lifestyle and health assessment",
    "physical": "体格检查 Physical exam",
    "tests": "辅助检查 Tests",
    "guidance": "健康指导 Health guidance",
}


def _instant(value: datetime) -> str:
    return timezone.localtime(value).isoformat()


def _english(label: Any) -> str:
    """The English half of a "中文 English" choice label."""
    text = str(label)
    return text.split(" ", 1)[1] if " " in text else text


def _ref(resource_type: str, pk: object) -> dict[str, str]:
    return {"reference": f"{resource_type}/{pk}"}


def _provenance(entry: ClinicalEntry) -> dict[str, Any]:
    """The sender's identifier and system, so a receiver can trace (and dedupe) the entry."""
    system, sep, value = entry.source_id.partition("|")
    if not sep:
        system = f"{systems.FHIR_BASE}/sid/source/{quote(entry.source_system, safe='')}"
        value = entry.source_id
    return {
        "identifier": [{"system": system or f"{systems.FHIR_BASE}/sid/source", "value": value}],
        "meta": {"source": f"{systems.FHIR_BASE}/source/{quote(entry.source_system, safe='')}"},
    }


def patient_resource(resident: Resident, *, reveal_identifiers: bool = False) -> Resource:
    identifiers = [{"system": systems.RESIDENT_SYSTEM, "value": str(resident.pk)}]
    if resident.health_record_number:
        identifiers.append({"system": systems.HEALTH_RECORD_SYSTEM, "value": resident.health_record_number})
    if reveal_identifiers and resident.citizen_id:
        identifiers.append({"system": systems.CITIZEN_ID_SYSTEM, "value": resident.citizen_id})
    if reveal_identifiers and resident.alt_id_number:
        identifiers.append(
            {"system": systems.ALT_ID_SYSTEMS[resident.alt_id_type], "value": resident.alt_id_number}
        )
    patient: Resource = {
        "resourceType": "Patient",
        "id": str(resident.pk),
        "identifier": identifiers,
        "name": [{"text": resident.name}],
        "gender": resident.sex,
        "birthDate": resident.birth_date.isoformat(),
    }
    if resident.date_of_death is not None:
        patient["deceasedDateTime"] = resident.date_of_death.isoformat()
    if reveal_identifiers and resident.phone:
        patient["telecom"] = [{"system": "phone", "value": resident.phone, "use": "mobile"}]
    if resident.committee is not None:
        patient["extension"] = [{"url": systems.COMMITTEE_EXTENSION, "valueCode": resident.committee.code}]
        point = resident.residential_point
        patient["address"] = [
            {"use": "home", "text": point.address if point is not None else resident.committee.name}
        ]
    return patient


def organization_resource(institution: Institution) -> Resource:
    return {
        "resourceType": "Organization",
        "id": str(institution.pk),
        "identifier": [{"system": systems.INSTITUTION_SYSTEM, "value": institution.code}],
        "active": institution.closed_on is None,
        "name": institution.name,
    }


def practitioner_resource(staff: Staff) -> Resource:
    return {
        "resourceType": "Practitioner",
        "id": str(staff.pk),
        "identifier": [{"system": systems.STAFF_SYSTEM, "value": staff.code}],
        "active": staff.active,
        "name": [{"text": staff.name}],
    }


def encounter_resource(encounter: Encounter) -> Resource:
    code, display = ENCOUNTER_CLASSES[encounter.type]
    resource: Resource = {
        "resourceType": "Encounter",
        "id": str(encounter.pk),
        **_provenance(encounter),
        "status": "finished" if encounter.end is not None else "in-progress",
        "class": {"system": systems.ACT_CODE, "code": code, "display": display},
        "type": [
            {
                "coding": [
                    {
                        "system": systems.ENCOUNTER_TYPE_SYSTEM,
                        "code": encounter.type,
                        "display": _english(encounter.get_type_display()),
                    }
                ]
            }
        ],
        "subject": _ref("Patient", encounter.resident_id),
        "period": {"start": _instant(encounter.start)},
        "serviceProvider": _ref("Organization", encounter.institution_id),
    }
    if encounter.end is not None:
        resource["period"]["end"] = _instant(encounter.end)
    if encounter.department:
        resource["serviceType"] = {"text": encounter.department}
    if encounter.practitioner_id is not None:
        resource["participant"] = [{"individual": _ref("Practitioner", encounter.practitioner_id)}]
    return resource


def condition_resource(condition: Condition) -> Resource:
    coding = {"system": systems.ICD10, "code": condition.code}
    if condition.display:
        coding["display"] = condition.display
    resource: Resource = {
        "resourceType": "Condition",
        "id": str(condition.pk),
        **_provenance(condition),
        "clinicalStatus": {
            "coding": [{"system": systems.CONDITION_CLINICAL, "code": condition.clinical_status}]
        },
        "code": {"coding": [coding]},
        "subject": _ref("Patient", condition.resident_id),
    }
    if condition.encounter_id is not None:
        resource["encounter"] = _ref("Encounter", condition.encounter_id)
    if condition.onset_date is not None:
        resource["onsetDateTime"] = condition.onset_date.isoformat()
    if condition.recorded_date is not None:
        resource["recordedDate"] = condition.recorded_date.isoformat()
    return resource


def observation_resource(observation: Observation) -> Resource:
    category = "laboratory" if observation.method == ObservationMethod.LABORATORY else "vital-signs"
    resource: Resource = {
        "resourceType": "Observation",
        "id": str(observation.pk),
        **_provenance(observation),
        "status": "final",
        "category": [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": category}]}],
        "code": {
            "coding": [
                {
                    "system": systems.LOINC,
                    "code": observation.code,
                    "display": _english(ObservationCode(observation.code).label),
                }
            ]
        },
        "subject": _ref("Patient", observation.resident_id),
        "effectiveDateTime": _instant(observation.effective_at),
        "performer": [_ref("Organization", observation.institution_id)],
        "valueQuantity": {
            "value": observation.value,
            "unit": observation.unit,
            "system": systems.UCUM,
            "code": observation.unit,
        },
        "method": {"coding": [{"system": systems.OBSERVATION_METHOD_SYSTEM, "code": observation.method}]},
    }
    if observation.encounter_id is not None:
        resource["encounter"] = _ref("Encounter", observation.encounter_id)
    return resource


def _medication_concept(medication: Medication) -> Resource:
    concept: Resource = {"text": medication.medication_text}
    if medication.medication_code:
        coding = {"code": medication.medication_code, "display": medication.medication_text}
        if medication.medication_system:
            coding["system"] = medication.medication_system
        concept["coding"] = [coding]
    return concept


def medication_resource(medication: Medication) -> Resource:
    is_request = medication.kind == "request"
    resource: Resource = {
        "resourceType": "MedicationRequest" if is_request else "MedicationStatement",
        "id": str(medication.pk),
        **_provenance(medication),
        "status": medication.status,
        "medicationCodeableConcept": _medication_concept(medication),
        "subject": _ref("Patient", medication.resident_id),
    }
    if is_request:
        resource["intent"] = "order"
        if medication.encounter_id is not None:
            resource["encounter"] = _ref("Encounter", medication.encounter_id)
        if medication.authored_at is not None:
            resource["authoredOn"] = _instant(medication.authored_at)
        if medication.prescriber_id is not None:
            resource["requester"] = _ref("Practitioner", medication.prescriber_id)
        else:
            resource["requester"] = _ref("Organization", medication.institution_id)
        if medication.dosage_text:
            resource["dosageInstruction"] = [{"text": medication.dosage_text}]
        if medication.days_supply is not None:
            resource["dispenseRequest"] = {
                "expectedSupplyDuration": {
                    "value": medication.days_supply,
                    "unit": "days",
                    "system": systems.UCUM,
                    "code": "d",
                }
            }
        return resource
    if medication.encounter_id is not None:
        resource["context"] = _ref("Encounter", medication.encounter_id)
    period: Resource = {}
    if medication.effective_start is not None:
        period["start"] = medication.effective_start.isoformat()
    if medication.effective_end is not None:
        period["end"] = medication.effective_end.isoformat()
    if period:
        resource["effectivePeriod"] = period
    if medication.dosage_text:
        resource["dosage"] = [{"text": medication.dosage_text}]
    source = ("Practitioner", medication.prescriber_id) if medication.prescriber_id else None
    resource["informationSource"] = (
        _ref(*source) if source else _ref("Organization", medication.institution_id)
    )
    return resource


def _answer(value: Any) -> Resource:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    if isinstance(value, str):
        return {"valueString": value}
    return {"valueString": json.dumps(value, ensure_ascii=False, sort_keys=True)}


def _answered_items(prefix: str, answers: Mapping[str, Any], order: Iterable[str] = ()) -> list[Resource]:
    keys = [*order, *sorted(k for k in answers if k not in set(order))]
    items = []
    for key in keys:
        value = answers.get(key)
        if value is None or value == "" or value == [] or value == {}:
            continue
        items.append({"linkId": f"{prefix}.{key}", "answer": [_answer(value)]})
    return items


def _questionnaire_response(
    entry: ClinicalEntry, questionnaire: str, authored: date, complete: bool, items: list[Resource]
) -> Resource:
    provenance = _provenance(entry)
    resource: Resource = {
        "resourceType": "QuestionnaireResponse",
        "id": str(entry.pk),
        # QuestionnaireResponse has a single identifier, unlike the other resources.
        "identifier": provenance["identifier"][0],
        "meta": provenance["meta"],
        "questionnaire": questionnaire,
        "status": "completed" if complete else "in-progress",
        "subject": _ref("Patient", entry.resident_id),
        "authored": authored.isoformat(),
        # The institution by default; the examiner replaces it when known.
        "author": _ref("Organization", entry.institution_id),
    }
    if items:
        resource["item"] = items
    return resource


def elderly_exam_resource(exam: ElderlyExam) -> Resource:
    groups = []
    for part, order in ELDERLY_EXAM_PARTS.items():
        items = _answered_items(part, exam.parts[part] or {}, order)
        if items:
            groups.append({"linkId": part, "text": ELDERLY_EXAM_PART_LABELS[part], "item": items})
    resource = _questionnaire_response(
        exam, systems.ELDERLY_EXAM_QUESTIONNAIRE, exam.exam_date, exam.is_complete, groups
    )
    if exam.examiner_id is not None:
        resource["author"] = _ref("Practitioner", exam.examiner_id)
    return resource


def school_check_resource(check: SchoolHealthCheck) -> Resource:
    items = _answered_items(check.kind, check.results or {})
    return _questionnaire_response(
        check, f"{systems.SCHOOL_CHECK_QUESTIONNAIRE}-{check.kind}", check.check_date, True, items
    )


def patient_everything(resident: Resident, *, reveal_identifiers: bool = False) -> Resource:
    """The resident's account as a searchset Bundle of R4 resources (validates against R4B models)."""
    matches: list[Resource] = [patient_resource(resident, reveal_identifiers=reveal_identifiers)]
    institution_ids: set[int] = set()
    staff_ids: set[int] = set()

    def note(entry: ClinicalEntry, *staff: int | None) -> None:
        institution_ids.add(entry.institution_id)
        staff_ids.update(pk for pk in staff if pk is not None)

    for encounter in Encounter.objects.filter(resident=resident).order_by("start", "id"):
        note(encounter, encounter.practitioner_id)
        matches.append(encounter_resource(encounter))
    for condition in Condition.objects.filter(resident=resident).order_by("onset_date", "id"):
        note(condition)
        matches.append(condition_resource(condition))
    for observation in Observation.objects.filter(resident=resident).order_by("effective_at", "id"):
        note(observation)
        matches.append(observation_resource(observation))
    for medication in Medication.objects.filter(resident=resident).order_by(
        "authored_at", "effective_start", "id"
    ):
        note(medication, medication.prescriber_id)
        matches.append(medication_resource(medication))
    for exam in ElderlyExam.objects.filter(resident=resident).order_by("exam_date", "id"):
        note(exam, exam.examiner_id)
        matches.append(elderly_exam_resource(exam))
    for check in SchoolHealthCheck.objects.filter(resident=resident).order_by("check_date", "id"):
        note(check)
        matches.append(school_check_resource(check))
    includes: list[Resource] = [
        organization_resource(i) for i in Institution.objects.filter(pk__in=institution_ids).order_by("pk")
    ]
    includes.extend(practitioner_resource(s) for s in Staff.objects.filter(pk__in=staff_ids).order_by("pk"))

    def entry(resource: Resource, mode: str) -> Resource:
        return {
            "fullUrl": f"{systems.FHIR_BASE}/{resource['resourceType']}/{resource['id']}",
            "resource": resource,
            "search": {"mode": mode},
        }

    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": _instant(timezone.now()),
        "total": len(matches),
        "entry": [entry(r, "match") for r in matches] + [entry(r, "include") for r in includes],
    }


def account_transactions(resident: Resident) -> list[Resource]:
    """The resident's account as transaction Bundles that jiayi's own import accepts: one per source
    system (named in `meta.source`, which the import reads as the sender), each with the Patient (all
    identifiers revealed, so the receiver finds or registers the same person) and the Organizations and
    Practitioners its entries point to. Moving an account to another jiayi reproduces it, identifiers
    and provenance included.

    65+ exam forms and school checks are not included: they travel as QuestionnaireResponses, which
    the import does not accept (`patient_everything` exports them)."""
    patient = patient_resource(resident, reveal_identifiers=True)
    by_source: dict[str, list[tuple[Resource, set[int], set[int]]]] = {}

    def add(entry: ClinicalEntry, resource: Resource, *staff: int | None) -> None:
        by_source.setdefault(entry.source_system, []).append(
            (resource, {entry.institution_id}, {pk for pk in staff if pk is not None})
        )

    for encounter in Encounter.objects.filter(resident=resident).order_by("start", "id"):
        add(encounter, encounter_resource(encounter), encounter.practitioner_id)
    for condition in Condition.objects.filter(resident=resident).order_by("onset_date", "id"):
        add(condition, condition_resource(condition))
    for observation in Observation.objects.filter(resident=resident).order_by("effective_at", "id"):
        add(observation, observation_resource(observation))
    for medication in Medication.objects.filter(resident=resident).order_by("authored_at", "id"):
        add(medication, medication_resource(medication), medication.prescriber_id)

    def entry(resource: Resource) -> Resource:
        return {
            "fullUrl": f"{systems.FHIR_BASE}/{resource['resourceType']}/{resource['id']}",
            "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]},
        }

    bundles: list[Resource] = []
    for source_system in sorted(by_source):
        items = by_source[source_system]
        institutions = set().union(*(i for _, i, _ in items))
        staff = set().union(*(s for _, _, s in items))
        resources = [
            *(
                organization_resource(i)
                for i in Institution.objects.filter(pk__in=institutions).order_by("pk")
            ),
            *(practitioner_resource(s) for s in Staff.objects.filter(pk__in=staff).order_by("pk")),
            patient,
            *(resource for resource, _, _ in items),
        ]
        bundles.append(
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "meta": {"source": source_system},
                "entry": [entry(resource) for resource in resources],
            }
        )
    return bundles
