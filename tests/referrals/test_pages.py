"""Referral pages: the doctor's form with its slot picker, the desk, the centre's page, the worklist."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jiayi.care.worklist import worklist_sources
from jiayi.referrals import services
from jiayi.referrals.choices import Destination, Pool, ReferralStatus
from jiayi.referrals.models import Department, Referral
from jiayi.referrals.worklist import referral_items
from jiayi.registry.models import Resident, Staff
from tests.conftest import Personas

from .helpers import make_slots

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_offers_reserved_slots_first_in_the_doctors_picker(
    personas: Personas, department: Department
) -> None:
    reserved = make_slots(department, 1)[0]
    public = make_slots(department, 1, pool=Pool.PUBLIC, first=reserved.end)[0]
    page = _client(personas.doctor).get(f"/referrals/slots/?department={department.pk}")
    text = page.content.decode()
    assert f'value="{reserved.pk}"' in text
    assert f'value="{public.pk}"' in text
    nurse_page = _client(personas.nurse).get(f"/referrals/slots/?department={department.pk}").content.decode()
    assert f'value="{reserved.pk}"' not in nurse_page
    assert f'value="{public.pk}"' in nurse_page


def test_it_sends_a_referral_with_a_reserved_slot_from_the_form(
    personas: Personas, department: Department, signed_resident: Resident
) -> None:
    slot = make_slots(department, 1)[0]
    client = _client(personas.doctor)
    assert client.get(f"/referrals/new/{signed_resident.pk}/").status_code == 200
    response = client.post(
        f"/referrals/new/{signed_resident.pk}/",
        {
            "department": department.pk,
            "urgency": "urgent",
            "request_kind": "visit",
            "reason": "胸痛",
            "slot": slot.pk,
            "send": "1",
        },
    )
    referral = Referral.objects.get(resident=signed_resident)
    assert response.status_code == 302
    assert response["Location"] == f"/referrals/{referral.pk}/"
    assert referral.status == ReferralStatus.SENT
    assert referral.appointment is not None
    assert referral.appointment.slot_id == slot.pk


def test_it_shows_a_taken_slot_as_no_longer_available(
    personas: Personas, department: Department, signed_resident: Resident
) -> None:
    slot = make_slots(department, 1, pool=Pool.PUBLIC)[0]
    services.do_book(None, slot.pk, signed_resident)
    response = _client(personas.doctor).post(
        f"/referrals/new/{signed_resident.pk}/",
        {
            "department": department.pk,
            "urgency": "routine",
            "request_kind": "visit",
            "reason": "复查",
            "slot": slot.pk,
            "send": "1",
        },
    )
    assert response.status_code == 422
    assert "no longer available" in response.content.decode() or "不再可用" in response.content.decode()


def test_it_refuses_the_form_for_a_resident_outside_the_panel(
    personas: Personas, resident_out_of_scope: Resident
) -> None:
    assert _client(personas.doctor).get(f"/referrals/new/{resident_out_of_scope.pk}/").status_code == 404


def _seen_referral(resident: Resident, doctor: Staff, department: Department) -> Referral:
    slot = make_slots(department, 1)[0]
    draft = services.UpReferralDraft(hospital=department.hospital, department=department, reason="复查")
    referral = services.do_create_up_referral(None, resident, doctor, draft)
    referral = services.do_accept(None, services.do_send(None, referral, slot_id=slot.pk))
    return services.do_record_visit(None, referral)


def test_it_shows_the_desk_its_incoming_referrals_and_reserved_use(
    personas: Personas, department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    referral = _seen_referral(signed_resident, doctor_staff, department)
    page = _client(personas.desk).get("/referrals/desk/")
    text = page.content.decode()
    assert page.status_code == 200
    assert f"/referrals/{referral.pk}/" in text
    assert doctor_staff.institution.centre.name in text
    assert signed_resident.name not in text  # masked
    assert _client(personas.doctor).get("/referrals/desk/").status_code == 404
    assert _client(personas.desk).get("/referrals/").status_code == 302


def test_it_lists_both_directions_for_the_centre_and_feeds_the_worklist(
    personas: Personas, department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    referral = _seen_referral(signed_resident, doctor_staff, department)
    down = services.do_refer_down(
        None, referral, services.DownReferralDraft(destination=Destination.FAMILY_BED, reason="出院")
    )
    page = _client(personas.doctor).get("/referrals/").content.decode()
    assert f"/referrals/{referral.pk}/" in page
    assert f"/referrals/{down.pk}/" in page
    assert referral_items in worklist_sources()
    today = timezone.localdate()
    items = list(referral_items(doctor_staff, today))
    assert [(i.kind, i.resident_id, i.url) for i in items] == [
        ("referral_down_awaiting", signed_resident.pk, f"/referrals/{down.pk}/")
    ]
    services.do_accept_down(None, down, today + timedelta(days=2))
    assert [(i.kind, i.due_on) for i in referral_items(doctor_staff, today)] == [
        ("referral_down_care", today + timedelta(days=2))
    ]
    other = personas.other_doctor.account.staff
    assert other is not None
    assert list(referral_items(other, today)) == []


def test_it_lets_the_desk_accept_and_record_a_visit_from_the_page(
    personas: Personas, department: Department, signed_resident: Resident, doctor_staff: Staff
) -> None:
    slot = make_slots(department, 1)[0]
    draft = services.UpReferralDraft(hospital=department.hospital, department=department, reason="复查")
    referral = services.do_send(
        None, services.do_create_up_referral(None, signed_resident, doctor_staff, draft), slot_id=slot.pk
    )
    desk = _client(personas.desk)
    assert desk.post(f"/referrals/{referral.pk}/accept/").status_code == 302
    assert desk.post(f"/referrals/{referral.pk}/visit/").status_code == 302
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.SEEN
    assert referral.encounter is not None
    assert _client(personas.doctor).post(f"/referrals/{referral.pk}/visit/").status_code == 404
