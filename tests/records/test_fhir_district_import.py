"""Importing district-transfer entries: the same rules as every FHIR entry (per-entry outcomes in a
batch, all or nothing in a transaction, idempotent), and the registry only from an operator."""

from __future__ import annotations

from typing import Any

import pytest

from jiayi.records import fhir_district as d
from jiayi.records import services
from jiayi.registry.models import Place, Resident


def _committee(code: str, parent: str) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "identifier": [{"system": d.PLACE_SYSTEM, "value": code}],
        "status": "active",
        "name": f"测试{code[-3:]}居委会",
        "type": [
            {
                "coding": [
                    {"system": d.PLACE_LEVEL_SYSTEM, "code": "committee"},
                    {"system": d.PLACE_KIND_SYSTEM, "code": "residential_committee"},
                ]
            }
        ],
        "position": {"longitude": 121.42, "latitude": 31.22},
        "partOf": d.place_ref(parent),
    }


def _bundle(kind: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}} for r in resources
        ],
    }


@pytest.fixture
def sub_district(db: None) -> Place:
    place = Place.objects.filter(level="sub_district").order_by("code").first()
    assert place is not None
    return place


def test_a_batch_keeps_the_good_places_and_names_the_bad_one(sub_district: Place) -> None:
    good = [_committee(f"{sub_district.code}9{i:02d}", sub_district.code) for i in range(3)]
    bad = _committee(f"{sub_district.code}950", "999999999999")
    outcome = services.import_bundle(
        _bundle("batch", [good[0], bad, *good[1:]]), actor=None, source_system="test"
    )
    assert [e.status for e in outcome.entries] == ["created", "error", "created", "created"]
    error = outcome.errors[0]
    assert (error.index, error.resource_type, error.field) == (1, "Location", "Location.partOf")
    assert error.identifier == f"{d.PLACE_SYSTEM}|{sub_district.code}950"
    assert error.reason == "no place with code 999999999999"
    assert Place.objects.filter(code__startswith=f"{sub_district.code}9").count() == 3
    assert Place.objects.get(code=f"{sub_district.code}900").parent == sub_district

    again = services.import_bundle(_bundle("batch", good), actor=None, source_system="test")
    assert [e.status for e in again.entries] == ["unchanged"] * 3


def test_a_transaction_with_one_bad_place_keeps_none(sub_district: Place) -> None:
    good = _committee(f"{sub_district.code}960", sub_district.code)
    bad = _committee(f"{sub_district.code}961", sub_district.code)
    bad["type"][0]["coding"][0]["code"] = "province"
    outcome = services.import_bundle(_bundle("transaction", [good, bad]), actor=None, source_system="test")
    assert not outcome.committed
    assert [e.status for e in outcome.entries] == ["not_applied", "error"]
    assert outcome.errors[0].field == "Location.type"
    assert "level 'province' is not one of" in outcome.errors[0].reason
    assert not Place.objects.filter(code__in=[f"{sub_district.code}960", f"{sub_district.code}961"]).exists()


def test_registry_entries_are_refused_from_a_scoped_caller(sub_district: Place) -> None:
    resident = Resident.objects.filter(citizen_id__isnull=False).order_by("id").first()
    assert resident is not None
    patient = d.resident_patient(resident, sub_district.code, None, None)
    patient["name"] = [{"text": "改名"}]
    place = _committee(f"{sub_district.code}970", sub_district.code)
    outcome = services.import_bundle(
        _bundle("batch", [place, patient]),
        actor=None,
        source_system="test",
        residents=Resident.objects.all(),
        committees=Place.objects.all(),
    )
    assert [e.status for e in outcome.entries] == ["error", "error"]
    assert [e.field for e in outcome.errors] == ["resourceType", "Patient.meta.profile"]
    assert all("only from an operator's import" in e.reason for e in outcome.errors)
    assert not Place.objects.filter(code=f"{sub_district.code}970").exists()
    resident.refresh_from_db()
    assert resident.name != "改名"


def test_a_registry_patient_updates_the_resident_and_then_changes_nothing(sub_district: Place) -> None:
    resident = (
        Resident.objects.filter(citizen_id__isnull=False, household__isnull=False, committee__isnull=False)
        .select_related("committee", "household", "residential_point")
        .order_by("id")
        .first()
    )
    assert resident is not None
    point = resident.residential_point
    patient = d.resident_patient(
        resident,
        resident.committee.code if resident.committee else None,
        (point.code, point.address) if point else None,
        resident.household.code if resident.household else None,
    )
    outcome = services.import_bundle(_bundle("batch", [patient]), actor=None, source_system="test")
    assert [e.status for e in outcome.entries] == ["unchanged"]
    patient["telecom"] = [{"system": "phone", "value": "13912345678"}]
    outcome = services.import_bundle(_bundle("batch", [patient]), actor=None, source_system="test")
    assert [e.status for e in outcome.entries] == ["updated"]
    resident.refresh_from_db()
    assert resident.phone == "13912345678"
