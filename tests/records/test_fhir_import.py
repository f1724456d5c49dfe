"""Importing FHIR R4 batch and transaction bundles into health accounts (H1, H2, security G2)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import Action, AuditEntry, Outcome
from jiayi.records import fhir_systems as systems
from jiayi.records.models import Condition, ElderlyExam, Encounter, Medication, Observation, SchoolHealthCheck
from jiayi.records.services import CREATED, ERROR, MATCHED, NOT_APPLIED, UNCHANGED, UPDATED, import_bundle
from jiayi.registry import identity
from jiayi.registry.models import Institution, Resident

from .helpers import (
    bundle,
    clinic_day,
    condition,
    encounter,
    medication_request,
    medication_statement,
    observation,
    organization_ref,
    patient_ref,
)

SOURCE = "his-test"
pytestmark = pytest.mark.django_db


def stored() -> dict[str, int]:
    """Row counts of everything an import may write, to prove a refusal left them alone (the audit log
    is counted apart: a refusal adds an entry to it)."""
    models: list[Any] = [
        Encounter,
        Condition,
        Observation,
        Medication,
        ElderlyExam,
        SchoolHealthCheck,
        Resident,
    ]
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def residents(personas) -> list[Resident]:
    found = list(
        access.residents_editable_by(personas.doctor)
        .filter(citizen_id__isnull=False, date_of_death__isnull=True)
        .order_by("id")[:50]
    )
    assert len(found) >= 10
    return found


@pytest.fixture
def load(personas):
    """Import as the family doctor, limited to the residents the doctor may change, as the API does."""

    def run(payload: Any, **kwargs: Any):
        kwargs.setdefault("source_system", SOURCE)
        return import_bundle(
            payload,
            actor=personas.doctor,
            residents=access.residents_editable_by(personas.doctor),
            committees=access.committees_assignable_by(personas.doctor),
            **kwargs,
        )

    return run


def test_it_keeps_999_of_1000_batch_entries_and_names_the_bad_one(load, residents):
    resources = clinic_day(residents, 1000)
    resources[637] = observation("bp-637", residents[0], value=999)
    before = stored()
    audits_before = AuditEntry.objects.count()

    outcome = load(bundle(resources, "batch"))

    assert outcome.committed
    assert [(e.index, e.resource_type, e.identifier, e.field) for e in outcome.errors] == [
        (637, "Observation", "urn:test:obs|bp-637", "Observation.valueQuantity.value")
    ]
    assert "systolic blood pressure (8480-6) 999 mm[Hg] is outside the plausible range 50–300" in (
        outcome.errors[0].reason
    )
    assert outcome.counts() == {CREATED: 999, ERROR: 1}
    after = stored()
    assert after["Observation"] == before["Observation"] + 999
    # Every stored entry is audited with the resident it belongs to, and the refusal once for the bundle.
    assert AuditEntry.objects.count() == audits_before + 1000
    refusal = AuditEntry.objects.latest("id")
    assert (refusal.resource_type, refusal.outcome, refusal.detail["entries"]) == (
        "fhir_bundle",
        Outcome.INVALID,
        [[637, "Observation", "Observation.valueQuantity.value"]],
    )
    glucose = Observation.objects.get(source_system=SOURCE, source_id="urn:test:obs|glu-0")
    assert (glucose.value, glucose.unit, glucose.original_value, glucose.original_unit) == (
        5.0,
        "mmol/L",
        90,
        "mg/dL",
    )


def test_it_keeps_none_of_a_transaction_with_one_bad_entry(load, residents):
    resources = clinic_day(residents, 1000)
    resources[637] = observation("bp-637", residents[0], value=999)
    before = stored()
    audits_before = AuditEntry.objects.count()

    outcome = load(bundle(resources, "transaction"))

    assert not outcome.committed
    assert [(e.index, e.field) for e in outcome.errors] == [(637, "Observation.valueQuantity.value")]
    assert outcome.counts() == {NOT_APPLIED: 999, ERROR: 1}
    assert "rolled back because entry 637 failed" in outcome.entries[0].reason
    assert stored() == before
    # Only the refusal is audited: the entries audited inside the transaction were rolled back with it.
    assert AuditEntry.objects.count() == audits_before + 1
    assert AuditEntry.objects.latest("id").detail["committed"] is False


def test_it_stores_a_good_transaction_with_links_between_entries(load, residents, personas):
    resident = residents[0]
    hospital = Institution.objects.exclude(pk=personas.doctor.account.institution_id).order_by("id").first()
    resources = [
        medication_request("rx-1", resident, encounter={"reference": "urn:uuid:enc-1"}),
        observation("obs-1", resident, encounter={"reference": "urn:uuid:enc-1"}),
        condition("cond-1", resident, encounter={"reference": "urn:uuid:enc-1"}),
        encounter("enc-1", resident, klass="HH", serviceProvider=organization_ref(hospital)),
        medication_statement("ms-1", resident),
    ]
    urls = ["urn:uuid:rx-1", "urn:uuid:obs-1", "urn:uuid:cond-1", "urn:uuid:enc-1", "urn:uuid:ms-1"]

    outcome = load(bundle(resources, "transaction", full_urls=urls))

    assert outcome.ok
    assert outcome.committed
    assert [e.status for e in outcome.entries] == [CREATED] * 5
    visit = Encounter.objects.get(source_system=SOURCE, source_id="urn:test:enc|enc-1")
    assert (visit.type, visit.department, visit.institution, visit.resident) == (
        "home_visit",
        "全科",
        hospital,
        resident,
    )
    diagnosis = visit.diagnoses.get()
    assert (diagnosis.code, diagnosis.display, str(diagnosis.onset_date)) == (
        "I10",
        "原发性高血压",
        "2019-01-01",
    )
    reading = visit.observations.get()
    # Measured on a home visit, at the institution that made the visit.
    assert (reading.method, reading.institution) == ("home_visit", hospital)
    prescription = visit.medications.get()
    assert (prescription.kind, prescription.days_supply, prescription.medication_code) == (
        "request",
        60,
        "C08CA01",
    )
    taken = Medication.objects.get(source_id="urn:test:ms|ms-1")
    # Nothing names a producer: the entry is attributed to the importing doctor's centre.
    assert (taken.kind, taken.institution_id) == ("statement", personas.doctor.account.institution_id)


def test_it_changes_nothing_when_the_same_bundle_comes_again(load, residents):
    resident = residents[1]
    resources = [
        encounter("enc-2", resident),
        condition("cond-2", resident, code="E11.9"),
        observation("obs-2", resident, code="8302-2", value=1.68, unit="m"),
        medication_request("rx-2", resident),
        {
            "resourceType": "Patient",
            "identifier": [{"system": systems.CITIZEN_ID_SYSTEM, "value": resident.citizen_id}],
        },
    ]
    first = load(bundle(resources))
    assert [e.status for e in first.entries] == [CREATED, CREATED, CREATED, CREATED, MATCHED]
    after_first = stored()
    audits_after_first = AuditEntry.objects.count()

    again = load(bundle(resources))

    assert [e.status for e in again.entries] == [UNCHANGED, UNCHANGED, UNCHANGED, UNCHANGED, MATCHED]
    assert stored() == after_first
    assert AuditEntry.objects.count() == audits_after_first  # not even an audit entry

    resources[2]["valueQuantity"]["value"] = 1.7
    changed = load(bundle(resources))
    assert [e.status for e in changed.entries][:3] == [UNCHANGED, UNCHANGED, UPDATED]
    assert Observation.objects.get(source_id="urn:test:obs|obs-2").value == 170.0
    assert stored()["Observation"] == after_first["Observation"]
    assert AuditEntry.objects.filter(action=Action.UPDATE, resource_type="observation").exists()


def test_it_reports_malformed_json_and_stores_nothing(load):
    before = stored()
    outcome = load('{"resourceType": "Bundle", "type": "batch", "entry": [')
    assert not outcome.committed
    assert [(e.index, e.field) for e in outcome.entries] == [(None, "Bundle")]
    assert outcome.entries[0].reason.startswith("malformed JSON: Expecting value at line 1 column")
    assert stored() == before


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"resourceType": "Patient"}, "resourceType must be Bundle, got 'Patient'"),
        (
            {"resourceType": "Bundle", "type": "document"},
            "Bundle.type must be batch or transaction, got 'document'",
        ),
        ({"resourceType": "Bundle", "type": "batch", "entry": {}}, "Bundle.entry must be a list"),
        ([], "a FHIR Bundle must be a JSON object"),
    ],
)
def test_it_refuses_what_is_not_a_batch_or_transaction_bundle(load, payload, reason):
    before = stored()
    outcome = load(json.dumps(payload))
    assert outcome.entries[0].reason == reason
    assert stored() == before


def test_it_refuses_an_unknown_resource_type_and_keeps_the_rest(load, residents):
    resources = [
        observation("u-1", residents[0]),
        {"resourceType": "Immunization", "id": "imm-1"},
        observation("u-2", residents[0]),
    ]
    before = stored()
    outcome = load(bundle(resources))
    error = outcome.errors[0]
    assert (error.index, error.resource_type, error.identifier, error.field) == (
        1,
        "Immunization",
        "imm-1",
        "resourceType",
    )
    assert error.reason.startswith(
        "Immunization is not accepted; send one of Location, Organization, Practitioner"
    )
    assert stored()["Observation"] == before["Observation"] + 2


def test_it_refuses_a_transaction_with_an_unknown_resource_type(load, residents):
    before = stored()
    outcome = load(bundle([observation("u-3", residents[0]), {"resourceType": "Foo"}], "transaction"))
    assert [(e.index, e.field) for e in outcome.errors] == [(1, "resourceType")]
    assert stored() == before


def test_it_refuses_a_reference_to_a_missing_patient(load, residents):
    unknown = identity.make_citizen_id("310105", residents[0].birth_date, 999)
    assert not Resident.objects.filter(citizen_id=unknown).exists()
    reading = observation("m-1", residents[0])
    reading["subject"] = {"reference": f"Patient?identifier={systems.CITIZEN_ID_SYSTEM}|{unknown}"}
    dangling = observation("m-2", residents[0], subject={"reference": "urn:uuid:nobody"})
    before = stored()

    outcome = load(bundle([reading, dangling]))

    assert [(e.index, e.field) for e in outcome.errors] == [
        (0, "Observation.subject"),
        (1, "Observation.subject"),
    ]
    assert outcome.errors[0].reason == (
        f"no patient found for identifier {systems.CITIZEN_ID_SYSTEM}|{identity.mask_citizen_id(unknown)}"
    )
    assert unknown not in outcome.errors[0].reason  # the ID comes back masked
    assert outcome.errors[1].reason == "no patient found for urn:uuid:nobody"
    assert stored() == before


def test_it_answers_for_a_resident_out_of_scope_as_for_a_missing_one(load, resident_out_of_scope):
    before = stored()
    outcome = load(bundle([observation("s-1", resident_out_of_scope)]))
    assert outcome.errors[0].field == "Observation.subject"
    assert outcome.errors[0].reason.startswith("no patient found for identifier")
    assert stored() == before


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        (
            {"value": 15, "unit": "mmHg", "code": "8462-4"},
            "Observation.valueQuantity.value",
            "diastolic blood pressure (8462-4) 15 mm[Hg] is outside",
        ),
        (
            {"value": 800, "unit": "mg/dL", "code": "1558-6"},
            "Observation.valueQuantity.value",
            "fasting glucose (1558-6) 44.4 mmol/L is outside",
        ),
        (
            {"value": 7, "unit": "g/L", "code": "1558-6"},
            "Observation.valueQuantity.unit",
            "unit 'g/L' is not accepted (value 7.0)",
        ),
        (
            {"value": 260, "unit": "cm", "code": "8302-2"},
            "Observation.valueQuantity.value",
            "height (8302-2) 260 cm is outside",
        ),
        (
            {"value": 0.5, "unit": "kg", "code": "29463-7"},
            "Observation.valueQuantity.value",
            "weight (29463-7) 0.5 kg is outside",
        ),
    ],
)
def test_it_refuses_impossible_values(load, residents, overrides, field, reason):
    before = stored()
    outcome = load(bundle([observation("v-1", residents[0], **overrides)]))
    assert outcome.errors[0].field == field
    assert reason in outcome.errors[0].reason
    assert stored() == before


def test_it_refuses_future_dates(load, residents):
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    next_year = (timezone.localdate() + timedelta(days=366)).isoformat()
    resources = [
        observation("f-1", residents[0], when=tomorrow),
        encounter("f-2", residents[0], start=tomorrow),
        condition("f-3", residents[0], onsetDateTime=next_year),
        medication_request("f-4", residents[0], authoredOn=tomorrow),
    ]
    before = stored()
    outcome = load(bundle(resources))
    assert [(e.index, e.field) for e in outcome.errors] == [
        (0, "Observation.effectiveDateTime"),
        (1, "Encounter.period.start"),
        (2, "Condition.onsetDateTime"),
        (3, "MedicationRequest.authoredOn"),
    ]
    assert all("is in the future" in e.reason for e in outcome.errors)
    assert tomorrow[:10] in outcome.errors[0].reason
    assert stored() == before


@pytest.mark.parametrize(
    ("resource", "field", "reason"),
    [
        ({"status": None}, "Observation.status", "Value for the field 'status' is required."),
        ({"effectiveDateTime": "2025-13-01"}, "Observation.effectiveDateTime", "does not match spec regex"),
        (
            {"valueQuantity": {"value": "high"}},
            "Observation.valueQuantity.value",
            "does not match spec regex",
        ),
        ({"status": "entered-in-error"}, "Observation.status", "withdraws a record"),
        (
            {"code": {"coding": [{"system": systems.LOINC, "code": "1234-5"}]}},
            "Observation.code",
            "no observation code jiayi records",
        ),
        (
            {"valueQuantity": None, "valueString": "120/80"},
            "Observation.valueQuantity",
            "a valueQuantity is required",
        ),
        ({"identifier": None}, "Observation.identifier", "an identifier (or id) is required"),
    ],
)
def test_it_names_the_element_of_a_malformed_entry(load, residents, resource, field, reason):
    reading = observation("x-1", residents[0])
    for key, value in resource.items():
        if value is None:
            reading.pop(key)
        else:
            reading[key] = value
    before = stored()
    outcome = load(bundle([reading]))
    assert (outcome.errors[0].field, outcome.errors[0].index) == (field, 0)
    assert reason in outcome.errors[0].reason
    assert stored() == before


def test_it_refuses_malformed_icd10_codes(load, residents):
    outcome = load(bundle([condition("c-x", residents[0], code="hypertension")]))
    assert outcome.errors[0].field == "Condition.code"
    assert "ICD-10 code 'hypertension' is not a valid code" in outcome.errors[0].reason


def test_it_maps_organizations_and_names_unknown_ones(load, residents):
    known = Institution.objects.order_by("id").first()
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Organization",
            "identifier": [{"system": systems.INSTITUTION_SYSTEM, "value": known.code}],
        },
        {
            "resourceType": "Organization",
            "identifier": [{"system": systems.INSTITUTION_SYSTEM, "value": "NOPE-1"}],
        },
        observation("o-1", residents[0], performer=[{"reference": "urn:uuid:org-known"}]),
        observation("o-2", residents[0], performer=[{"reference": "urn:uuid:org-unknown"}]),
    ]
    before = stored()
    outcome = load(
        bundle(resources, full_urls=["urn:uuid:org-known", "urn:uuid:org-unknown", "urn:o1", "urn:o2"])
    )
    assert [e.status for e in outcome.entries] == [MATCHED, ERROR, CREATED, ERROR]
    assert (outcome.entries[1].field, outcome.entries[1].reason) == (
        "Organization.identifier",
        "no institution with code NOPE-1",
    )
    assert outcome.entries[3].reason == "it refers to entry 1, which failed"
    assert Observation.objects.get(source_id="urn:test:obs|o-1").institution == known
    assert stored()["Observation"] == before["Observation"] + 1


def test_it_stores_a_blood_pressure_panel_as_two_readings(load, residents):
    panel = observation("panel-1", residents[0], code="85354-9")
    panel.pop("valueQuantity")
    panel["component"] = [
        {
            "code": {"coding": [{"system": systems.LOINC, "code": code}]},
            "valueQuantity": {"value": value, "unit": "mmHg"},
        }
        for code, value in (("8480-6", 142), ("8462-4", 91))
    ]
    panel["method"] = {"coding": [{"system": systems.OBSERVATION_METHOD_SYSTEM, "code": "smart_health_post"}]}
    outcome = load(bundle([panel]))
    assert outcome.ok
    rows = Observation.objects.filter(source_id__startswith="urn:test:obs|panel-1#").order_by("code")
    assert [(r.code, r.value, r.method) for r in rows] == [
        ("8462-4", 91, "smart_health_post"),
        ("8480-6", 142, "smart_health_post"),
    ]


def test_it_registers_a_new_patient_who_names_a_committee(load, residents, personas):
    committee = access.committees_assignable_by(personas.doctor).order_by("code").first()
    birth = residents[0].birth_date
    citizen_id = next(
        cid
        for seq in range(1, 999, 2)
        if not Resident.objects.filter(
            citizen_id=(cid := identity.make_citizen_id("310105", birth, seq))
        ).exists()
    )
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": systems.CITIZEN_ID_SYSTEM, "value": citizen_id}],
        "name": [{"family": "王", "given": ["小明"]}],
        "gender": "male",
        "birthDate": birth.isoformat(),
        "extension": [{"url": systems.COMMITTEE_EXTENSION, "valueCode": committee.code}],
    }
    reading = observation("new-1", residents[0], subject={"reference": "urn:uuid:new-patient"})
    by_identifier = observation("new-2", residents[0])
    by_identifier["subject"] = {"reference": f"Patient?identifier={systems.CITIZEN_ID_SYSTEM}|{citizen_id}"}
    outcome = load(
        bundle(
            [reading, patient, by_identifier],
            "transaction",
            full_urls=["urn:uuid:r", "urn:uuid:new-patient", "urn:uuid:r2"],
        )
    )
    assert outcome.ok, outcome.errors
    assert outcome.entries[1].status == CREATED
    assert outcome.entries[1].identifier == identity.mask_citizen_id(citizen_id)
    resident = Resident.objects.get(citizen_id=citizen_id)
    assert (resident.name, resident.committee) == ("王小明", committee)
    assert Observation.objects.get(source_id="urn:test:obs|new-1").resident == resident
    assert Observation.objects.get(source_id="urn:test:obs|new-2").resident == resident
    assert AuditEntry.objects.filter(
        action=Action.CREATE, resource_type="resident", resident_id=resident.pk
    ).exists()


def test_it_does_not_register_a_new_patient_without_a_committee(load, residents):
    citizen_id = identity.make_citizen_id("310105", residents[0].birth_date, 997)
    Resident.objects.filter(citizen_id=citizen_id).delete()
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": systems.CITIZEN_ID_SYSTEM, "value": citizen_id}],
        "birthDate": residents[0].birth_date.isoformat(),
    }
    before = stored()
    outcome = load(bundle([patient]))
    assert outcome.errors[0].field == "Patient.extension"
    assert "to register one, give the residential committee" in outcome.errors[0].reason
    assert stored() == before


def test_it_refuses_an_invalid_citizen_id(load):
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": systems.CITIZEN_ID_SYSTEM, "value": "11010519491231002Y"}],
    }
    outcome = load(bundle([patient]))
    assert (outcome.errors[0].field, outcome.errors[0].reason) == (
        "Patient.identifier",
        "citizen ID must be 17 digits followed by a digit or X",
    )


def test_it_refuses_an_identifier_already_used_for_another_patient(load, residents):
    assert load(bundle([observation("shared-1", residents[0])])).ok
    outcome = load(bundle([observation("shared-1", residents[1])]))
    assert (outcome.errors[0].field, outcome.errors[0].reason) == (
        "Observation.identifier",
        "this identifier already belongs to another patient's record",
    )
    assert Observation.objects.get(source_id="urn:test:obs|shared-1").resident == residents[0]


def test_it_keeps_sources_apart(load, residents):
    reading = observation("same-id", residents[0])
    assert load(bundle([reading]), source_system="post-a").entries[0].status == CREATED
    assert load(bundle([reading]), source_system="post-b").entries[0].status == CREATED
    assert Observation.objects.filter(source_id="urn:test:obs|same-id").count() == 2


def test_it_links_an_entry_to_an_encounter_sent_earlier(load, residents):
    assert load(bundle([encounter("early-1", residents[0])])).ok
    reading = observation(
        "late-1",
        residents[0],
        encounter={"identifier": {"system": "urn:test:enc", "value": "early-1"}, "type": "Encounter"},
    )
    other = observation(
        "late-2",
        residents[1],
        encounter={"identifier": {"system": "urn:test:enc", "value": "early-1"}, "type": "Encounter"},
    )
    outcome = load(bundle([reading, other]))
    assert outcome.entries[0].status == CREATED
    # Another patient's encounter is refused like a missing one.
    assert (outcome.entries[1].field, outcome.entries[1].reason) == (
        "Observation.encounter",
        "no encounter of this patient found for identifier urn:test:enc|early-1",
    )
    assert (
        Observation.objects.get(source_id="urn:test:obs|late-1").encounter.source_id == "urn:test:enc|early-1"
    )


def test_it_refers_by_patient_health_record_number(load, residents):
    resident = next((r for r in residents if r.health_record_number), None)
    if resident is None:
        pytest.skip("no resident with a health-record number in the test district")
    reading = observation(
        "hrn-1",
        resident,
        subject={
            "identifier": {"system": systems.HEALTH_RECORD_SYSTEM, "value": resident.health_record_number}
        },
    )
    assert load(bundle([reading])).ok
    assert Observation.objects.get(source_id="urn:test:obs|hrn-1").resident == resident


def test_it_needs_a_patient_reference(load, residents):
    reading = observation("np-1", residents[0])
    reading.pop("subject")
    outcome = load(bundle([reading]))
    assert (outcome.errors[0].field, outcome.errors[0].reason) == (
        "Observation.subject",
        "a reference to the patient is required",
    )


def test_it_refuses_entry_methods_other_than_post_and_put(load, residents):
    payload = bundle([observation("d-1", residents[0])])
    payload["entry"][0]["request"] = {"method": "DELETE", "url": "Observation/1"}
    outcome = load(payload)
    assert (outcome.errors[0].field, outcome.errors[0].reason) == (
        "request.method",
        "method 'DELETE' is not accepted; use POST or PUT",
    )


def test_it_keeps_a_wearable_self_measurement_with_the_patient_as_performer(load, residents):
    reading = observation(
        "watch-1",
        residents[0],
        code="8867-4",
        value=64,
        unit="/min",
        performer=[{"reference": "urn:uuid:me"}],
        method={"coding": [{"system": systems.OBSERVATION_METHOD_SYSTEM, "code": "wearable"}]},
    )
    reading["performer"] = [patient_ref(residents[0])]
    outcome = load(bundle([reading]))
    assert outcome.ok, outcome.errors
    stored_reading = Observation.objects.get(source_id="urn:test:obs|watch-1")
    # Attributed to the importing doctor's centre, the platform that received it.
    assert (stored_reading.method, stored_reading.value, stored_reading.unit) == ("wearable", 64, "/min")


def test_it_writes_list_positions_the_fhirpath_way(load, residents):
    panel = observation("panel-2", residents[0], code="85354-9")
    panel.pop("valueQuantity")
    panel["component"] = [
        {"code": {"coding": [{"system": systems.LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": "x"}}
    ]
    outcome = load(bundle([panel]))
    assert outcome.errors[0].field == "Observation.component[0].valueQuantity.value"
