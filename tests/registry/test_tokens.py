"""API authentication: bearer tokens, their scopes and lifetimes, the `token` command, and CSRF."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import Action
from jiayi.registry import tokens
from jiayi.registry.models import ApiToken, Place, Resident

from .helpers import as_json, audit_entries, new_resident

pytestmark = pytest.mark.django_db
URL = "/api/registry/residents"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def committee(personas: Any) -> Place:
    place = access.committees_assignable_by(personas.doctor).order_by("code").first()
    assert place is not None
    return place


@pytest.fixture
def read_token(personas: Any) -> str:
    return tokens.issue_token(personas.doctor, scopes="read", days=30)[1]


@pytest.fixture
def write_token(personas: Any) -> str:
    return tokens.issue_token(personas.doctor, scopes="read,write", days=30)[1]


# Issuing -----------------------------------------------------------------------------------------------


def test_it_stores_only_a_hash_of_the_secret(personas: Any) -> None:
    token, text = tokens.issue_token(personas.doctor, scopes="read", days=30, name="reports")

    prefix, secret = text.split(".")
    token.refresh_from_db()
    assert token.prefix == prefix
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get(pk=token.pk))
    assert token.scopes == "read"
    assert token.name == "reports"


def test_it_audits_issuing_and_revoking(personas: Any) -> None:
    token, _ = tokens.issue_token(personas.doctor, scopes="write", days=1)
    tokens.revoke_token(token.prefix, actor=personas.admin)

    created, revoked = audit_entries(resource_type="api_token")
    assert (created.action, created.resource_id) == (Action.CREATE, token.prefix)
    assert created.detail == {"user": "doctor", "scopes": ["read", "write"], "days": 1}
    assert (revoked.action, revoked.actor) == (Action.DELETE, personas.admin)


@pytest.mark.parametrize(
    ("scopes", "message"),
    [("admin", "unknown scope admin; use read or write"), ("", "at least one scope is required")],
)
def test_it_refuses_unknown_scopes(personas: Any, scopes: str, message: str) -> None:
    with pytest.raises(tokens.TokenError, match=f"^{message}$"):
        tokens.issue_token(personas.doctor, scopes=scopes, days=30)


# Authenticating ----------------------------------------------------------------------------------------


def test_it_reads_with_a_bearer_token_as_its_user(personas: Any, read_token: str) -> None:
    response = Client().get(URL, headers=bearer(read_token))

    assert response.status_code == 200
    assert response.json()["count"] == access.residents_visible_to(personas.doctor).count()
    assert audit_entries(action=Action.SEARCH).get().actor == personas.doctor


def test_it_records_when_a_token_was_last_used(read_token: str) -> None:
    Client().get(URL, headers=bearer(read_token))

    assert ApiToken.objects.get(prefix=read_token[:8]).last_used_at is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: "ffffffff" + t[8:],  # unknown prefix
        lambda t: t.replace(".", ""),  # malformed
        lambda t: "",
    ],
)
def test_it_refuses_a_wrong_token(read_token: str, mangle: Any) -> None:
    response = Client().get(URL, headers=bearer(mangle(read_token)))

    assert response.status_code == 401


def test_it_refuses_an_expired_token(personas: Any) -> None:
    token, text = tokens.issue_token(personas.doctor, scopes="read", days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert Client().get(URL, headers=bearer(text)).status_code == 401


def test_it_refuses_a_revoked_token(read_token: str) -> None:
    tokens.revoke_token(read_token[:8])

    assert Client().get(URL, headers=bearer(read_token)).status_code == 401


def test_it_refuses_the_token_of_a_deactivated_user(personas: Any, read_token: str) -> None:
    personas.doctor.is_active = False
    personas.doctor.save()

    assert Client().get(URL, headers=bearer(read_token)).status_code == 401


def test_it_forbids_writes_with_a_read_token(read_token: str, committee: Place) -> None:
    before = Resident.objects.count()

    response = Client().post(
        URL, as_json(new_resident(committee.pk)), content_type="application/json", headers=bearer(read_token)
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "this token lacks the write scope"}
    assert Resident.objects.count() == before


def test_it_lets_a_read_token_search_by_post(read_token: str) -> None:
    response = Client().post(
        f"{URL}/search", "{}", content_type="application/json", headers=bearer(read_token)
    )

    assert response.status_code == 200


def test_it_writes_with_a_write_token_without_csrf(write_token: str, committee: Place) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        URL, as_json(new_resident(committee.pk)), content_type="application/json", headers=bearer(write_token)
    )

    assert response.status_code == 201


# Sessions and CSRF -------------------------------------------------------------------------------------


def test_it_needs_the_csrf_token_for_session_writes(personas: Any, committee: Place) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.doctor)
    before = Resident.objects.count()

    refused = client.post(URL, as_json(new_resident(committee.pk)), content_type="application/json")

    assert refused.status_code == 403
    assert Resident.objects.count() == before
    client.get("/login/")  # any page with a form sets the CSRF cookie
    accepted = client.post(
        URL,
        as_json(new_resident(committee.pk)),
        content_type="application/json",
        headers={"X-CSRFToken": client.cookies["csrftoken"].value},
    )
    assert accepted.status_code == 201


def test_it_answers_401_not_403_to_anonymous_writes(committee: Place) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(URL, as_json(new_resident(committee.pk)), content_type="application/json")

    assert response.status_code == 401


# The `token` command -----------------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_creates_a_token_from_the_command_line_and_prints_it_once(personas: Any) -> None:
    out, err = run("create", "--user", "doctor", "--scopes", "read,write", "--days", "30")

    text = out.strip()
    token = ApiToken.objects.get(prefix=text[:8])
    assert token.user == personas.doctor
    assert token.scopes == "read write"
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert "shown only now" in err
    assert Client().get(URL, headers=bearer(text)).status_code == 200


def test_it_lists_tokens_without_their_secrets(personas: Any, read_token: str) -> None:
    tokens.revoke_token(tokens.issue_token(personas.nurse, scopes="read", days=5)[0].prefix)

    out, _ = run("list")

    assert read_token[:8] in out
    assert read_token[9:] not in out
    assert "active" in out
    assert "revoked" in out


def test_it_revokes_a_token_from_the_command_line(read_token: str) -> None:
    out, _ = run("revoke", read_token[:8])

    assert out.strip() == f"revoked {read_token[:8]} (doctor)"
    assert ApiToken.objects.get(prefix=read_token[:8]).revoked_at is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--user", "nobody"), "no user nobody"),
        (("create", "--user", "doctor", "--scopes", "root"), "unknown scope root; use read or write"),
        (("create", "--user", "doctor", "--days", "0"), "a token must be valid for at least one day"),
        (("revoke", "deadbeef"), "no token with prefix deadbeef"),
    ],
)
def test_it_reports_command_mistakes(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=f"^{message}$"):
        run(*args)
