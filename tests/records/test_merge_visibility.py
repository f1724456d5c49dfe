"""A merged-away duplicate is no longer listed: the registry API's resident list and search, and a
household's members, show only the resident it was merged into."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jiayi import access
from jiayi.records import linkage
from jiayi.records.models import ResidentMerge
from jiayi.registry.models import Resident

pytestmark = pytest.mark.django_db
API = "/api/registry"


@pytest.fixture
def merged(personas: Any) -> tuple[Resident, Resident]:
    """Two residents of one household the family doctor serves, the second merged into the first."""
    visible = access.residents_visible_to(personas.doctor).filter(household__isnull=False)
    for resident in visible.order_by("id"):
        other = visible.filter(household=resident.household).exclude(pk=resident.pk).order_by("id").first()
        if other is not None:
            linkage.merge_residents(personas.admin, resident, other)
            return resident, other
    raise AssertionError("the district has a household of two residents the doctor serves")


@pytest.fixture
def doctor(personas: Any) -> Client:
    client = Client()
    client.force_login(personas.doctor)
    return client


def _listed(client: Client, **query: Any) -> set[int]:
    response = client.get(f"{API}/residents", {"page_size": 100, **query})
    assert response.status_code == 200
    return {item["id"] for item in response.json()["items"]}


def test_the_resident_list_leaves_the_duplicate_out(merged, doctor):
    survivor, duplicate = merged
    by_name = _listed(doctor, q=duplicate.name)
    assert duplicate.pk not in by_name
    assert survivor.pk in _listed(doctor, q=survivor.name)


def test_a_search_by_citizen_id_does_not_find_the_duplicate(merged, doctor):
    _, duplicate = merged
    if duplicate.citizen_id is None:
        pytest.skip("the duplicate has no citizen ID")
    response = doctor.post(
        f"{API}/residents/search", {"q": duplicate.citizen_id}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_the_count_of_listed_residents_drops_by_the_duplicate(merged, doctor, personas):
    visible = access.residents_visible_to(personas.doctor)
    response = doctor.get(f"{API}/residents", {"page_size": 1})
    assert response.json()["count"] == visible.count() - 1


def test_the_household_lists_the_survivor_only(merged, doctor):
    survivor, duplicate = merged
    response = doctor.get(f"{API}/households/{survivor.household_id}")
    assert response.status_code == 200
    members = {member["id"] for member in response.json()["members"]}
    assert survivor.pk in members
    assert duplicate.pk not in members


def test_unmerging_lists_the_duplicate_again(merged, doctor, personas):
    _, duplicate = merged
    linkage.unmerge(personas.admin, ResidentMerge.objects.get(duplicate=duplicate))
    assert duplicate.pk in _listed(doctor, q=duplicate.name)


def test_the_residents_page_and_household_leave_the_duplicate_out(merged, doctor):
    survivor, duplicate = merged
    listed = doctor.get("/residents/", {"q": duplicate.name})
    assert listed.status_code == 200
    assert f"/residents/{duplicate.pk}/" not in listed.content.decode()
    page = doctor.get(f"/residents/{survivor.pk}/").content.decode()
    assert f"/residents/{duplicate.pk}/" not in page


def test_the_duplicates_page_points_to_the_survivor(merged, doctor):
    survivor, duplicate = merged
    page = doctor.get(f"/residents/{duplicate.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-merged-into="{survivor.pk}"' in body
    assert f'href="/residents/{survivor.pk}/"' in body


def test_indicator_facts_count_the_survivor_only(merged):
    from datetime import date

    from jiayi.indicators import facts
    from jiayi.indicators.models import ResidentFact

    survivor, duplicate = merged
    period = facts.ensure_period("year", date.today())
    facts.refresh_residents([survivor.pk, duplicate.pk])
    counted = set(ResidentFact.objects.filter(period=period).values_list("resident_id", flat=True))
    assert survivor.pk in counted
    assert duplicate.pk not in counted
