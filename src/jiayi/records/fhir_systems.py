"""The URIs jiayi's FHIR import and export speak: identifier systems and code systems.

National ones where they exist. jiayi's own (institution and staff codes, health-record numbers, the
local observation codes) live under `FHIR_BASE`, which a deployment sets to a URL it controls with the
`JIAYI_FHIR_BASE` setting; the default is a reserved example domain so no real one is claimed.
"""

from __future__ import annotations

from django.conf import settings

from jiayi.registry.choices import AlternativeIdType

FHIR_BASE: str = str(getattr(settings, "JIAYI_FHIR_BASE", "https://jiayi.example/fhir")).rstrip("/")

# 居民身份证号码 (GB 11643), the OID of the national health information standards' identifier registry.
CITIZEN_ID_SYSTEM = "urn:oid:2.16.156.10011.1.1"
HEALTH_RECORD_SYSTEM = f"{FHIR_BASE}/sid/health-record-number"  # 健康档案编号, 17 digits
RESIDENT_SYSTEM = f"{FHIR_BASE}/sid/resident"  # jiayi's own resident number, for export only
INSTITUTION_SYSTEM = f"{FHIR_BASE}/sid/institution-code"  # registry Institution.code
STAFF_SYSTEM = f"{FHIR_BASE}/sid/staff-code"  # registry Staff.code
ALT_ID_SYSTEMS: dict[str, str] = {
    str(value): f"{FHIR_BASE}/sid/alt-id/{value}" for value in AlternativeIdType.values
}

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
# Senders using the national clinical edition (国家临床版) may say so; the codes share one pattern.
ICD10_SYSTEMS = frozenset({ICD10, f"{FHIR_BASE}/CodeSystem/icd-10-cn"})
LOCAL_OBSERVATION_SYSTEM = f"{FHIR_BASE}/CodeSystem/observation"
OBSERVATION_METHOD_SYSTEM = f"{FHIR_BASE}/CodeSystem/observation-method"
ENCOUNTER_TYPE_SYSTEM = f"{FHIR_BASE}/CodeSystem/encounter-type"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
BLOOD_PRESSURE_PANELS = frozenset({"85354-9", "55284-4"})  # LOINC BP panels carrying SBP/DBP components

# The extension a Patient carries to register a resident jiayi does not know yet: the residential
# committee (居委/村委) code, since a FHIR address cannot say which committee serves it.
COMMITTEE_EXTENSION = f"{FHIR_BASE}/StructureDefinition/residential-committee"

ELDERLY_EXAM_QUESTIONNAIRE = f"{FHIR_BASE}/Questionnaire/elderly-exam"
SCHOOL_CHECK_QUESTIONNAIRE = f"{FHIR_BASE}/Questionnaire/school-check"
