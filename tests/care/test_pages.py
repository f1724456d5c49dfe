"""Health-management pages: the worklist and its inline actions, the follow-up form, the care record,
scope (404 outside it) and masking."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client

from jiayi.audit.models import AuditEntry
from jiayi.care.models import Assessment, Contact, FollowUp
from jiayi.signing.models import ReminderMessage, Signing
from tests.signing.helpers import client_for

from .helpers import enrol, scheduled

pytestmark = pytest.mark.django_db
HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
UNMASKED = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])|(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def overdue(signed: list[Signing], today: date) -> FollowUp:
    return scheduled(enrol(signed[0].resident, "I10", on=today - timedelta(days=30)))


def test_the_worklist_lists_the_overdue_follow_up_masked(personas: Any, overdue: FollowUp) -> None:
    response = client_for(personas.doctor).get("/care/worklist/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f"/care/follow-ups/{overdue.pk}/" in html
    assert overdue.resident.name not in html
    assert not UNMASKED.search(html)
    assert AuditEntry.objects.filter(resource_type="care_worklist").exists()


@pytest.mark.parametrize("persona", ["cdc", "analyst", "desk", "admin", "manager", "resident"])
def test_other_roles_have_no_worklist(personas: Any, persona: str) -> None:
    assert client_for(getattr(personas, persona)).get("/care/worklist/").status_code == 404


def test_the_menu_leads_staff_to_the_worklist_and_residents_to_their_reports(personas: Any) -> None:
    assert client_for(personas.doctor).get("/care/")["Location"] == "/care/worklist/"
    assert client_for(personas.resident).get("/care/")["Location"] == "/care/me/"
    assert client_for(personas.cdc).get("/care/").status_code == 404


def test_recording_a_follow_up_inline_shows_the_next_visit(
    personas: Any, overdue: FollowUp, today: date
) -> None:
    client = client_for(personas.doctor)
    form = client.get(f"/care/follow-ups/{overdue.pk}/", **HTMX)
    assert 'name="sbp"' in form.content.decode()

    response = client.post(
        f"/care/follow-ups/{overdue.pk}/",
        {
            "performed_on": today.isoformat(),
            "channel": "clinic",
            "sbp": "162",
            "dbp": "96",
            "medication_adherence": "intermittent",
        },
        **HTMX,
    )

    assert response.status_code == 200
    assert (today + timedelta(days=14)).isoformat() in response.content.decode()
    overdue.refresh_from_db()
    assert overdue.status == "done"
    assert overdue.classification == "first_uncontrolled"
    listed = client.get("/care/worklist/").content.decode()
    assert f"/care/follow-ups/{overdue.pk}/" not in listed


def test_a_refused_follow_up_shows_the_error_on_the_field(
    personas: Any, overdue: FollowUp, today: date
) -> None:
    response = client_for(personas.doctor).post(
        f"/care/follow-ups/{overdue.pk}/",
        {
            "performed_on": today.isoformat(),
            "channel": "clinic",
            "sbp": "150",
            "medication_adherence": "regular",
        },
        **HTMX,
    )

    assert "a hypertension follow-up needs the blood pressure" in response.content.decode()
    overdue.refresh_from_db()
    assert overdue.status == "scheduled"


def test_reschedule_and_contact_actions(personas: Any, overdue: FollowUp, today: date) -> None:
    client = client_for(personas.doctor)
    new_date = today + timedelta(days=3)

    moved = client.post(
        f"/care/follow-ups/{overdue.pk}/reschedule/", {"scheduled_on": new_date.isoformat()}, **HTMX
    )
    contacted = client.post(
        f"/care/residents/{overdue.resident_id}/contact/",
        {"channel": "phone", "outcome": "unreachable"},
        **HTMX,
    )

    assert moved.status_code == contacted.status_code == 200
    overdue.refresh_from_db()
    assert overdue.scheduled_on == new_date
    assert Contact.objects.get(resident=overdue.resident).outcome == "unreachable"


def test_reminders_are_queued_once_per_visit(personas: Any, overdue: FollowUp) -> None:
    client = client_for(personas.doctor)
    client.post("/care/worklist/outbox/", **HTMX)
    client.post("/care/worklist/outbox/", **HTMX)

    message = ReminderMessage.objects.get(kind="follow_up", resident=overdue.resident)
    assert message.period_ends_on == overdue.scheduled_on
    assert "高血压随访" in message.body


def test_the_care_record_prefills_and_saves_an_assessment(
    personas: Any, signed: list[Signing], today: date
) -> None:
    resident = signed[0].resident
    client = client_for(personas.doctor)
    page = client.get(f"/care/residents/{resident.pk}/")
    assert page.status_code == 200
    assert not UNMASKED.search(page.content.decode())

    response = client.post(
        f"/care/residents/{resident.pk}/assessment/",
        {
            "performed_on": today.isoformat(),
            "smoking": "never",
            "cigarettes_per_day": "0",
            "drinking": "never",
            "exercise": "daily",
            "diet": "balanced",
            "salt_intake": "light",
            "self_care_ability": "independent",
            "sbp": "118",
            "dbp": "76",
        },
    )

    assert response.status_code == 302
    assert Assessment.objects.get(resident=resident, year=today.year).classification == "healthy"


def test_an_assessment_out_of_range_is_shown_on_its_field(
    personas: Any, signed: list[Signing], today: date
) -> None:
    resident = signed[0].resident
    response = client_for(personas.doctor).post(
        f"/care/residents/{resident.pk}/assessment/",
        {
            "performed_on": today.isoformat(),
            "smoking": "never",
            "cigarettes_per_day": "0",
            "drinking": "never",
            "exercise": "daily",
            "diet": "balanced",
            "salt_intake": "light",
            "self_care_ability": "independent",
            "hdl_mmol": "12",
        },
    )

    assert response.status_code == 422
    assert "hdl_mmol must be between" in response.content.decode()
    assert not Assessment.objects.filter(resident=resident).exists()


def test_another_centres_doctor_gets_404_everywhere(personas: Any, overdue: FollowUp) -> None:
    client: Client = client_for(personas.other_doctor)
    resident_id = overdue.resident_id

    assert client.get(f"/care/residents/{resident_id}/").status_code == 404
    assert client.get(f"/care/follow-ups/{overdue.pk}/").status_code == 404
    assert client.post(f"/care/residents/{resident_id}/contact/", {"outcome": "reached"}).status_code == 404
    assert (
        client.post(f"/care/follow-ups/{overdue.pk}/reschedule/", {"scheduled_on": "2030-01-01"}).status_code
        == 404
    )
    assert AuditEntry.objects.filter(resource_type="care_resident", outcome="denied").exists()


def test_a_centre_manager_reads_but_does_not_record(personas: Any, overdue: FollowUp) -> None:
    client = client_for(personas.manager)

    assert client.get(f"/care/residents/{overdue.resident_id}/").status_code == 200
    assert client.get(f"/care/follow-ups/{overdue.pk}/").status_code == 404


def test_unreachable_from_the_worklist_moves_the_follow_up_to_the_next_attempt(
    personas: Any, overdue: FollowUp, today: date
) -> None:
    client = client_for(personas.doctor)

    response = client.post(
        f"/care/residents/{overdue.resident_id}/contact/",
        {"channel": "phone", "outcome": "unreachable"},
        **HTMX,
    )

    next_attempt = today + timedelta(days=3)
    assert next_attempt.isoformat() in response.content.decode()
    overdue.refresh_from_db()
    assert overdue.scheduled_on == next_attempt
    html = client.get("/care/worklist/").content.decode()
    overdue_section = html[html.index('id="overdue"') : html.index('id="today"')]
    week_section = html[html.index('id="week"') :]
    assert f"/care/follow-ups/{overdue.pk}/" not in overdue_section
    assert f"/care/follow-ups/{overdue.pk}/" in week_section


def test_each_bucket_shows_its_count_and_pages_the_rest(
    personas: Any, signed: list[Signing], today: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jiayi.care import views

    for signing in signed:
        scheduled(enrol(signing.resident, "I10", on=today - timedelta(days=30)))
    monkeypatch.setattr(views, "LIST_LIMIT", 4)
    client = client_for(personas.doctor)

    html = client.get("/care/worklist/").content.decode()
    overdue_section = html[html.index('id="overdue"') : html.index('id="today"')]
    first = re.findall(r'href="/care/follow-ups/(\d+)/"|hx-get="/care/follow-ups/(\d+)/"', overdue_section)
    assert len({a or b for a, b in first}) == 4
    assert "bucket=overdue&amp;offset=4" in overdue_section

    rest = client.get("/care/worklist/?bucket=overdue&offset=4", **HTMX)
    assert rest.status_code == 200
    more = rest.content.decode()
    assert "<html" not in more
    shown = {a or b for a, b in first}
    following = {
        a or b
        for a, b in re.findall(r'hx-get="/care/follow-ups/(\d+)/"|href="/care/follow-ups/(\d+)/"', more)
    }
    assert following
    assert not following & shown
    assert "offset=" not in more  # nothing left after the second page
    assert AuditEntry.objects.filter(resource_type="care_worklist", detail__bucket="overdue").exists()


@pytest.mark.parametrize("query", ["bucket=someday", "bucket=overdue&offset=x"])
def test_a_bad_page_of_the_worklist_is_not_found(personas: Any, query: str) -> None:
    assert client_for(personas.doctor).get(f"/care/worklist/?{query}").status_code == 404
