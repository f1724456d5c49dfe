"""A resident sees who accessed their record; the centre manager reviews it; nobody else (C6)."""

from __future__ import annotations

import pytest
from django.test import Client

from jiayi.registry.models import Resident
from tests.conftest import Personas

pytestmark = pytest.mark.django_db


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_it_shows_the_resident_who_read_their_record(personas: Personas) -> None:
    own_id = personas.resident.account.resident_id
    manager = _client(personas.manager)
    assert manager.get(f"/residents/{own_id}/").status_code == 200
    response = _client(personas.resident).get("/audit/me/access-log/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Centre manager" in body or "中心管理者" in body
    assert response["Cache-Control"] == "no-store"


def test_it_lists_only_the_residents_own_record(personas: Personas, resident_in_scope: Resident) -> None:
    doctor = _client(personas.doctor)
    assert doctor.get(f"/residents/{resident_in_scope.pk}/").status_code == 200
    response = _client(personas.resident).get("/audit/me/access-log/")
    assert resident_in_scope.name not in response.content.decode()
    page = response.context["page"]
    assert {e.resident_id for e in page.object_list} <= {personas.resident.account.resident_id}


def test_it_lets_the_centre_manager_review_a_residents_log(
    personas: Personas, resident_in_scope: Resident
) -> None:
    _client(personas.doctor).get(f"/residents/{resident_in_scope.pk}/")
    response = _client(personas.manager).get(f"/audit/residents/{resident_in_scope.pk}/access-log/")
    assert response.status_code == 200
    assert response.context["rows"][0].role
    assert all(e.resident_id == resident_in_scope.pk for e in response.context["page"].object_list)


@pytest.mark.parametrize("persona", ["doctor", "nurse", "desk", "cdc", "analyst", "admin", "resident"])
def test_it_hides_a_residents_log_from_everyone_else(
    persona: str, personas: Personas, resident_in_scope: Resident
) -> None:
    response = _client(getattr(personas, persona)).get(f"/audit/residents/{resident_in_scope.pk}/access-log/")
    assert response.status_code == 404


def test_it_hides_another_centres_resident_from_the_manager(
    personas: Personas, resident_out_of_scope: Resident
) -> None:
    response = _client(personas.manager).get(f"/audit/residents/{resident_out_of_scope.pk}/access-log/")
    assert response.status_code == 404


def test_it_has_no_own_log_page_for_staff(personas: Personas) -> None:
    assert _client(personas.doctor).get("/audit/me/access-log/").status_code == 404
