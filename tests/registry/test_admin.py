"""Django's admin: administrators only, residents through the services, tokens and audit read-only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from jiayi import access
from jiayi.audit.models import Action, AuditEntry
from jiayi.audit.services import record
from jiayi.registry import tokens
from jiayi.registry.models import ApiToken, Place, Resident, Team

from .helpers import BIRTH, assert_nothing_unmasked, audit_entries, unused_citizen_id

pytestmark = pytest.mark.django_db
RESIDENTS = "/admin/registry/resident/"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_(personas: Any) -> Client:
    return client_for(personas.admin)


@pytest.fixture
def committee(personas: Any) -> Place:
    place = access.committees_assignable_by(personas.doctor).order_by("code").first()
    assert place is not None
    return place


def form_errors(content: bytes) -> list[str]:
    return re.findall(r'<ul class="errorlist[^"]*"[^>]*>\s*<li>(.*?)</li>', content.decode(), re.S)


def resident_form(committee: Place, **overrides: str) -> dict[str, str]:
    data = {
        "name": "王秀英",
        "sex": "female",
        "birth_date": BIRTH.isoformat(),
        "citizen_id": unused_citizen_id(),
        "phone": "13812345678",
        "alt_id_type": "",
        "alt_id_number": "",
        "health_record_number": "",
        "committee": str(committee.pk),
        "residential_point": "",
        "household": "",
        "relationship": "",
        "is_resident": "on",
        "date_of_death": "",
    }
    data.update(overrides)
    return data


# Who gets in -------------------------------------------------------------------------------------------


def test_it_opens_the_admin_to_administrators(admin_client_: Client) -> None:
    assert admin_client_.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    "persona", ["doctor", "nurse", "manager", "other_doctor", "desk", "cdc", "analyst", "resident"]
)
def test_it_keeps_everyone_else_out_even_with_is_staff(personas: Any, persona: str) -> None:
    user: User = getattr(personas, persona)
    user.is_staff = True
    user.save()

    response = client_for(user).get("/admin/registry/place/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_keeps_anonymous_visitors_out(client: Client) -> None:
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    "model",
    [
        "place",
        "residentialpoint",
        "institution",
        "medicalconsortium",
        "staff",
        "team",
        "household",
        "account",
    ],
)
def test_it_lists_the_master_data(admin_client_: Client, model: str) -> None:
    assert admin_client_.get(f"/admin/registry/{model}/").status_code == 200


def test_it_edits_a_team_with_its_memberships_inline(admin_client_: Client) -> None:
    team = Team.objects.first()
    assert team is not None

    response = admin_client_.get(f"/admin/registry/team/{team.pk}/change/")

    assert response.status_code == 200
    assert b"teammembership_set-TOTAL_FORMS" in response.content


# Residents ---------------------------------------------------------------------------------------------


def test_it_lists_residents_masked_and_audits_the_list(personas: Any, admin_client_: Client) -> None:
    response = admin_client_.get(RESIDENTS)

    assert response.status_code == 200
    assert_nothing_unmasked(response.content)
    first = Resident.objects.exclude(citizen_id=None).order_by("id").first()
    assert first is not None
    assert first.masked_citizen_id.encode() in response.content
    entry = audit_entries(action=Action.SEARCH).get()
    assert (entry.actor, entry.purpose) == (personas.admin, "admin")
    assert entry.detail["count"] == Resident.objects.count()


def test_it_never_renders_a_stored_citizen_id_or_phone_in_the_form(
    admin_client_: Client, resident_in_scope: Resident
) -> None:
    response = admin_client_.get(f"{RESIDENTS}{resident_in_scope.pk}/change/")

    assert response.status_code == 200
    assert_nothing_unmasked(response.content)
    assert resident_in_scope.masked_citizen_id.encode() in response.content
    assert audit_entries(action=Action.READ).get().resident_id == resident_in_scope.pk


def test_it_refuses_an_invalid_citizen_id_with_a_clear_message(
    admin_client_: Client, committee: Place
) -> None:
    before = Resident.objects.count()

    response = admin_client_.post(
        f"{RESIDENTS}add/", resident_form(committee, citizen_id="110105194912310021")
    )

    assert response.status_code == 200
    assert form_errors(response.content) == ["citizen ID check character is 1, expected X"]
    assert Resident.objects.count() == before


def test_it_shows_every_service_error_on_its_field(admin_client_: Client, committee: Place) -> None:
    response = admin_client_.post(
        f"{RESIDENTS}add/", resident_form(committee, sex="male", phone="12345", date_of_death="1949-01-01")
    )

    assert form_errors(response.content) == [
        "sex male does not match the citizen ID (female)",
        "phone must be an 11-digit mainland mobile number starting with 13–19",
        "date of death is before the birth date",
    ]


def test_it_creates_a_resident_through_the_services(
    personas: Any, admin_client_: Client, committee: Place
) -> None:
    data = resident_form(committee)

    response = admin_client_.post(f"{RESIDENTS}add/", data)

    assert response.status_code == 302
    resident = Resident.objects.get(citizen_id=data["citizen_id"])
    assert resident.phone == "13812345678"
    assert audit_entries(action=Action.CREATE, resident_id=resident.pk).get().actor == personas.admin


def test_it_keeps_the_stored_citizen_id_and_phone_when_left_blank(
    admin_client_: Client, resident_in_scope: Resident
) -> None:
    assert resident_in_scope.committee is not None
    data = resident_form(
        resident_in_scope.committee,
        name="新名字",
        sex=resident_in_scope.sex,
        birth_date=resident_in_scope.birth_date.isoformat(),
        citizen_id="",
        phone="",
        health_record_number=resident_in_scope.health_record_number or "",
        household=str(resident_in_scope.household_id or ""),
        residential_point=str(resident_in_scope.residential_point_id or ""),
        relationship=resident_in_scope.relationship,
        is_resident="on" if resident_in_scope.is_resident else "",
        is_registered="on" if resident_in_scope.is_registered else "",
    )

    response = admin_client_.post(f"{RESIDENTS}{resident_in_scope.pk}/change/", data)

    assert response.status_code == 302, form_errors(response.content)
    stored = Resident.objects.get(pk=resident_in_scope.pk)
    assert (stored.name, stored.citizen_id, stored.phone) == (
        "新名字",
        resident_in_scope.citizen_id,
        resident_in_scope.phone,
    )
    assert audit_entries(action=Action.UPDATE).get().detail == {"fields": ["name"]}


def test_it_refuses_a_duplicate_citizen_id_in_the_form(
    admin_client_: Client, committee: Place, resident_in_scope: Resident
) -> None:
    assert resident_in_scope.citizen_id is not None
    data = resident_form(
        committee,
        citizen_id=resident_in_scope.citizen_id,
        sex=resident_in_scope.sex,
        birth_date=resident_in_scope.birth_date.isoformat(),
    )
    before = Resident.objects.count()

    response = admin_client_.post(f"{RESIDENTS}add/", data)

    assert form_errors(response.content) == [f"resident #{resident_in_scope.pk} already has this citizen ID"]
    assert Resident.objects.count() == before


def test_it_offers_no_way_to_delete_a_resident(admin_client_: Client, resident_in_scope: Resident) -> None:
    response = admin_client_.post(f"{RESIDENTS}{resident_in_scope.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Resident.objects.filter(pk=resident_in_scope.pk).exists()


# Tokens and the audit log ------------------------------------------------------------------------------


def test_it_shows_tokens_without_a_way_to_add_or_read_secrets(personas: Any, admin_client_: Client) -> None:
    token, text = tokens.issue_token(personas.doctor, scopes="read", days=30)

    assert admin_client_.get("/admin/registry/apitoken/add/").status_code == 403
    page = admin_client_.get(f"/admin/registry/apitoken/{token.pk}/change/")
    assert page.status_code == 200
    assert b'name="secret_hash"' not in page.content
    assert b'name="scopes"' not in page.content
    assert text.split(".")[1].encode() not in page.content


def test_it_revokes_tokens_with_an_admin_action(personas: Any, admin_client_: Client) -> None:
    token, _ = tokens.issue_token(personas.doctor, scopes="read", days=30)

    response = admin_client_.post(
        "/admin/registry/apitoken/", {"action": "revoke", "_selected_action": [str(token.pk)]}
    )

    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert audit_entries(resource_type="api_token", action=Action.DELETE).get().actor == personas.admin


@pytest.fixture
def superuser(personas: Any) -> User:
    return User.objects.create_superuser("root", password="correct horse battery staple")


def test_it_shows_the_audit_log_read_only_even_to_superusers(superuser: User, personas: Any) -> None:
    entry = record(actor=personas.doctor, action=Action.READ, resource_type="resident", resource_id="1")
    client = client_for(superuser)

    assert client.get("/admin/audit/auditentry/").status_code == 200
    assert client.get(f"/admin/audit/auditentry/{entry.pk}/change/").status_code == 200
    assert client.get("/admin/audit/auditentry/add/").status_code == 403
    assert client.post(f"/admin/audit/auditentry/{entry.pk}/change/", {"actor_name": "x"}).status_code == 403
    assert client.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).actor_name == "doctor"


def test_it_keeps_the_audit_log_from_administrators_without_the_audit_permission(
    admin_client_: Client,
) -> None:
    assert admin_client_.get("/admin/audit/auditentry/").status_code == 403
