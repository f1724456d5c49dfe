"""The health-account page's database work: a fixed number of queries however full the account is, the
newest reading per code from one windowed query, the source list from one UNION; and what every page
pays for the signed-in user (one query for the user with their account and staff member)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from jiayi.records.services import import_bundle
from jiayi.records.views import _sources, latest_values
from jiayi.registry.models import Resident

from .helpers import bundle, condition, encounter, medication_request, observation

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _import(resident: Resident, actor: Any, resources: list[dict[str, Any]], source: str) -> None:
    assert import_bundle(bundle(resources), actor=actor, source_system=source).ok


def _page_queries(client: Client, resident: Resident) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/records/{resident.pk}/")
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_the_account_page_costs_the_same_queries_however_full_the_account(personas, resident_in_scope):
    client = _client(personas.doctor)
    _import(resident_in_scope, personas.doctor, [observation("perf-0", resident_in_scope)], "his-a")
    client.get(f"/records/{resident_in_scope.pk}/")  # the session's first request settles the session row
    before = _page_queries(client, resident_in_scope)

    more: list[dict[str, Any]] = []
    for n in range(12):
        when = f"2024-{n % 12 + 1:02d}-05T08:00:00+08:00"
        more += [
            observation(f"perf-s{n}", resident_in_scope, value=120 + n, when=when),
            observation(f"perf-g{n}", resident_in_scope, code="1558-6", value=6.0, unit="mmol/L", when=when),
            encounter(f"perf-e{n}", resident_in_scope, start=when),
            condition(f"perf-c{n}", resident_in_scope, code=f"E1{n % 10}"),
            medication_request(f"perf-r{n}", resident_in_scope),
        ]
    _import(resident_in_scope, personas.doctor, more, "his-b")
    _import(resident_in_scope, personas.doctor, [observation("perf-post", resident_in_scope)], "health-post")
    after = _page_queries(client, resident_in_scope)

    assert len(after) == len(before)
    # Session, user (with account and staff), resident, sources, problems, five timeline kinds, latest
    # values, medicines, and the audit entry (lock on PostgreSQL, chain head, insert; savepoint statements
    # where the test runs in a transaction) – nothing per entry or per code.
    assert len(after) <= 20, "\n".join(after)


def test_latest_values_take_the_newest_reading_of_each_code(personas, resident_in_scope):
    _import(
        resident_in_scope,
        personas.doctor,
        [
            observation("lv-old", resident_in_scope, value=150, when="2023-03-01T08:00:00+08:00"),
            observation("lv-new", resident_in_scope, value=128, when="2025-03-01T08:00:00+08:00"),
            observation("lv-mid", resident_in_scope, value=139, when="2024-03-01T08:00:00+08:00"),
            # A code measured once, long before the newest readings of the others.
            observation(
                "lv-hba1c",
                resident_in_scope,
                code="4548-4",
                value=6.9,
                unit="%",
                when="2019-06-01T08:00:00+08:00",
            ),
        ],
        "his-a",
    )
    latest = {item["reading"].code: item["reading"].value for item in latest_values(resident_in_scope)}
    assert latest["8480-6"] == 128
    assert latest["4548-4"] == 6.9
    assert "8462-4" not in latest  # nothing recorded, nothing shown


def test_sources_are_listed_once_each_across_entry_kinds(personas, resident_in_scope):
    existing = set(_sources(resident_in_scope))
    _import(
        resident_in_scope,
        personas.doctor,
        [
            encounter("src-e1", resident_in_scope),
            encounter("src-e2", resident_in_scope, start="2024-05-01T08:00:00+08:00"),
            observation("src-o1", resident_in_scope),
        ],
        "his-z",
    )
    _import(resident_in_scope, personas.doctor, [observation("src-o2", resident_in_scope)], "health-post-z")
    found = _sources(resident_in_scope)
    assert found == sorted(existing | {"his-z", "health-post-z"})
    assert len(found) == len(set(found))


def test_a_page_loads_the_signed_in_user_with_account_and_staff_in_one_query(personas, resident_in_scope):
    client = _client(personas.nurse)
    client.get("/")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/records/{resident_in_scope.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert personas.nurse.account.staff.name in html  # the header still names the staff member
    statements = [query["sql"] for query in captured.captured_queries]
    user_queries = [sql for sql in statements if 'FROM "auth_user"' in sql]
    assert len(user_queries) == 1
    assert '"registry_account"' in user_queries[0]
    assert not [sql for sql in statements if sql.startswith('SELECT "registry_account"')]
    assert not [sql for sql in statements if sql.startswith('SELECT "registry_staff"')]
