"""Health-account pages: the clinician's account page (timeline with filters, trends, latest values,
problems, medicines, sources), the resident's own /me/health/, scope as 404, and the audit trail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from jiayi.audit.models import AuditEntry
from jiayi.records.services import import_bundle
from jiayi.registry.models import Resident

from .helpers import bundle, condition, encounter, medication_request, observation

pytestmark = pytest.mark.django_db
UNMASKED = re.compile(r"(?<![\d*])\d{17}[\dX](?![\d*])")


def _client(user: Any, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def _give_account(resident: Resident, actor: Any) -> None:
    linked = {"encounter": {"reference": "urn:uuid:pg-enc"}}
    resources = [
        encounter("pg-e", resident),
        condition("pg-c", resident, **linked),
        observation("pg-s", resident, value=146, **linked),
        observation("pg-d", resident, code="8462-4", value=92, **linked),
        observation("pg-g", resident, code="1558-6", value=7.4, unit="mmol/L"),
        medication_request("pg-r", resident, **linked),
    ]
    urls = ["urn:uuid:pg-enc", "urn:c", "urn:s", "urn:d", "urn:g", "urn:r"]
    assert import_bundle(
        bundle(resources, "transaction", full_urls=urls), actor=actor, source_system="his-a"
    ).ok
    assert import_bundle(
        bundle([observation("pg-post", resident, value=131, when="2025-07-01T08:00:00+08:00")]),
        actor=actor,
        source_system="health-post",
    ).ok


def test_it_shows_a_clinician_the_whole_account_with_sources(personas, resident_in_scope):
    _give_account(resident_in_scope, personas.doctor)
    response = _client(personas.doctor).get(f"/records/{resident_in_scope.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Health account" in html
    assert "Systolic blood pressure: 146 mmHg" in html
    assert re.search(r"<strong>131</strong> mmHg", html)  # the latest systolic value, with its unit
    assert "原发性高血压 (I10)" in html
    assert "氨氯地平片 5mg" in html
    assert "his-a" in html
    assert "health-post" in html
    assert f'data-series-url="/records/{resident_in_scope.pk}/series.json"' in html
    assert "records/trends.js" in html
    assert not UNMASKED.findall(html)
    entry = AuditEntry.objects.filter(
        resource_type="health_account", resident_id=resident_in_scope.pk
    ).latest("id")
    assert (entry.action, entry.outcome, entry.actor_id) == ("read", "ok", personas.doctor.pk)


def test_it_filters_the_timeline_by_type_and_source(personas, resident_in_scope):
    _give_account(resident_in_scope, personas.doctor)
    client = _client(personas.doctor)
    readings = client.get(f"/records/{resident_in_scope.pk}/", {"type": "observation"}).content.decode()
    rows = re.findall(r'<tr class="kind-(\w+)">', readings)
    assert rows
    assert set(rows) == {"observation"}
    posts = client.get(f"/records/{resident_in_scope.pk}/", {"source": "health-post"}).content.decode()
    assert re.findall(r'<tr class="kind-(\w+)">', posts) == ["observation"]
    assert "131 mmHg" in posts
    ignored = client.get(f"/records/{resident_in_scope.pk}/", {"type": "nonsense", "source": "nowhere"})
    assert len(re.findall(r'<tr class="kind-', ignored.content.decode())) == len(
        re.findall(r'<tr class="kind-', client.get(f"/records/{resident_in_scope.pk}/").content.decode())
    )


def test_it_serves_the_trend_series_oldest_first(personas, resident_in_scope):
    _give_account(resident_in_scope, personas.doctor)
    data = _client(personas.doctor).get(f"/records/{resident_in_scope.pk}/series.json").json()
    assert [value for _when, value in data["8480-6"]] == [146.0, 131.0]
    assert [value for _when, value in data["8462-4"]] == [92.0]
    assert [value for _when, value in data["1558-6"]] == [7.4]
    assert data["2339-0"] == []
    assert data["8480-6"][0][0].startswith("2025-06-01T09:30:00+08:00")


@pytest.mark.parametrize("persona", ["other_doctor", "desk", "cdc", "analyst", "admin", "resident"])
def test_it_answers_404_outside_scope_like_a_missing_resident(personas, resident_in_scope, persona):
    client = _client(getattr(personas, persona))
    for path in (f"/records/{resident_in_scope.pk}/", f"/records/{resident_in_scope.pk}/series.json"):
        assert client.get(path).status_code == 404
    assert client.get("/records/999999999/").status_code == 404
    denied = AuditEntry.objects.filter(resource_type="health_account", outcome="denied").order_by("-id")
    assert denied[1].resident_id == resident_in_scope.pk
    assert denied[0].resident_id is None  # the missing one


def test_it_shows_the_resident_their_own_account_in_plain_language(personas):
    me: Resident = personas.resident.account.resident
    _give_account(me, personas.doctor)
    client = _client(personas.resident)
    html = client.get("/me/health/").content.decode()
    assert "My health record" in html
    assert "Blood pressure, upper number" in html
    assert "Good control means the upper number stays below 140" in html
    assert "Your medicines" in html
    assert 'href="/me/health/"' in html  # in the navigation
    assert client.get("/me/health/series.json").json()["8480-6"]
    assert client.get(f"/records/{me.pk}/").status_code == 200  # their own account, clinician's layout
    assert AuditEntry.objects.filter(
        resource_type="health_account", resident_id=me.pk, actor=personas.resident
    ).exists()


def test_it_refuses_me_health_to_staff_and_anonymous_visitors(personas):
    assert _client(personas.doctor).get("/me/health/").status_code == 404
    assert _client(personas.doctor).get("/me/health/series.json").status_code == 404
    response = Client().get("/me/health/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_speaks_chinese_and_links_from_the_resident_page(personas, resident_in_scope):
    _give_account(resident_in_scope, personas.doctor)
    client = _client(personas.doctor, "zh-hans")
    detail = client.get(f"/residents/{resident_in_scope.pk}/").content.decode()
    assert f'href="/records/{resident_in_scope.pk}/"' in detail
    assert "健康档案" in detail
    html = client.get(f"/records/{resident_in_scope.pk}/").content.decode()
    assert "收缩压: 146 mmHg" in html
    assert "最新数值" in html
    assert "门诊" in html
