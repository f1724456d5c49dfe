"""The demo: one working login per role, attached to people of the generated district."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from jiayi.registry.choices import Role
from jiayi.registry.demo import DEMO_PASSWORD, create_demo_accounts

pytestmark = pytest.mark.django_db


def test_it_creates_one_account_per_role_and_each_logs_in(personas: object) -> None:
    accounts = create_demo_accounts()
    assert {a.role for a in accounts} == set(Role.values)
    for account in accounts:
        client = Client()
        assert client.login(username=account.username, password=DEMO_PASSWORD), account.username
        response = client.get("/")
        assert response.status_code == 200, account.username


def test_it_is_idempotent(personas: object) -> None:
    first = create_demo_accounts()
    second = create_demo_accounts()
    assert [a.username for a in first] == [a.username for a in second]


def test_it_prepares_the_demo_without_serving(personas: object, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("demo", "--no-serve")
    out = capsys.readouterr().out
    assert "already in the database" in out
    assert DEMO_PASSWORD in out
    for username in ("doctor", "nurse", "manager", "doctor2", "desk", "cdc", "analyst", "admin", "resident"):
        assert username in out
