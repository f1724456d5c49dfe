"""The FHIR endpoints: POST /api/fhir/ (bundles in) and GET /api/fhir/Patient/{id}/$everything."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from fhir.resources.R4B.bundle import Bundle

from jiayi.audit.models import Action, AuditEntry, Outcome
from jiayi.records import fhir_systems as systems
from jiayi.records.models import Observation
from jiayi.registry import identity
from tests.registry.helpers import assert_nothing_unmasked

from .helpers import bundle, clinic_day, observation

pytestmark = pytest.mark.django_db
URL = "/api/fhir/"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, payload: Any) -> Any:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client.post(URL, body, content_type="application/fhir+json")


def everything_url(resident_id: int, *, reason: bool = True) -> str:
    """Staff state why they export (a resident downloading their own account need not)."""
    stated = "?reason=care&reason_detail=follow-up+visit+preparation" if reason else ""
    return f"/api/fhir/Patient/{resident_id}/$everything{stated}"


def test_it_answers_200_with_per_entry_results_for_a_batch(personas, resident_in_scope):
    resources = clinic_day([resident_in_scope], 4)
    resources[2] = observation("api-bad", resident_in_scope, value=20)
    response = post(client_for(personas.doctor), bundle(resources))
    assert response.status_code == 200
    body = response.json()
    assert body["committed"] is True
    assert body["counts"] == {"created": 3, "error": 1}
    assert [e["status"] for e in body["entries"]] == ["created", "created", "error", "created"]
    assert body["issue"] == [
        {
            "severity": "error",
            "code": "invalid",
            "diagnostics": (
                "systolic blood pressure (8480-6) 20 mm[Hg] is outside the plausible range 50–300 mm[Hg]"
            ),
            "expression": ["Bundle.entry[2].resource.valueQuantity.value"],
        }
    ]


def test_it_answers_422_naming_the_entry_of_a_failed_transaction(personas, resident_in_scope):
    resources = clinic_day([resident_in_scope], 4)
    resources[1] = observation("api-bad", resident_in_scope, value=20)
    before = Observation.objects.count()
    response = post(client_for(personas.doctor), bundle(resources, "transaction"))
    assert response.status_code == 422
    body = response.json()
    assert body["committed"] is False
    assert [(e["index"], e["field"]) for e in body["entries"] if e["status"] == "error"] == [
        (1, "Observation.valueQuantity.value")
    ]
    assert Observation.objects.count() == before


def test_it_answers_400_for_malformed_json(personas):
    before = Observation.objects.count()
    response = post(client_for(personas.doctor), "{not json")
    assert response.status_code == 400
    assert response.json()["issue"][0]["diagnostics"].startswith("malformed JSON")
    assert Observation.objects.count() == before


def test_it_takes_the_source_system_from_the_bundle_meta(personas, resident_in_scope):
    payload = bundle([observation("meta-1", resident_in_scope)])
    payload["meta"] = {"source": "urn:his:district-hospital"}
    client = client_for(personas.doctor)
    assert post(client, payload).json()["counts"] == {"created": 1}
    assert post(client, payload).json()["counts"] == {"unchanged": 1}
    assert (
        Observation.objects.get(source_id="urn:test:obs|meta-1").source_system == "urn:his:district-hospital"
    )


def test_it_writes_nothing_for_a_resident_out_of_scope(personas, resident_out_of_scope):
    response = post(client_for(personas.doctor), bundle([observation("scope-1", resident_out_of_scope)]))
    assert response.json()["entries"][0]["reason"].startswith("no patient found")
    assert not Observation.objects.filter(source_id="urn:test:obs|scope-1").exists()
    refusal = AuditEntry.objects.filter(actor=personas.doctor).latest("id")
    assert (refusal.resource_type, refusal.outcome) == ("fhir_bundle", Outcome.INVALID)


def test_it_refuses_anonymous_imports():
    response = Client().post(URL, json.dumps(bundle([])), content_type="application/fhir+json")
    assert response.status_code == 401


def test_it_exports_an_account_in_scope_and_audits_it(personas, resident_in_scope):
    post(client_for(personas.doctor), bundle([observation("ev-1", resident_in_scope)]))
    response = client_for(personas.doctor).get(everything_url(resident_in_scope.pk))
    assert response.status_code == 200
    parsed = Bundle.model_validate(response.json())
    assert [e.resource.get_resource_type() for e in parsed.entry][:2] == ["Patient", "Observation"]
    assert resident_in_scope.citizen_id not in response.content.decode()
    entry = AuditEntry.objects.filter(action=Action.EXPORT, resident_id=resident_in_scope.pk).latest("id")
    assert (entry.outcome, entry.actor, entry.resource_type) == (
        Outcome.OK,
        personas.doctor,
        "health_account",
    )


@pytest.mark.parametrize("who", ["other_doctor", "desk", "cdc", "analyst", "admin"])
def test_it_answers_404_out_of_scope_and_audits_the_denial(personas, resident_in_scope, who):
    user = getattr(personas, who)
    response = client_for(user).get(everything_url(resident_in_scope.pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    denial = AuditEntry.objects.filter(action=Action.EXPORT, actor=user).latest("id")
    assert (denial.outcome, denial.resident_id) == (Outcome.DENIED, resident_in_scope.pk)


def test_it_answers_404_for_a_doctor_of_another_centre(personas, resident_out_of_scope):
    assert client_for(personas.doctor).get(everything_url(resident_out_of_scope.pk)).status_code == 404
    assert client_for(personas.other_doctor).get(everything_url(resident_out_of_scope.pk)).status_code == 200


def test_it_answers_404_like_a_missing_resident(personas):
    assert client_for(personas.doctor).get(everything_url(10**9)).status_code == 404


def test_it_lets_a_resident_export_their_own_account(personas):
    own = personas.resident.account.resident_id
    assert client_for(personas.resident).get(everything_url(own, reason=False)).status_code == 200


def test_it_refuses_anonymous_exports(resident_in_scope):
    assert Client().get(everything_url(resident_in_scope.pk)).status_code == 401


def test_it_never_answers_with_an_unmasked_citizen_id(personas, resident_in_scope, resident_out_of_scope):
    client = client_for(personas.doctor)
    unknown = identity.make_citizen_id("310105", resident_in_scope.birth_date, 995)
    reading = observation("mask-1", resident_in_scope)
    reading["subject"] = {"reference": f"Patient?identifier={systems.CITIZEN_ID_SYSTEM}|{unknown}"}
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": systems.CITIZEN_ID_SYSTEM, "value": resident_out_of_scope.citizen_id}],
    }
    response = post(client, bundle([reading, patient, observation("mask-2", resident_out_of_scope)]))
    assert [e["status"] for e in response.json()["entries"]] == ["error", "error", "error"]
    assert_nothing_unmasked(response.content)
    assert_nothing_unmasked(client.get(everything_url(resident_in_scope.pk)).content)
