"""The referrals API: who may see and book which slots, the referral lifecycle over HTTP, and FHIR."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from jiayi.audit.models import AuditEntry
from jiayi.referrals.choices import Pool, ReferralStatus
from jiayi.referrals.models import Department, Referral
from jiayi.registry.models import Resident, Staff
from tests.conftest import Personas

from .helpers import make_slots, unsigned_residents

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_it_hides_reserved_slots_from_the_public(personas: Personas, department: Department) -> None:
    reserved = make_slots(department, 2)
    public = make_slots(department, 2, pool=Pool.PUBLIC, first=reserved[-1].end)
    listed = _client(personas.resident).get(f"/api/referrals/slots?department_id={department.pk}").json()
    assert [s["id"] for s in listed] == [s.pk for s in public]
    assert {s["pool"] for s in listed} == {"public"}
    by_doctor = _client(personas.doctor).get(f"/api/referrals/slots?department_id={department.pk}").json()
    assert [s["id"] for s in by_doctor] == [s.pk for s in reserved + public]


def test_it_answers_404_when_the_public_books_a_reserved_slot(
    personas: Personas, department: Department
) -> None:
    slot = make_slots(department, 1)[0]
    resident_id = personas.resident.account.resident_id
    response = _post(
        _client(personas.resident), f"/api/referrals/slots/{slot.pk}/$book", {"resident_id": resident_id}
    )
    assert response.status_code == 404


def test_it_lets_a_resident_book_a_public_slot_for_themselves(
    personas: Personas, department: Department
) -> None:
    slot = make_slots(department, 1, pool=Pool.PUBLIC)[0]
    client = _client(personas.resident)
    resident_id = personas.resident.account.resident_id
    response = _post(client, f"/api/referrals/slots/{slot.pk}/$hold", {"resident_id": resident_id})
    assert response.status_code == 201, response.content
    held = response.json()
    assert held["status"] == "held"
    assert "*" in held["resident"]["name"]
    confirmed = _post(client, f"/api/referrals/appointments/{held['id']}/$book")
    assert confirmed.json()["status"] == "booked"
    again = _post(client, f"/api/referrals/slots/{slot.pk}/$book", {"resident_id": resident_id})
    assert again.status_code == 409
    assert again.json() == {
        "detail": [{"field": "slot_id", "message": "slot no longer available"}],
        "slot_id": slot.pk,
    }


def test_it_refuses_a_reserved_slot_for_a_resident_outside_the_doctors_panel(
    personas: Personas, department: Department, signed_resident: Resident
) -> None:
    slot = make_slots(department, 1)[0]
    in_scope_unsigned = unsigned_residents(
        list(Resident.objects.filter(committee=signed_resident.committee))
    )[0]
    response = _post(
        _client(personas.doctor),
        f"/api/referrals/slots/{slot.pk}/$book",
        {"resident_id": in_scope_unsigned.pk},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"field": "resident_id", "message": "the resident is not signed with this family doctor"}
    ]
    ok = _post(
        _client(personas.doctor), f"/api/referrals/slots/{slot.pk}/$book", {"resident_id": signed_resident.pk}
    )
    assert ok.status_code == 201
    assert ok.json()["pool"] == "reserved"


def test_it_refuses_a_resident_the_doctor_does_not_serve(
    personas: Personas, department: Department, resident_out_of_scope: Resident
) -> None:
    slot = make_slots(department, 1, pool=Pool.PUBLIC)[0]
    response = _post(
        _client(personas.doctor),
        f"/api/referrals/slots/{slot.pk}/$book",
        {"resident_id": resident_out_of_scope.pk},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "resident_id"


def test_it_runs_a_referral_from_draft_to_return_over_http(
    personas: Personas, department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    slot = make_slots(department, 1)[0]
    doctor, desk = _client(personas.doctor), _client(personas.desk)
    created = _post(
        doctor,
        "/api/referrals/referrals",
        {
            "resident_id": signed_resident.pk,
            "hospital_id": department.hospital_id,
            "department_id": department.pk,
            "reason": "胸闷一周",
            "urgency": "urgent",
            "attachments": [{"title": "心电图", "reference": "Observation/1"}],
        },
    )
    assert created.status_code == 201, created.content
    referral_id = created.json()["id"]
    assert _client(personas.desk).get(f"/api/referrals/referrals/{referral_id}").status_code == 404  # a draft
    sent = _post(doctor, f"/api/referrals/referrals/{referral_id}/send", {"slot_id": slot.pk})
    assert sent.json()["status"] == "sent"
    assert sent.json()["appointment"]["pool"] == "reserved"
    assert _post(doctor, f"/api/referrals/referrals/{referral_id}/accept").status_code == 404
    assert _post(desk, f"/api/referrals/referrals/{referral_id}/accept").json()["status"] == "booked"
    assert _post(desk, f"/api/referrals/referrals/{referral_id}/visit").json()["status"] == "seen"
    returned = _post(
        desk,
        f"/api/referrals/referrals/{referral_id}/return",
        {"destination": "community_bed", "reason": "病情稳定", "needs": ["康复训练"]},
    )
    assert returned.status_code == 201
    down_id = returned.json()["id"]
    missing_date = _post(doctor, f"/api/referrals/referrals/{down_id}/accept")
    assert missing_date.status_code == 422
    accepted = _post(doctor, f"/api/referrals/referrals/{down_id}/accept", {"scheduled_on": "2099-01-02"})
    assert accepted.json()["status"] == "accepted"
    detail = doctor.get(f"/api/referrals/referrals/{referral_id}").json()
    assert [e["to_status"] for e in detail["events"]] == [
        "draft",
        "sent",
        "accepted",
        "booked",
        "seen",
        "returned",
    ]
    assert Referral.objects.get(pk=referral_id).status == ReferralStatus.RETURNED
    bundle = doctor.get(f"/api/referrals/referrals/{referral_id}/fhir").json()
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds == ["ServiceRequest", "Appointment", "Slot", "Schedule"]
    assert bundle["entry"][0]["resource"]["priority"] == "urgent"
    assert AuditEntry.objects.filter(resource_type="referral", resource_id=str(referral_id)).count() >= 6


def test_it_keeps_referrals_of_another_centre_out_of_reach(
    personas: Personas, department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    created = _post(
        _client(personas.doctor),
        "/api/referrals/referrals",
        {"resident_id": signed_resident.pk, "hospital_id": department.hospital_id, "reason": "复查"},
    ).json()
    other = _client(personas.other_doctor)
    assert other.get(f"/api/referrals/referrals/{created['id']}").status_code == 404
    assert other.get("/api/referrals/referrals").json()["count"] == 0
    assert _post(other, f"/api/referrals/referrals/{created['id']}/send").status_code == 404


def test_it_lets_only_a_desk_record_visits(personas: Personas) -> None:
    assert _post(_client(personas.doctor), "/api/referrals/referrals/1/visit").status_code == 403
    assert _post(_client(personas.resident), "/api/referrals/appointments/1/no-show").status_code == 403
