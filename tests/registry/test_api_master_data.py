"""Households, places, institutions, staff and teams through the API; OpenAPI and the docs page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.registry.choices import InstitutionKind, PlaceLevel, Profession
from jiayi.registry.models import Institution, Place, Resident, Staff, Team

from .helpers import assert_nothing_unmasked, audit_entries

pytestmark = pytest.mark.django_db
API = "/api/registry"
MASTER_DATA_LISTS = ["/places", "/institutions", "/staff", "/teams"]


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def doctor(personas: Any) -> Client:
    return client_for(personas.doctor)


# Households --------------------------------------------------------------------------------------------


def test_it_lists_households_with_a_member_in_scope(personas: Any, doctor: Client) -> None:
    response = doctor.get(f"{API}/households?page_size=100")

    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["items"]}
    assert ids == set(access.households_visible_to(personas.doctor).values_list("pk", flat=True))
    entry = audit_entries(action=Action.SEARCH, resource_type="household").get()
    assert entry.detail["count"] == len(ids)


def test_it_shows_a_household_with_its_visible_members_masked(
    personas: Any, doctor: Client, resident_in_scope: Resident
) -> None:
    household = resident_in_scope.household
    assert household is not None

    response = doctor.get(f"{API}/households/{household.pk}")

    assert response.status_code == 200
    members = response.json()["members"]
    assert resident_in_scope.pk in [m["id"] for m in members]
    assert all(m["masked_citizen_id"] == "" or "*" in m["masked_citizen_id"] for m in members)
    assert_nothing_unmasked(response.content)
    entry = audit_entries(action=Action.READ, resource_type="household").get()
    assert entry.detail["resident_ids"] == [m["id"] for m in members]


def test_it_answers_404_for_a_household_out_of_scope(
    personas: Any, doctor: Client, resident_out_of_scope: Resident
) -> None:
    household = resident_out_of_scope.household
    assert household is not None
    assert not access.households_visible_to(personas.doctor).filter(pk=household.pk).exists()

    hidden = doctor.get(f"{API}/households/{household.pk}")
    missing = doctor.get(f"{API}/households/{10**9}")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert audit_entries(action=Action.READ, outcome=Outcome.DENIED).count() == 2


def test_it_filters_households_by_code_prefix(personas: Any, doctor: Client) -> None:
    household = access.households_visible_to(personas.doctor).order_by("code").first()
    assert household is not None

    items = doctor.get(f"{API}/households", {"code": household.code}).json()["items"]

    assert [item["id"] for item in items] == [household.pk]


@pytest.mark.parametrize("persona", ["analyst", "resident", "admin"])
def test_it_refuses_household_lists_to_roles_that_do_not_list_people(personas: Any, persona: str) -> None:
    response = client_for(getattr(personas, persona)).get(f"{API}/households")

    assert response.status_code == 403


# Places ------------------------------------------------------------------------------------------------


def test_it_lists_places_of_one_level(doctor: Client) -> None:
    body = doctor.get(f"{API}/places", {"level": "committee"}).json()

    committees = Place.objects.filter(level=PlaceLevel.COMMITTEE)
    assert body["count"] == committees.count()
    assert [item["code"] for item in body["items"]] == sorted(committees.values_list("code", flat=True))
    assert {item["level"] for item in body["items"]} == {"committee"}


def test_it_lists_the_children_of_a_place_with_their_own_child_counts(doctor: Client) -> None:
    district = Place.objects.get(level=PlaceLevel.DISTRICT)

    items = doctor.get(f"{API}/places", {"parent_id": str(district.pk)}).json()["items"]

    assert {item["id"] for item in items} == set(district.children.values_list("pk", flat=True))
    for item in items:
        assert item["parent_id"] == district.pk
        assert item["child_count"] == Place.objects.filter(parent_id=item["id"]).count()


def test_it_shows_a_place_with_its_children(doctor: Client) -> None:
    sub_district = Place.objects.filter(level=PlaceLevel.SUB_DISTRICT, children__isnull=False).first()
    assert sub_district is not None

    body = doctor.get(f"{API}/places/{sub_district.pk}").json()

    assert body["parent"]["id"] == sub_district.parent_id
    assert [c["code"] for c in body["children"]] == sorted(
        sub_district.children.values_list("code", flat=True)
    )
    assert body["child_count"] == len(body["children"])


def test_it_shows_a_committees_centre_and_designated_doctor(doctor: Client) -> None:
    committee = Place.objects.filter(level=PlaceLevel.COMMITTEE, responsible_centre__isnull=False).first()
    assert committee is not None
    assert committee.responsible_centre is not None

    body = doctor.get(f"{API}/places/{committee.pk}").json()

    assert body["responsible_centre"]["id"] == committee.responsible_centre.pk
    assert (body["designated_doctor"] or {}).get("id") == committee.designated_doctor_id


# Institutions ------------------------------------------------------------------------------------------


def test_it_lists_institutions_by_kind(doctor: Client) -> None:
    response = doctor.get(f"{API}/institutions", {"kind": "community_health_centre", "page_size": "100"})

    items = response.json()["items"]

    expected = Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE)
    assert {i["id"] for i in items} == set(expected.values_list("pk", flat=True))


def test_it_lists_institutions_anywhere_below_a_place(doctor: Client) -> None:
    district = Place.objects.get(level=PlaceLevel.DISTRICT)

    body = doctor.get(f"{API}/institutions", {"place_id": str(district.pk), "page_size": "100"}).json()

    assert body["count"] == Institution.objects.filter(place__code__startswith=district.code).count()


def test_it_shows_an_institution_with_its_units(doctor: Client) -> None:
    centre = Institution.objects.filter(units__isnull=False).distinct().first()
    assert centre is not None

    body = doctor.get(f"{API}/institutions/{centre.pk}").json()

    assert {u["id"] for u in body["units"]} == set(centre.units.values_list("pk", flat=True))
    assert body["place"]["id"] == centre.place_id


# Staff and teams ---------------------------------------------------------------------------------------


def test_it_lists_staff_by_institution_and_profession_with_masked_phones(doctor: Client) -> None:
    team = Team.objects.select_related("centre").first()
    assert team is not None

    response = doctor.get(
        f"{API}/staff",
        {"institution_id": str(team.centre_id), "profession": "family_doctor", "page_size": "100"},
    )

    expected = Staff.objects.filter(institution=team.centre, profession=Profession.FAMILY_DOCTOR)
    assert {s["id"] for s in response.json()["items"]} == set(expected.values_list("pk", flat=True))
    assert_nothing_unmasked(response.content)


def test_it_masks_a_staff_phone(doctor: Client) -> None:
    member = Staff.objects.first()
    assert member is not None
    Staff.objects.filter(pk=member.pk).update(phone="13712345678")

    response = doctor.get(f"{API}/staff/{member.pk}")

    assert response.json()["masked_phone"] == "137****5678"
    assert_nothing_unmasked(response.content)


def test_it_shows_a_team_with_its_members_and_committees(doctor: Client) -> None:
    team = Team.objects.first()
    assert team is not None

    body = doctor.get(f"{API}/teams/{team.pk}").json()

    assert body["lead"]["id"] == team.lead_id
    assert {m["staff"]["id"] for m in body["members"]} == set(team.members.values_list("pk", flat=True))
    assert body["members"][0]["team_role"] == "lead"
    assert {c["id"] for c in body["committees"]} == set(team.committees.values_list("pk", flat=True))


def test_it_lists_teams_serving_a_committee(doctor: Client) -> None:
    team = Team.objects.filter(committees__isnull=False).first()
    assert team is not None
    committee = team.committees.first()
    assert committee is not None

    items = doctor.get(f"{API}/teams", {"committee_code": committee.code}).json()["items"]

    assert team.pk in [t["id"] for t in items]


# Who may see master data -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MASTER_DATA_LISTS)
@pytest.mark.parametrize("persona", ["doctor", "nurse", "manager", "desk", "cdc", "analyst", "admin"])
def test_it_shows_master_data_to_staff(personas: Any, persona: str, path: str) -> None:
    assert client_for(getattr(personas, persona)).get(f"{API}{path}").status_code == 200


@pytest.mark.parametrize("path", [*MASTER_DATA_LISTS, "/places/1", "/institutions/1", "/staff/1", "/teams/1"])
def test_it_refuses_master_data_to_residents(personas: Any, path: str) -> None:
    response = client_for(personas.resident).get(f"{API}{path}")

    assert response.status_code == 403
    assert response.json() == {"detail": "your role cannot view master data"}


@pytest.mark.parametrize("path", ["/places", "/institutions", "/staff", "/teams"])
def test_it_answers_404_for_missing_master_data(doctor: Client, path: str) -> None:
    assert doctor.get(f"{API}{path}/{10**9}").status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/places", {"level": "planet"}, "level"),
        ("/places", {"parent__code": "310105"}, "parent__code"),
        ("/institutions", {"kind": "casino"}, "kind"),
        ("/staff", {"profession": "wizard"}, "profession"),
        ("/teams", {"committee_code": "'; DROP TABLE registry_team; --"}, "committee_code"),
        ("/households", {"code": "H__%"}, "code"),
    ],
)
def test_it_refuses_malformed_master_data_filters(
    doctor: Client, path: str, params: dict[str, str], field: str
) -> None:
    response = doctor.get(f"{API}{path}", params)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == [field]


def test_it_keeps_the_team_list_to_a_fixed_number_of_queries(
    doctor: Client, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(6):
        response = doctor.get(f"{API}/teams?page_size=100")

    assert response.json()["count"] == Team.objects.count()


# OpenAPI, docs and deny-by-default ---------------------------------------------------------------------


def test_it_serves_the_openapi_schema_with_documented_tags(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()

    assert {
        "/api/registry/residents",
        "/api/registry/residents/{resident_id}",
        "/api/registry/places",
    } <= set(schema["paths"])
    assert {tag["name"] for tag in schema["tags"]} >= {
        "residents",
        "households",
        "places",
        "institutions",
        "staff",
        "teams",
    }
    assert "422" in schema["paths"]["/api/registry/residents"]["post"]["responses"]
    assert "409" in schema["paths"]["/api/registry/residents"]["post"]["responses"]


def test_it_serves_the_docs_page_from_local_assets(client: Client) -> None:
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert b"cdn." not in response.content
    assert b"/static/ninja/" in response.content


def test_it_refuses_every_registry_operation_to_anonymous_callers(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()
    operations = [
        (method, re.sub(r"\{[a-z_]+\}", "1", path))
        for path, item in schema["paths"].items()
        if path.startswith("/api/registry/")
        for method in item
    ]
    assert len(operations) >= 15

    for method, path in operations:
        if method == "get":
            response = client.get(path)
        else:
            response = getattr(client, method)(path, "{}", content_type="application/json")
        assert response.status_code == 401, (method, path)
