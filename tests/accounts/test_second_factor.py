"""TOTP second factor (D1): set-up with a QR code, the login's second step, refusal of a reused code,
recovery codes, and the setting that requires it for given roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from jiayi.accounts import services
from jiayi.accounts.models import RecoveryCode, TotpDevice
from jiayi.audit.models import Action, AuditEntry, Outcome
from tests.conftest import Personas

pytestmark = pytest.mark.django_db

MIDDLEWARE = "jiayi.accounts.middleware.SecondFactorMiddleware"


@pytest.fixture(autouse=True)
def second_factor_middleware(settings: Any) -> None:
    """The middleware after authentication, as settings.MIDDLEWARE lists it in deployments."""
    if MIDDLEWARE not in django_settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        middleware.insert(
            middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, MIDDLEWARE
        )
        settings.MIDDLEWARE = middleware


def _login(personas: Personas, name: str) -> Client:
    client = Client()
    user = getattr(personas, name)
    assert (
        client.post("/login/", {"username": user.username, "password": personas.password}).status_code == 302
    )
    return client


def _enrol(client: Client) -> tuple[str, list[str]]:
    page = client.get("/accounts/2fa/")
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    secret = page.context["secret"]
    response = client.post("/accounts/2fa/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    return secret, list(response.context["codes"])


def test_without_a_device_or_a_requirement_login_stays_one_step(personas: Personas) -> None:
    client = _login(personas, "doctor")
    assert client.get("/residents/").status_code == 200


def test_set_up_then_every_login_asks_for_a_code(personas: Personas) -> None:
    client = _login(personas, "doctor")
    secret, codes = _enrol(client)
    assert len(codes) == services.RECOVERY_CODES
    assert RecoveryCode.objects.filter(user=personas.doctor).count() == services.RECOVERY_CODES
    assert not RecoveryCode.objects.filter(code_hash__in=codes).exists()  # only hashes are stored

    again = _login(personas, "doctor")
    held = again.get("/residents/")
    assert held.status_code == 302
    assert held["Location"].startswith("/accounts/2fa/verify/?next=")
    assert again.get("/api/registry/residents").status_code == 401

    wrong = again.post("/accounts/2fa/verify/", {"code": "000000", "next": "/residents/"})
    assert wrong.status_code == 400
    # The next step's code: the set-up already used the current one.
    code = pyotp.TOTP(secret).at(timezone.now() + timedelta(seconds=30))
    passed = again.post("/accounts/2fa/verify/", {"code": code, "next": "/residents/"})
    assert passed.status_code == 302
    assert passed["Location"] == "/residents/"
    assert again.get("/residents/").status_code == 200
    assert AuditEntry.objects.filter(
        action=Action.LOGIN_FAILED, resource_type="second_factor", outcome=Outcome.DENIED
    ).exists()


def test_a_code_is_accepted_once_only(personas: Personas) -> None:
    client = _login(personas, "nurse")
    secret, _codes = _enrol(client)
    device = TotpDevice.objects.get(user=personas.nurse)
    later = timezone.now() + timedelta(seconds=60)
    code = pyotp.TOTP(secret).at(later)
    first = Client()
    first.force_login(personas.nurse)
    request = first.get("/accounts/2fa/verify/").wsgi_request
    assert services.verify(request, personas.nurse, code, now=later) == "totp"
    with pytest.raises(services.SecondFactorError, match="already been used"):
        services.verify(request, personas.nurse, code, now=later)
    device.refresh_from_db()
    assert device.last_step == int(later.timestamp()) // services.STEP_SECONDS


def test_a_recovery_code_works_once(personas: Personas) -> None:
    client = _login(personas, "manager")
    _secret, codes = _enrol(client)
    again = _login(personas, "manager")
    assert again.post("/accounts/2fa/verify/", {"code": codes[0], "next": "/"}).status_code == 302
    third = _login(personas, "manager")
    assert third.post("/accounts/2fa/verify/", {"code": codes[0], "next": "/"}).status_code == 400
    assert third.post("/accounts/2fa/verify/", {"code": codes[1].upper(), "next": "/"}).status_code == 302


def test_a_required_role_must_set_it_up_before_anything_else(personas: Personas, settings: Any) -> None:
    settings.JIAYI_2FA_REQUIRED_ROLES = ["administrator"]
    client = _login(personas, "admin")
    held = client.get("/places/")
    assert held.status_code == 302
    assert held["Location"].startswith("/accounts/2fa/?next=")
    _enrol(client)
    assert client.get("/places/").status_code == 200
    # Other roles are not affected.
    assert _login(personas, "doctor").get("/residents/").status_code == 200


def test_the_next_parameter_cannot_send_the_user_off_site(personas: Personas) -> None:
    client = _login(personas, "doctor")
    secret, _codes = _enrol(client)
    again = _login(personas, "doctor")
    code = pyotp.TOTP(secret).at(timezone.now() + timedelta(seconds=30))
    response = again.post("/accounts/2fa/verify/", {"code": code, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_residents_have_no_second_factor_pages(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.resident)
    assert client.get("/accounts/2fa/").status_code == 404
    assert client.get("/accounts/2fa/verify/").status_code == 404
