"""Login throttling, session handling and logout (D2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from jiayi.audit.models import Action, AuditEntry, Outcome
from tests.conftest import Personas

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def _attempt(client: Client, username: str, password: str) -> bool:
    client.post(LOGIN, {"username": username, "password": password})
    return "_auth_user_id" in client.session


def test_it_audits_every_failed_login(personas: Personas) -> None:
    client = Client()
    assert not _attempt(client, "doctor", "wrong-password-1")
    entry = AuditEntry.objects.filter(action=Action.LOGIN_FAILED).latest("id")
    assert (entry.resource_id, entry.outcome, entry.ip) == ("doctor", Outcome.INVALID, "127.0.0.1")
    assert "wrong-password" not in str(entry.chained_fields())


def test_it_locks_a_username_after_five_failures(personas: Personas) -> None:
    client = Client()
    for _ in range(5):
        assert not _attempt(client, "doctor", "wrong-password")
    lock = AuditEntry.objects.filter(action=Action.LOCKOUT).latest("id")
    assert lock.resource_id == "doctor"
    # The right password no longer works, and the page says nothing different from a wrong one.
    response = client.post(LOGIN, {"username": "doctor", "password": personas.password})
    assert "_auth_user_id" not in client.session
    assert response.status_code == 200
    denied = AuditEntry.objects.filter(action=Action.LOGIN_FAILED).latest("id")
    assert (denied.outcome, denied.detail) == (Outcome.DENIED, {"reason": "locked"})
    # Other users are unaffected.
    assert _attempt(Client(), "nurse", personas.password)


def test_it_unlocks_after_the_lockout_window(personas: Personas, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    for _ in range(5):
        _attempt(client, "doctor", "wrong-password")
    from jiayi.audit import services

    later = timezone.now() + timedelta(minutes=16)
    monkeypatch.setattr(services, "_now", lambda: later)
    assert _attempt(client, "doctor", personas.password)


def test_it_locks_an_address_that_tries_many_usernames(personas: Personas) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(20):
        _attempt(client, f"guess{n}", "wrong-password")
    assert AuditEntry.objects.filter(action=Action.LOCKOUT, resource_id="203.0.113.9").exists()
    assert not _attempt(client, "doctor", personas.password)
    assert _attempt(Client(REMOTE_ADDR="203.0.113.10"), "doctor", personas.password)


def test_it_issues_a_new_session_id_at_login(personas: Personas) -> None:
    client = Client()
    client.get(LOGIN)
    session = client.session
    session["before_login"] = True
    session.save()
    before = session.session_key
    assert _attempt(client, "doctor", personas.password)
    assert client.session.session_key != before
    assert AuditEntry.objects.filter(action=Action.LOGIN, resource_id="doctor").exists()


def test_it_ends_idle_sessions(personas: Personas) -> None:
    assert settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_COOKIE_AGE <= 30 * 60
    client = Client()
    client.force_login(personas.doctor)
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(seconds=5))
    client.get("/")
    # Activity renews the idle timeout...
    renewed = Session.objects.get(session_key=key).expire_date
    assert renewed > timezone.now() + timedelta(minutes=20)
    # ...and an expired session is a login redirect.
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/residents/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_kills_the_session_on_the_server_at_logout(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.doctor)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post("/logout/")
    assert not Session.objects.filter(session_key=cookie).exists()
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = cookie
    response = replay.get("/residents/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
