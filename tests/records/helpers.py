"""Builders of FHIR R4 bundles for the synthetic district's residents, shared by the records tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jiayi.records import fhir_systems as systems
from jiayi.registry.models import Institution, Resident

WHEN = "2025-06-01T09:30:00+08:00"
Resource = dict[str, Any]


def patient_ref(resident: Resident) -> Resource:
    return {"reference": f"Patient?identifier={systems.CITIZEN_ID_SYSTEM}|{resident.citizen_id}"}


def organization_ref(institution: Institution) -> Resource:
    return {
        "identifier": {"system": systems.INSTITUTION_SYSTEM, "value": institution.code},
        "type": "Organization",
    }


def observation(
    key: str,
    resident: Resident,
    *,
    code: str = "8480-6",
    value: Any = 128,
    unit: str = "mm[Hg]",
    when: str = WHEN,
    **extra: Any,
) -> Resource:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:test:obs", "value": key}],
        "status": "final",
        "code": {"coding": [{"system": systems.LOINC, "code": code}]},
        "subject": patient_ref(resident),
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": systems.UCUM, "code": unit},
        **extra,
    }


def encounter(
    key: str, resident: Resident, *, klass: str = "AMB", start: str = WHEN, **extra: Any
) -> Resource:
    return {
        "resourceType": "Encounter",
        "identifier": [{"system": "urn:test:enc", "value": key}],
        "status": "finished",
        "class": {"system": systems.ACT_CODE, "code": klass},
        "subject": patient_ref(resident),
        "period": {"start": start, "end": start},
        "serviceType": {"text": "全科"},
        **extra,
    }


def condition(key: str, resident: Resident, *, code: str = "I10", **extra: Any) -> Resource:
    return {
        "resourceType": "Condition",
        "identifier": [{"system": "urn:test:cond", "value": key}],
        "clinicalStatus": {"coding": [{"system": systems.CONDITION_CLINICAL, "code": "active"}]},
        "code": {"coding": [{"system": systems.ICD10, "code": code, "display": "原发性高血压"}]},
        "subject": patient_ref(resident),
        "onsetDateTime": "2019",
        **extra,
    }


def medication_request(key: str, resident: Resident, **extra: Any) -> Resource:
    return {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": "urn:test:rx", "value": key}],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"code": "C08CA01", "display": "氨氯地平"}],
            "text": "氨氯地平片 5mg",
        },
        "subject": patient_ref(resident),
        "authoredOn": WHEN,
        "dosageInstruction": [{"text": "每日一次，每次一片"}],
        "dispenseRequest": {"expectedSupplyDuration": {"value": 2, "unit": "months", "code": "mo"}},
        **extra,
    }


def medication_statement(key: str, resident: Resident, **extra: Any) -> Resource:
    return {
        "resourceType": "MedicationStatement",
        "identifier": [{"system": "urn:test:ms", "value": key}],
        "status": "active",
        "medicationCodeableConcept": {"text": "二甲双胍片 0.5g"},
        "subject": patient_ref(resident),
        "effectivePeriod": {"start": "2024-01-01"},
        **extra,
    }


def bundle(resources: list[Resource], kind: str = "batch", *, full_urls: list[str] | None = None) -> Resource:
    entries = []
    for i, resource in enumerate(resources):
        entry: Resource = {
            "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]},
        }
        if full_urls is not None:
            entry["fullUrl"] = full_urls[i]
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def clinic_day(residents: list[Resident], total: int) -> list[Resource]:
    """`total` blood-pressure and glucose readings spread over the residents, one key each."""
    resources = []
    for i in range(total):
        resident = residents[i % len(residents)]
        if i % 2:
            resources.append(observation(f"bp-{i}", resident, value=110 + i % 60))
        else:
            resources.append(
                observation(f"glu-{i}", resident, code="1558-6", value=90 + i % 50, unit="mg/dL")
            )
    return resources


def iso(moment: datetime) -> str:
    return moment.isoformat()
