"""No personal data or secrets in application logs over a representative flow (C5)."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import path

from jiayi.registry.models import Resident
from jiayi.urls import urlpatterns as site_urls
from tests.conftest import Personas
from tests.security.conftest import LogCapture


def _explode(request: object) -> None:
    resident = Resident.objects.exclude(citizen_id__isnull=True).order_by("id").first()
    assert resident is not None
    # An unhandled error: Django logs it with its traceback, which the check reads too.
    raise RuntimeError(f"failed for resident #{resident.pk}")


urlpatterns = [path("explode/", _explode), *site_urls]


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_it_keeps_ids_phones_passwords_and_sessions_out_of_the_logs(
    personas: Personas,
    resident_in_scope: Resident,
    resident_out_of_scope: Resident,
    captured_logs: LogCapture,
) -> None:
    client = Client(raise_request_exception=False)
    client.post("/login/", {"username": "doctor", "password": "not-the-password-42"})
    client.post("/login/", {"username": "doctor", "password": personas.password})
    captured_logs.secrets |= {
        personas.password,
        "not-the-password-42",
        client.cookies[settings.SESSION_COOKIE_NAME].value,
    }
    client.get("/residents/", {"q": resident_in_scope.citizen_id})
    client.get(f"/residents/{resident_in_scope.pk}/")
    client.get(f"/residents/{resident_out_of_scope.pk}/")
    client.get(f"/api/registry/residents/{resident_in_scope.pk}")
    client.get(f"/api/registry/residents/{resident_out_of_scope.pk}")
    client.post(
        "/api/registry/residents/search", {"citizen_id": "not-an-id"}, content_type="application/json"
    )
    client.get("/no-such-page/")
    assert client.get("/explode/").status_code == 500
    client.post("/logout/")

    # The flow did log (404s, the 500), so the check below is not vacuous.
    assert any(r.levelno >= logging.WARNING for r in captured_logs.handler.records)
    assert captured_logs.problems() == []


def test_it_flags_what_it_is_meant_to_catch(captured_logs: LogCapture) -> None:
    logging.getLogger("jiayi.test").warning("resident 110101199003077777 phone 13812345678 password=hunter22")
    assert len(captured_logs.problems()) == 3
