"""Points over HTTP: scope, audit, redemption 409 with nothing written, the resident's and manager's pages."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.test import Client

from jiayi.audit.models import AuditEntry, Outcome
from jiayi.points import services
from jiayi.points.models import CatalogueItem, PointEntry, Redemption
from jiayi.registry.choices import Relationship
from jiayi.registry.models import Resident

from .helpers import elderly_exam, item

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def me(personas: Any, point_rules: None) -> Resident:
    resident: Resident = personas.resident.account.resident
    elderly_exam(resident, date(2025, 6, 1))
    return resident


def test_a_resident_reads_their_balance_and_history(personas: Any, me: Resident) -> None:
    response = _client(personas.resident).get(f"/api/points/residents/{me.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["balance"] == 100
    assert [e["points"] for e in body["entries"]] == [100]
    assert AuditEntry.objects.filter(resource_type="points", resident_id=me.pk, outcome=Outcome.OK).exists()


def test_someone_elses_points_answer_404_and_are_audited(personas: Any, me: Resident) -> None:
    other = Resident.objects.exclude(pk=me.pk).exclude(household_id=me.household_id).order_by("id").first()
    assert other is not None
    response = _client(personas.resident).get(f"/api/points/residents/{other.pk}")
    assert response.status_code == 404
    assert AuditEntry.objects.filter(resource_type="points", outcome=Outcome.DENIED).exists()


def test_redemption_beyond_the_balance_answers_409_and_writes_nothing(personas: Any, me: Resident) -> None:
    dear = item(cost=500, stock=3, name="电子血压计")
    before = (PointEntry.objects.count(), Redemption.objects.count())
    response = _post(
        _client(personas.resident), f"/api/points/residents/{me.pk}/redemptions", {"item_id": dear.pk}
    )
    assert response.status_code == 409
    assert response.json()["detail"][0]["field"] == "item_id"
    assert "Not enough points" in response.json()["detail"][0]["message"]
    assert (PointEntry.objects.count(), Redemption.objects.count()) == before
    assert CatalogueItem.objects.get(pk=dear.pk).stock == 3
    assert services.balance_of(me) == 100


def test_a_redemption_within_the_balance_answers_201(personas: Any, me: Resident) -> None:
    spoon = item(cost=60, stock=3, name="限盐勺")
    response = _post(
        _client(personas.resident), f"/api/points/residents/{me.pk}/redemptions", {"item_id": spoon.pk}
    )
    assert response.status_code == 201
    assert response.json()["balance"] == 40
    assert services.ledger_sum(me) == 40


def test_staff_read_points_of_their_residents_but_never_spend_them(
    personas: Any, point_rules: None, resident_in_scope: Resident
) -> None:
    elderly_exam(resident_in_scope, date(2025, 6, 1))
    doctor = _client(personas.doctor)
    assert doctor.get(f"/api/points/residents/{resident_in_scope.pk}").json()["balance"] == 100
    spoon = item(cost=10)
    url = f"/api/points/residents/{resident_in_scope.pk}/redemptions"
    assert _post(doctor, url, {"item_id": spoon.pk}).status_code == 404
    assert services.balance_of(resident_in_scope) == 100


def test_the_household_head_acts_for_a_family_member(personas: Any, point_rules: None) -> None:
    me: Resident = personas.resident.account.resident
    member = Resident.objects.filter(household_id=me.household_id).exclude(pk=me.pk).first()
    if me.relationship != Relationship.HEAD or member is None:
        # Make the persona the head of a two-person household for this test.
        me.relationship = Relationship.HEAD
        me.save()
        member = Resident.objects.exclude(pk=me.pk).filter(date_of_death__isnull=True).order_by("id").first()
        assert member is not None
        member.household_id = me.household_id
        member.save()
    elderly_exam(member, date(2025, 7, 1))
    client = _client(personas.resident)
    assert client.get(f"/api/points/residents/{member.pk}").json()["balance"] == 100
    page = client.get(f"/me/points/?for={member.pk}")
    assert page.status_code == 200
    assert member.name in page.content.decode()
    spoon = item(cost=30)
    response = client.post("/me/points/redeem/", {"resident": member.pk, "item": spoon.pk})
    assert response.status_code == 302
    assert services.balance_of(member) == 70


def test_the_points_page_shows_balance_rules_and_history(personas: Any, me: Resident) -> None:
    item(cost=60, name="限盐勺")
    response = _client(personas.resident).get("/me/points/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="balance">100<' in html
    assert "限盐勺" in html
    assert "完成老年人健康体检" in html
    assert response["Cache-Control"] == "no-store"


def test_redeeming_on_the_page_beyond_the_balance_says_why(personas: Any, me: Resident) -> None:
    dear = item(cost=900, name="电子血压计")
    client = _client(personas.resident)
    response = client.post("/me/points/redeem/", {"resident": me.pk, "item": dear.pk}, follow=True)
    assert "Not enough points" in response.content.decode()
    assert not Redemption.objects.filter(resident=me).exists()


def test_staff_have_no_points_page_and_managers_keep_the_catalogue(personas: Any, point_rules: None) -> None:
    assert _client(personas.doctor).get("/me/points/").status_code == 404
    assert _client(personas.doctor).get("/points/catalogue/").status_code == 404
    manager = _client(personas.manager)
    response = manager.post(
        "/points/catalogue/", {"name": "体脂秤", "description": "", "cost": 400, "stock": 10, "active": "on"}
    )
    assert response.status_code == 302
    added = CatalogueItem.objects.get(name="体脂秤")
    assert added.centre is not None
    assert manager.get(f"/points/catalogue/{added.pk}/").status_code == 200
    assert _client(personas.other_doctor).get(f"/points/catalogue/{added.pk}/").status_code == 404
