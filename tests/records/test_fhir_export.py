"""Exporting a resident's health account as a FHIR R4 Bundle (H5), valid against the R4B models."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from jiayi import access
from jiayi.records import fhir_systems as systems
from jiayi.records.fhir_out import patient_everything
from jiayi.records.lib import ELDERLY_EXAM_PARTS
from jiayi.records.models import Condition, ElderlyExam, Encounter, Medication, Observation, SchoolHealthCheck
from jiayi.records.services import import_bundle
from jiayi.registry.models import Institution, Resident

from .helpers import (
    bundle,
    condition,
    encounter,
    medication_request,
    medication_statement,
    observation,
)

pytestmark = pytest.mark.django_db
SOURCE = "export-test"


def _give_records(residents: list[Resident], actor) -> None:
    """An account per resident: a visit with its diagnosis, readings and prescription, a medicine taken,
    and for some a 65+ exam form or a school check."""
    resources = []
    urls = []
    for n, resident in enumerate(residents):
        enc = f"urn:uuid:enc-{n}"
        linked = {"encounter": {"reference": enc}}
        resources += [
            encounter(f"e{n}", resident, klass=["AMB", "IMP", "EMER", "HH", "VR"][n % 5]),
            condition(f"c{n}", resident, code=["I10", "E11.9", "I10.x00x002"][n % 3], **linked),
            observation(f"o{n}", resident, **linked),
            observation(f"g{n}", resident, code="1558-6", value=6.1, unit="mmol/L"),
            medication_request(f"r{n}", resident, **linked),
            medication_statement(f"s{n}", resident),
        ]
        urls += [enc, f"urn:c{n}", f"urn:o{n}", f"urn:g{n}", f"urn:r{n}", f"urn:s{n}"]
    outcome = import_bundle(
        bundle(resources, "transaction", full_urls=urls), actor=actor, source_system=SOURCE
    )
    assert outcome.ok, outcome.errors[:3]
    centre = Institution.objects.order_by("id").first()
    now = timezone.now()
    for n, resident in enumerate(residents[::3]):
        parts = {part: dict.fromkeys(items, "正常") for part, items in ELDERLY_EXAM_PARTS.items()}
        parts["physical"]["height"] = 168.5
        parts["physical"]["pulse"] = 72
        parts["assessment"]["smoking"] = False
        parts["physical"]["blood_pressure"] = {"systolic": 132, "diastolic": 84}
        if n % 2:
            parts["tests"]["ecg"] = ""
        ElderlyExam.objects.create(
            resident=resident,
            institution=centre,
            source_system=SOURCE,
            source_id=f"exam-{resident.pk}",
            received_at=now,
            exam_date=date(2025, 5, 1),
            **parts,
        )
    for resident in residents[1::4]:
        SchoolHealthCheck.objects.create(
            resident=resident,
            institution=centre,
            source_system=SOURCE,
            source_id=f"school-{resident.pk}",
            received_at=now,
            kind="fitness_test",
            check_date=date(2025, 4, 1),
            grade="初一",
            results={"run_50m_seconds": 8.4, "vision_left": "4.9"},
        )


def test_it_exports_every_account_of_the_district_as_a_valid_r4_bundle(personas):
    residents = list(
        access.residents_editable_by(personas.doctor).filter(citizen_id__isnull=False).order_by("id")[:25]
    )
    _give_records(residents, personas.doctor)
    with_records = Resident.objects.filter(
        pk__in=Encounter.objects.values("resident")
    ) | Resident.objects.filter(pk__in=ElderlyExam.objects.values("resident"))
    checked = 0
    for resident in with_records.distinct().select_related("committee", "residential_point"):
        exported = patient_everything(resident)
        parsed = Bundle.model_validate(exported)
        assert parsed.type == "searchset"
        kinds = [e.resource.get_resource_type() for e in parsed.entry]
        assert kinds[0] == "Patient"
        expected = (
            1
            + Encounter.objects.filter(resident=resident).count()
            + Condition.objects.filter(resident=resident).count()
            + Observation.objects.filter(resident=resident).count()
            + Medication.objects.filter(resident=resident).count()
            + ElderlyExam.objects.filter(resident=resident).count()
            + SchoolHealthCheck.objects.filter(resident=resident).count()
        )
        assert exported["total"] == expected
        assert sum(1 for e in exported["entry"] if e["search"]["mode"] == "match") == expected
        assert "Organization" in kinds
        checked += 1
    assert checked == len(residents)


def test_it_leaves_citizen_id_and_phone_out_unless_asked(resident_in_scope):
    exported = patient_everything(resident_in_scope)
    patient = exported["entry"][0]["resource"]
    systems_sent = {i["system"] for i in patient["identifier"]}
    assert systems.CITIZEN_ID_SYSTEM not in systems_sent
    assert "telecom" not in patient
    assert resident_in_scope.citizen_id not in str(exported)
    revealed = patient_everything(resident_in_scope, reveal_identifiers=True)["entry"][0]["resource"]
    assert {"system": systems.CITIZEN_ID_SYSTEM, "value": resident_in_scope.citizen_id} in revealed[
        "identifier"
    ]
    Bundle.model_validate(patient_everything(resident_in_scope, reveal_identifiers=True))


def test_it_exports_what_was_imported_so_a_re_import_changes_nothing(personas, resident_in_scope):
    resources = [
        encounter("rt-1", resident_in_scope),
        observation("rt-2", resident_in_scope, code="8280-0", value=0.92, unit="m"),
    ]
    assert import_bundle(bundle(resources), actor=personas.doctor, source_system=SOURCE).ok
    exported = patient_everything(resident_in_scope)
    reading = next(e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == "Observation")
    assert reading["valueQuantity"] == {"value": 92.0, "unit": "cm", "system": systems.UCUM, "code": "cm"}
    assert reading["identifier"] == [{"system": "urn:test:obs", "value": "rt-2"}]
    visit = next(e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == "Encounter")
    assert visit["class"]["code"] == "AMB"
    assert visit["status"] == "finished"


def test_it_marks_an_incomplete_exam_in_progress(personas, resident_in_scope):
    centre = Institution.objects.order_by("id").first()
    exam = ElderlyExam.objects.create(
        resident=resident_in_scope,
        institution=centre,
        source_system=SOURCE,
        source_id="exam-partial",
        received_at=timezone.now() - timedelta(days=1),
        exam_date=date(2025, 5, 1),
        physical={"height": 160},
    )
    assert not exam.is_complete
    exported = patient_everything(resident_in_scope)
    form = next(
        e["resource"] for e in exported["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"
    )
    assert form["status"] == "in-progress"
    assert form["item"] == [
        {
            "linkId": "physical",
            "text": "体格检查 Physical exam",
            "item": [{"linkId": "physical.height", "answer": [{"valueInteger": 160}]}],
        }
    ]
