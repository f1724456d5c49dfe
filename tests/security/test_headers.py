"""Security headers, the deploy checklist and error pages without internals (D4)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.test import Client, override_settings
from django.urls import path

from jiayi.urls import urlpatterns as site_urls
from tests.conftest import Personas

pytestmark = pytest.mark.django_db


def test_it_sends_security_headers_and_no_store_on_personal_data(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.doctor)
    response = client.get("/residents/")
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"


def test_it_passes_the_deploy_checklist_with_production_settings() -> None:
    # The test run's own switches (a database URL, async-unsafe mode for live servers) are not
    # production settings.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="jiayi.settings",
        JIAYI_DEBUG="0",
        JIAYI_SECRET_KEY=secrets.token_urlsafe(50),
        JIAYI_SECURE_COOKIES="1",
        JIAYI_HSTS_SECONDS="31536000",
        JIAYI_HSTS_SUBDOMAINS="1",
        JIAYI_HSTS_PRELOAD="1",
        JIAYI_SSL_REDIRECT="1",
        JIAYI_ALLOWED_HOSTS="jiayi.example.cn",
    )
    done = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def _explode(request: object) -> None:
    raise RuntimeError("secret internals: /srv/jiayi/settings.py password=hunter2")


urlpatterns = [path("explode/", _explode), *site_urls]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_it_shows_no_internals_on_a_server_error() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/explode/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Traceback" not in body
    assert "secret internals" not in body
    assert "hunter2" not in body
