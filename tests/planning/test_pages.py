"""The planning pages, their JSON and the API: who may open them, what they show and what they hide."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import AuditEntry
from jiayi.records.models import Condition
from jiayi.registry.choices import InstitutionKind, PlaceLevel
from jiayi.registry.models import Institution, Place, Resident

PAGES = (
    "/planning/portrait/",
    "/planning/portrait/map.json",
    "/planning/access/",
    "/planning/access/map.json",
)
APIS = ("/api/planning/portrait", "/api/planning/access")


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", PAGES + APIS)
def test_analysts_and_centre_managers_may_open_them(personas: Any, url: str) -> None:
    for user in (personas.analyst, personas.manager):
        assert client_for(user).get(url).status_code == 200, (user.username, url)


@pytest.mark.parametrize("url", PAGES + APIS)
def test_everyone_else_gets_not_found(personas: Any, url: str) -> None:
    for name in ("doctor", "nurse", "desk", "cdc", "admin", "resident"):
        assert client_for(getattr(personas, name)).get(url).status_code == 404, (name, url)


def test_anonymous_visitors_are_sent_to_log_in(db: None) -> None:
    response = Client().get("/planning/portrait/")
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert Client().get("/api/planning/access").status_code == 401


def test_the_portrait_page_ranks_conditions_and_suppresses_small_cells(personas: Any) -> None:
    committee = Place.objects.filter(level=PlaceLevel.COMMITTEE).order_by("code").first()
    assert committee is not None
    people = list(
        Resident.objects.filter(committee=committee, date_of_death__isnull=True, is_resident=True)[:9]
    )
    centre = Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE).first()
    for i, r in enumerate(people):
        Condition.objects.create(
            resident=r,
            institution=centre,
            source_system="test",
            source_id=f"c{r.pk}",
            received_at=timezone.now(),
            code="I10" if i < 7 else "J44.1",
        )
    response = client_for(personas.analyst).get("/planning/portrait/")
    html = response.content.decode()
    assert "<5" in html or "&lt;5" in html
    ranking = html[html.index('id="ranking"') :]
    assert ranking.index("高血压") < ranking.index("慢阻肺")
    assert response["Cache-Control"] == "no-store"
    assert AuditEntry.objects.filter(resource_type="planning.portrait", actor=personas.analyst).exists()
    # No names, IDs or phone numbers: only places and figures.
    for r in people:
        assert r.name not in html
        assert (r.citizen_id or "-") not in html
    assert not re.search(r"\b1[3-9]\d{9}\b", html)


def test_drilling_to_committees_and_refusing_areas_out_of_scope(personas: Any) -> None:
    analyst, manager = client_for(personas.analyst), client_for(personas.manager)
    subs = list(Place.objects.filter(level=PlaceLevel.SUB_DISTRICT).order_by("code"))
    own = set(
        Place.objects.filter(level=PlaceLevel.COMMITTEE, responsible_centre__isnull=False)
        .filter(pk__in=access.planning_committees_visible_to(personas.manager))
        .values_list("parent__code", flat=True)
    )
    foreign = next(s for s in subs if s.code not in own)
    mine = next(s for s in subs if s.code in own)
    response = analyst.get(f"/planning/portrait/?area={foreign.code}")
    assert response.status_code == 200
    for committee in Place.objects.filter(parent=foreign):
        assert committee.name in response.content.decode()
    assert manager.get(f"/planning/portrait/?area={foreign.code}").status_code == 404
    assert manager.get(f"/api/planning/portrait?area={foreign.code}").status_code == 404
    assert manager.get(f"/planning/portrait/?area={mine.code}").status_code == 200
    assert analyst.get("/planning/portrait/?area=nowhere").status_code == 404
    data = analyst.get(f"/planning/portrait/map.json?area={foreign.code}").json()
    assert data["drill"] is False
    assert {f["properties"]["name"] for f in data["geojson"]["features"]} == set(
        Place.objects.filter(parent=foreign).values_list("code", flat=True)
    )


def test_the_portrait_api_returns_areas_and_ranking(personas: Any) -> None:
    data = client_for(personas.analyst).get("/api/planning/portrait").json()
    assert data["level"] == PlaceLevel.SUB_DISTRICT
    assert data["threshold"] == 5
    assert len(data["areas"]) == Place.objects.filter(level=PlaceLevel.SUB_DISTRICT).count()
    assert {r["group"] for r in data["ranking"]} >= {"hypertension", "diabetes"}
    bad = client_for(personas.analyst).get("/api/planning/portrait?year=1800")
    assert bad.status_code == 422
    assert bad.json() == {"detail": [{"field": "year", "message": "between 2000 and 2100"}]}


def test_the_access_page_shows_coverage_and_proposals(personas: Any) -> None:
    response = client_for(personas.analyst).get("/planning/access/?k=2")
    html = response.content.decode()
    assert 'id="district-coverage"' in html
    assert html.count("<tr><td>") >= 2  # two proposal rows
    for sub in Place.objects.filter(level=PlaceLevel.SUB_DISTRICT):
        assert sub.name in html
    data = client_for(personas.analyst).get("/planning/access/map.json?k=2").json()
    assert len(data["proposals"]) == 2
    assert data["points"]
    assert all(len(p) == 3 for p in data["points"])
    assert data["facilities"]
    assert data["geojson"]["features"]


def test_the_access_api_with_proposals_and_bad_input(personas: Any) -> None:
    client = client_for(personas.manager)
    data = client.get("/api/planning/access?k=2&minutes=15&speed_kmh=4.5").json()
    assert data["reach_m"] == 1125.0
    assert data["target"] == 0.9
    assert len(data["proposals"]) == 2
    assert data["proposals"][0]["coverage_after"] > data["share"]
    assert sum(s["residents"] for s in data["sub_districts"]) == data["residents"]
    for query, field in (("speed_kmh=30", "speed_kmh"), ("minutes=0", "minutes"), ("k=11", "k")):
        response = client.get(f"/api/planning/access?{query}")
        assert response.status_code == 422, query
        assert response.json()["detail"][0]["field"] == field
