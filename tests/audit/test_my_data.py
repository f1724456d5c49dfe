"""A resident downloads their own health account (PIPL art. 45); the download is audited and shows in
their access log; nobody else has the page."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from jiayi.audit.models import Action, AuditEntry
from tests.conftest import Personas

pytestmark = pytest.mark.django_db


def test_a_resident_downloads_their_own_record_and_the_download_is_audited(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.resident)
    response = client.get("/audit/me/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "no-store"
    bundle = json.loads(response.content)
    assert bundle["resourceType"] == "Bundle"
    patient = bundle["entry"][0]["resource"]
    assert patient["resourceType"] == "Patient"
    assert patient["id"] == str(personas.resident.account.resident_id)
    entry = AuditEntry.objects.filter(action=Action.EXPORT).order_by("-id").first()
    assert entry is not None
    assert entry.resident_id == personas.resident.account.resident_id
    assert entry.purpose == "own data download"
    log = client.get("/audit/me/access-log/").content.decode()
    assert "/audit/me/download/" in log


@pytest.mark.parametrize("persona", ["doctor", "manager", "admin", "analyst"])
def test_staff_have_no_such_page(persona: str, personas: Personas) -> None:
    client = Client()
    client.force_login(getattr(personas, persona))
    assert client.get("/audit/me/download/").status_code == 404
