"""Education from the record: recommendations, reads that earn points once, pages and API."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jiayi.care.models import PlanItem
from jiayi.education import services
from jiayi.education.library import ensure_library
from jiayi.education.models import Article, Delivery, Reading
from jiayi.points import services as points
from jiayi.points.models import PointEntry
from jiayi.records.models import Condition, Observation
from jiayi.registry.models import Institution, Resident

pytestmark = pytest.mark.django_db
TODAY = date(2026, 1, 1)


@pytest.fixture
def library(db: None) -> int:
    points.ensure_default_rules()
    return ensure_library()


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def _adult(personas: Any) -> Resident:
    resident: Resident = personas.resident.account.resident
    return resident


def _diagnose(resident: Resident, code: str) -> None:
    Condition.objects.create(
        resident=resident,
        institution=Institution.objects.order_by("id").first(),
        source_system="test-his",
        source_id=f"cond-{resident.pk}-{code}",
        received_at=timezone.now(),
        code=code,
    )


def test_loading_the_library_twice_adds_nothing(library: int) -> None:
    assert library >= 20
    assert ensure_library() == 0


def test_a_hypertensive_resident_gets_hypertension_articles_first(
    library: int, resident_in_scope: Resident
) -> None:
    Condition.objects.filter(resident=resident_in_scope).delete()
    Observation.objects.filter(resident=resident_in_scope).delete()
    _diagnose(resident_in_scope, "I10")
    suggested = services.recommendations(resident_in_scope, today=TODAY)
    assert suggested[0].article.topic == "hypertension"
    assert "与您的诊断相关" in suggested[0].reason_text
    assert all(s.article.sex in ("", resident_in_scope.sex) for s in suggested)


def test_the_care_plan_decides_what_comes_first(library: int, resident_in_scope: Resident) -> None:
    PlanItem.objects.create(
        resident=resident_in_scope,
        kind="education_topic",
        code="education:diabetes",
        text="糖尿病",
        due_on=TODAY,
    )
    suggested = services.recommendations(resident_in_scope, today=TODAY)
    assert suggested[0].article.topic == "diabetes"
    assert "plan" in suggested[0].reasons


def test_reading_earns_points_once(library: int, resident_in_scope: Resident) -> None:
    article = Article.objects.get(slug="diet-balanced")
    _reading, earned = services.mark_read(resident_in_scope, article)
    assert earned == 5
    _reading, earned = services.mark_read(resident_in_scope, article)
    assert earned == 0
    assert Reading.objects.filter(resident=resident_in_scope).count() == 1
    assert points.balance_of(resident_in_scope) == 5
    assert points.award_pending()["education_read"].entries == 0
    assert PointEntry.objects.filter(resident=resident_in_scope).count() == 1


def test_reading_stops_earning_at_the_daily_cap(library: int, resident_in_scope: Resident) -> None:
    earned = [services.mark_read(resident_in_scope, a)[1] for a in Article.objects.order_by("id")[:5]]
    assert earned == [5, 5, 5, 0, 0]


def test_the_resident_page_lists_advice_and_an_article_page_pays_points(library: int, personas: Any) -> None:
    client = _client(personas.resident)
    page = client.get("/me/education/")
    assert page.status_code == 200
    assert "Health advice for me" in page.content.decode()
    article = Article.objects.get(slug="diet-balanced")
    opened = client.get(f"/me/education/{article.pk}/")
    assert opened.status_code == 200
    assert 'data-testid="earned"' in opened.content.decode()
    assert "食物多样" in opened.content.decode()
    again = client.get(f"/me/education/{article.pk}/")
    assert 'data-testid="earned"' not in again.content.decode()
    assert points.balance_of(_adult(personas)) == 5


def test_the_library_page_is_for_managers(library: int, personas: Any) -> None:
    assert _client(personas.doctor).get("/education/library/").status_code == 404
    manager = _client(personas.manager)
    assert manager.get("/education/library/").status_code == 200
    response = manager.post(
        "/education/library/",
        {
            "slug": "copd-breathing",
            "title": "慢阻肺患者的呼吸锻炼",
            "summary": "缩唇呼吸和腹式呼吸",
            "body": "第一段。\n\n第二段。",
            "topic": "elderly",
            "icd10": "J44, j43",
            "risks": "smoker",
            "sex": "",
            "source": "慢阻肺诊治指南",
            "active": "on",
        },
    )
    assert response.status_code == 302
    added = Article.objects.get(slug="copd-breathing")
    assert added.icd10_prefixes == ["J44", "J43"]
    assert added.risk_tags == ["smoker"]
    bad = manager.post(
        "/education/library/",
        {"slug": "x", "title": "x", "summary": "x", "body": "x", "topic": "diet", "icd10": "12", "sex": ""},
    )
    assert "Not an ICD-10 prefix: 12" in bad.content.decode()


def test_api_recommendations_reads_and_deliveries(
    library: int, personas: Any, resident_in_scope: Resident
) -> None:
    doctor = _client(personas.doctor)
    response = doctor.get(f"/api/education/residents/{resident_in_scope.pk}/recommendations")
    assert response.status_code == 200
    first = response.json()[0]["article"]["id"]
    sent = doctor.post(
        f"/api/education/residents/{resident_in_scope.pk}/deliveries",
        json.dumps({"article_id": first, "channel": "clinic", "reason": "门诊宣教"}),
        content_type="application/json",
    )
    assert sent.status_code == 201
    assert Delivery.objects.get(pk=sent.json()["id"]).delivered_by == personas.doctor
    wrong = doctor.post(
        f"/api/education/residents/{resident_in_scope.pk}/deliveries",
        json.dumps({"article_id": first, "channel": "pigeon"}),
        content_type="application/json",
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["field"] == "channel"
    me = _adult(personas)
    resident = _client(personas.resident)
    read = resident.post(
        f"/api/education/residents/{me.pk}/readings",
        json.dumps({"article_id": first}),
        content_type="application/json",
    )
    assert read.status_code == 200
    assert read.json()["points_earned"] == 5
    # Staff do not read on a resident's behalf.
    assert (
        doctor.post(
            f"/api/education/residents/{resident_in_scope.pk}/readings",
            json.dumps({"article_id": first}),
            content_type="application/json",
        ).status_code
        == 404
    )
