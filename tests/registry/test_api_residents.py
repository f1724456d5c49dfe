"""The residents API: scope, masking, audit, filters, writes and their errors."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayi import access
from jiayi.audit.models import Action, AuditEntry, Outcome
from jiayi.registry import identity, services
from jiayi.registry.choices import KeyPopulation, PlaceLevel
from jiayi.registry.models import Place, Resident

from .helpers import as_json, assert_nothing_unmasked, audit_entries, new_resident, unused_citizen_id

pytestmark = pytest.mark.django_db
URL = "/api/registry/residents"
NOT_FOUND = {"detail": "Not Found"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def doctor(personas: Any) -> Client:
    return client_for(personas.doctor)


@pytest.fixture
def committee(personas: Any) -> Place:
    place = access.committees_assignable_by(personas.doctor).order_by("code").first()
    assert place is not None
    return place


def all_ids(client: Client, query: str = "") -> list[int]:
    response = client.get(f"{URL}?page_size=100{query}")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] <= 100, "the test district grew: page through it"
    return [item["id"] for item in body["items"]]


def post(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, as_json(data), content_type="application/json")


def patch(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.patch(url, as_json(data), content_type="application/json")


# Reading -----------------------------------------------------------------------------------------------


def test_it_requires_authentication(client: Client) -> None:
    response = client.get(URL)

    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_it_lists_exactly_the_residents_in_scope(personas: Any, doctor: Client) -> None:
    ids = all_ids(doctor)

    assert sorted(ids) == sorted(access.residents_visible_to(personas.doctor).values_list("pk", flat=True))


@pytest.mark.parametrize(
    "persona", ["doctor", "nurse", "manager", "other_doctor", "desk", "cdc", "analyst", "admin", "resident"]
)
def test_it_agrees_with_the_policy_in_lists_and_details(personas: Any, persona: str) -> None:
    """The list and the detail answer from the same policy function (security.md A2)."""
    user = getattr(personas, persona)
    client = client_for(user)
    visible = set(access.residents_visible_to(user).values_list("pk", flat=True))
    sample = set(Resident.objects.filter(pk__in=visible).values_list("pk", flat=True)[:5])
    sample |= set(Resident.objects.exclude(pk__in=visible).values_list("pk", flat=True)[::60])

    for pk in sample:
        assert client.get(f"{URL}/{pk}").status_code == (200 if pk in visible else 404)
    if access.can_list_residents(user):
        assert set(all_ids(client)) == visible


def test_it_never_lists_a_resident_out_of_scope(doctor: Client, resident_out_of_scope: Resident) -> None:
    assert resident_out_of_scope.pk not in all_ids(doctor)
    assert all_ids(doctor, f"&q={resident_out_of_scope.citizen_id}") == []


def test_it_masks_every_identifier_in_the_list(doctor: Client) -> None:
    response = doctor.get(f"{URL}?page_size=100")

    assert_nothing_unmasked(response.content)
    first = response.json()["items"][0]
    stored = Resident.objects.get(pk=first["id"])
    assert first["masked_citizen_id"] == identity.mask_citizen_id(stored.citizen_id)
    assert first["masked_phone"] == identity.mask_phone(stored.phone)


def test_it_audits_a_search_once_with_its_query_and_count(personas: Any, doctor: Client) -> None:
    response = doctor.get(f"{URL}?sex=female&page_size=5")

    entry = audit_entries(action=Action.SEARCH).get()
    assert entry.actor == personas.doctor
    assert entry.outcome == Outcome.OK
    assert entry.detail["query"] == {"sex": "female", "sort": "id"}
    assert entry.detail["count"] == response.json()["count"]
    assert entry.detail["resident_ids"] == [item["id"] for item in response.json()["items"]]


def test_it_finds_a_resident_by_full_citizen_id(doctor: Client, resident_in_scope: Resident) -> None:
    assert resident_in_scope.citizen_id is not None

    ids = all_ids(doctor, f"&q={resident_in_scope.citizen_id.lower()}")

    assert ids == [resident_in_scope.pk]
    entry = audit_entries(action=Action.SEARCH).get()
    assert entry.detail["query"]["q"] == "<citizen ID, exact>"
    assert resident_in_scope.citizen_id not in str(entry.detail)


def test_it_searches_by_post_to_keep_the_citizen_id_out_of_the_url(
    doctor: Client, resident_in_scope: Resident
) -> None:
    response = post(doctor, f"{URL}/search", {"q": resident_in_scope.citizen_id})

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [resident_in_scope.pk]
    assert_nothing_unmasked(response.content)


def test_it_finds_residents_by_name_prefix(
    personas: Any, doctor: Client, resident_in_scope: Resident
) -> None:
    prefix = resident_in_scope.name[:1]

    ids = all_ids(doctor, f"&q={prefix}")

    expected = access.residents_visible_to(personas.doctor).filter(name__startswith=prefix)
    assert sorted(ids) == sorted(expected.values_list("pk", flat=True))


@pytest.mark.parametrize(("age_min", "age_max"), [(65, None), (None, 6), (18, 44)])
def test_it_filters_by_age(personas: Any, doctor: Client, age_min: int | None, age_max: int | None) -> None:
    query = "".join(
        f"&{name}={value}" for name, value in [("age_min", age_min), ("age_max", age_max)] if value
    )
    today = timezone.localdate()

    ids = all_ids(doctor, query)

    expected = [
        r.pk
        for r in access.residents_visible_to(personas.doctor)
        if (age_min or 0) <= r.age_on(today) <= (age_max if age_max is not None else 200)
    ]
    assert sorted(ids) == sorted(expected)
    assert ids


def test_it_filters_by_sex_committee_and_sub_district(
    personas: Any, doctor: Client, resident_in_scope: Resident
) -> None:
    committee = resident_in_scope.committee
    assert committee is not None
    assert committee.parent is not None
    visible = access.residents_visible_to(personas.doctor)

    assert sorted(all_ids(doctor, "&sex=male")) == sorted(
        visible.filter(sex="male").values_list("pk", flat=True)
    )
    assert sorted(all_ids(doctor, f"&committee_code={committee.code}")) == sorted(
        visible.filter(committee=committee).values_list("pk", flat=True)
    )
    assert sorted(all_ids(doctor, f"&sub_district_code={committee.parent.code}")) == sorted(
        visible.filter(committee__parent=committee.parent).values_list("pk", flat=True)
    )


def test_it_filters_by_a_declared_key_population(
    personas: Any, doctor: Client, resident_in_scope: Resident
) -> None:
    services.do_declare_key_population(
        personas.doctor, resident_in_scope, KeyPopulation.DISABLED, valid_from=date(2020, 1, 1)
    )

    assert all_ids(doctor, "&key_population=disabled") == [resident_in_scope.pk]


@pytest.mark.parametrize(("sort", "key"), [("name", "name"), ("-birth_date", "birth_date")])
def test_it_sorts_by_an_allowed_field(doctor: Client, sort: str, key: str) -> None:
    items = doctor.get(f"{URL}?page_size=100&sort={sort}").json()["items"]

    values = [item[key] for item in items]
    assert values == sorted(values, reverse=sort.startswith("-"))


@pytest.mark.parametrize(
    "sort", ["citizen_id", "phone", "password", "name;DROP TABLE registry_resident", "-name,id"]
)
def test_it_refuses_a_sort_outside_the_allowlist(doctor: Client, sort: str) -> None:
    response = doctor.get(URL, {"sort": sort})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["detail"]] == ["sort"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "'"}, "q"),
        ({"q": "张' OR '1'='1"}, "q"),
        ({"q": ";DROP TABLE registry_resident"}, "q"),
        ({"q": "__"}, "q"),
        ({"committee_code": "1' OR 1=1"}, "committee_code"),
        ({"sex": "male' --"}, "sex"),
        ({"committee__code__gt": "0"}, "committee__code__gt"),
        ({"age_min": "ten"}, "age_min"),
        ({"age_min": "70", "age_max": "60"}, "age_max"),
        ({"page_size": "1000"}, "page_size"),
    ],
)
def test_it_refuses_malformed_filters_naming_them(doctor: Client, params: dict[str, str], field: str) -> None:
    response = doctor.get(URL, params)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["detail"]] == [field]


def test_it_keeps_the_list_to_a_fixed_number_of_queries(
    doctor: Client, django_assert_max_num_queries: Any
) -> None:
    with CaptureQueriesContext(connection) as small:
        doctor.get(f"{URL}?page_size=2")
    with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as large:
        response = doctor.get(f"{URL}?page_size=100")

    assert len(response.json()["items"]) > 2
    assert len(large.captured_queries) == len(small.captured_queries)


@pytest.mark.parametrize("persona", ["desk", "cdc", "analyst", "admin", "resident"])
def test_it_refuses_lists_to_roles_that_do_not_list_people(personas: Any, persona: str) -> None:
    response = client_for(getattr(personas, persona)).get(URL)

    assert response.status_code == 403
    assert audit_entries(action=Action.SEARCH).get().outcome == Outcome.DENIED


def test_it_shows_a_resident_in_scope_and_audits_the_read(
    personas: Any, doctor: Client, resident_in_scope: Resident
) -> None:
    response = doctor.get(f"{URL}/{resident_in_scope.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == resident_in_scope.pk
    assert body["masked_citizen_id"] == resident_in_scope.masked_citizen_id
    assert "citizen_id" not in body
    assert "phone" not in body
    assert_nothing_unmasked(response.content)
    entry = audit_entries(action=Action.READ).get()
    assert (entry.resident_id, entry.outcome, entry.actor) == (
        resident_in_scope.pk,
        Outcome.OK,
        personas.doctor,
    )


def test_it_answers_out_of_scope_exactly_like_nonexistent(
    doctor: Client, resident_out_of_scope: Resident
) -> None:
    hidden = doctor.get(f"{URL}/{resident_out_of_scope.pk}")
    missing = doctor.get(f"{URL}/{10**9}")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json() == NOT_FOUND
    denied = audit_entries(action=Action.READ, outcome=Outcome.DENIED)
    assert [(e.resource_id, e.resident_id) for e in denied] == [
        (str(resident_out_of_scope.pk), resident_out_of_scope.pk),
        (str(10**9), None),
    ]


def test_it_lets_the_other_centres_doctor_see_their_resident(
    personas: Any, resident_out_of_scope: Resident
) -> None:
    response = client_for(personas.other_doctor).get(f"{URL}/{resident_out_of_scope.pk}")

    assert response.status_code == 200


def test_it_lets_a_resident_read_their_own_record_only(personas: Any, resident_in_scope: Resident) -> None:
    client = client_for(personas.resident)

    assert client.get(f"{URL}/{personas.resident.account.resident_id}").status_code == 200
    assert client.get(f"{URL}/{resident_in_scope.pk}").status_code == 404


def test_it_shows_key_populations_derived_and_declared(
    personas: Any, doctor: Client, resident_in_scope: Resident
) -> None:
    response = post(
        doctor,
        f"{URL}/{resident_in_scope.pk}/key-populations",
        {"key_population": "hypertension", "valid_from": "2024-01-01"},
    )
    assert response.status_code == 201

    body = doctor.get(f"{URL}/{resident_in_scope.pk}").json()

    assert "hypertension" in body["key_populations"]
    assert [d["key_population"] for d in body["key_population_declarations"]] == ["hypertension"]
    if resident_in_scope.age_on(timezone.localdate()) >= 65:
        assert "elderly_65" in body["key_populations"]


# Creating ----------------------------------------------------------------------------------------------


def test_it_registers_a_resident(personas: Any, doctor: Client, committee: Place) -> None:
    data = new_resident(committee.pk)

    response = post(doctor, URL, data)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["masked_citizen_id"] == identity.mask_citizen_id(data["citizen_id"])
    assert body["masked_phone"] == "138****5678"
    assert_nothing_unmasked(response.content)
    assert Resident.objects.get(pk=body["id"]).citizen_id == data["citizen_id"]
    assert audit_entries(action=Action.CREATE, resident_id=body["id"]).get().actor == personas.doctor


def test_it_refuses_an_invalid_citizen_id_naming_the_field(doctor: Client, committee: Place) -> None:
    before = Resident.objects.count()

    response = post(doctor, URL, new_resident(committee.pk, citizen_id="110105194912310021"))

    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "citizen_id", "message": "citizen ID check character is 1, expected X"}]
    }
    assert Resident.objects.count() == before
    assert not audit_entries(action=Action.CREATE).exists()


def test_it_shapes_schema_errors_like_service_errors(doctor: Client, committee: Place) -> None:
    data = new_resident(committee.pk, sex="other", birth_date="1949-02-30", extra="x")
    del data["name"]

    response = post(doctor, URL, data)

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"field": "name", "message": "Field required"},
            {"field": "sex", "message": "Input should be 'male', 'female' or 'unknown'"},
            {
                "field": "birth_date",
                "message": "Input should be a valid date or datetime, day value is outside expected range",
            },
            {"field": "extra", "message": "Extra inputs are not permitted"},
        ]
    }


def test_it_never_echoes_the_input_in_errors(doctor: Client, committee: Place) -> None:
    response = post(doctor, URL, new_resident(committee.pk, citizen_id=12345678901234567, phone=13812345678))

    assert response.status_code == 422
    assert_nothing_unmasked(response.content)


def test_it_answers_409_naming_the_resident_who_holds_the_citizen_id(
    doctor: Client, committee: Place, resident_in_scope: Resident
) -> None:
    before = Resident.objects.count()
    data = new_resident(
        committee.pk,
        citizen_id=resident_in_scope.citizen_id,
        birth_date=resident_in_scope.birth_date,
        sex=resident_in_scope.sex,
    )

    response = post(doctor, URL, data)

    assert response.status_code == 409
    assert response.json() == {
        "detail": [
            {
                "field": "citizen_id",
                "message": f"resident #{resident_in_scope.pk} already has this citizen ID",
            }
        ],
        "existing_resident_id": resident_in_scope.pk,
    }
    assert Resident.objects.count() == before


def test_it_refuses_to_register_into_a_committee_out_of_scope(
    personas: Any, doctor: Client, resident_out_of_scope: Resident
) -> None:
    foreign = resident_out_of_scope.committee
    assert foreign is not None

    response = post(doctor, URL, new_resident(foreign.pk))

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"field": "committee_id", "message": f"you cannot register residents in committee {foreign.code}"}
    ]


@pytest.mark.parametrize("persona", ["desk", "cdc", "analyst", "admin", "resident"])
def test_it_refuses_registration_to_roles_without_it(personas: Any, committee: Place, persona: str) -> None:
    before = Resident.objects.count()

    response = post(client_for(getattr(personas, persona)), URL, new_resident(committee.pk))

    assert response.status_code == 403
    assert Resident.objects.count() == before


# Updating ----------------------------------------------------------------------------------------------


def test_it_updates_the_fields_sent(personas: Any, doctor: Client, resident_in_scope: Resident) -> None:
    response = patch(doctor, f"{URL}/{resident_in_scope.pk}", {"phone": "13900001111"})

    assert response.status_code == 200
    assert response.json()["masked_phone"] == "139****1111"
    assert_nothing_unmasked(response.content)
    stored = Resident.objects.get(pk=resident_in_scope.pk)
    assert (stored.phone, stored.name) == ("13900001111", resident_in_scope.name)
    entry = audit_entries(action=Action.UPDATE).get()
    assert (entry.resident_id, entry.detail) == (resident_in_scope.pk, {"fields": ["phone"]})


def test_it_clears_an_optional_field_with_null(doctor: Client, resident_in_scope: Resident) -> None:
    response = patch(doctor, f"{URL}/{resident_in_scope.pk}", {"phone": None})

    assert response.status_code == 200
    assert Resident.objects.get(pk=resident_in_scope.pk).phone == ""


def test_it_answers_404_when_updating_out_of_scope_and_writes_nothing(
    doctor: Client, resident_out_of_scope: Resident
) -> None:
    before = Resident.objects.values().get(pk=resident_out_of_scope.pk)

    response = patch(doctor, f"{URL}/{resident_out_of_scope.pk}", {"name": "改名"})

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert Resident.objects.values().get(pk=resident_out_of_scope.pk) == before
    entry = audit_entries(action=Action.UPDATE).get()
    assert (entry.outcome, entry.resident_id) == (Outcome.DENIED, resident_out_of_scope.pk)


def test_it_answers_403_to_a_resident_changing_their_own_record(personas: Any) -> None:
    own = personas.resident.account.resident_id

    response = patch(client_for(personas.resident), f"{URL}/{own}", {"name": "改名"})

    assert response.status_code == 403


def test_it_refuses_a_change_that_breaks_the_citizen_id(doctor: Client, resident_in_scope: Resident) -> None:
    before = Resident.objects.values().get(pk=resident_in_scope.pk)

    response = patch(doctor, f"{URL}/{resident_in_scope.pk}", {"sex": "unknown", "birth_date": "1900-01-01"})

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["birth_date"]
    assert Resident.objects.values().get(pk=resident_in_scope.pk) == before


def test_it_answers_409_when_taking_another_residents_citizen_id(
    personas: Any, doctor: Client, resident_in_scope: Resident
) -> None:
    other = (
        access.residents_visible_to(personas.doctor)
        .exclude(pk=resident_in_scope.pk)
        .filter(citizen_id__isnull=False)
        .first()
    )
    assert other is not None

    response = patch(
        doctor,
        f"{URL}/{resident_in_scope.pk}",
        {"citizen_id": other.citizen_id, "birth_date": str(other.birth_date), "sex": other.sex},
    )

    assert response.status_code == 409
    assert response.json()["existing_resident_id"] == other.pk


def test_it_changes_a_citizen_id_to_a_new_valid_one(doctor: Client, resident_in_scope: Resident) -> None:
    female = resident_in_scope.sex == "female"
    new_id = unused_citizen_id(resident_in_scope.birth_date, female=female)

    response = patch(doctor, f"{URL}/{resident_in_scope.pk}", {"citizen_id": new_id})

    assert response.status_code == 200
    assert Resident.objects.get(pk=resident_in_scope.pk).citizen_id == new_id


def test_it_refuses_to_declare_for_a_resident_out_of_scope(
    doctor: Client, resident_out_of_scope: Resident
) -> None:
    response = post(
        doctor,
        f"{URL}/{resident_out_of_scope.pk}/key-populations",
        {"key_population": "disabled", "valid_from": "2024-01-01"},
    )

    assert response.status_code == 404
    assert not resident_out_of_scope.key_population_declarations.exists()


def test_it_answers_422_for_an_invalid_declaration(doctor: Client, resident_in_scope: Resident) -> None:
    response = post(
        doctor,
        f"{URL}/{resident_in_scope.pk}/key-populations",
        {"key_population": "child_0_6", "valid_from": "2024-01-01"},
    )

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"field": "key_population", "message": "child_0_6 follows from the birth date and cannot be declared"}
    ]


def test_it_only_uses_committees_as_committees(doctor: Client) -> None:
    district = Place.objects.filter(level=PlaceLevel.DISTRICT).get()

    response = post(doctor, URL, new_resident(district.pk))

    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "committee_id"


def test_it_keeps_every_response_masked_across_the_flow(
    personas: Any, doctor: Client, committee: Place, resident_in_scope: Resident
) -> None:
    created = post(doctor, URL, new_resident(committee.pk)).json()
    responses = [
        doctor.get(f"{URL}?page_size=100"),
        doctor.get(f"{URL}/{created['id']}"),
        patch(doctor, f"{URL}/{created['id']}", {"phone": "15000000000"}),
        post(doctor, f"{URL}/search", {"q": resident_in_scope.citizen_id}),
    ]

    for response in responses:
        assert response.status_code == 200
        assert_nothing_unmasked(response.content)
    assert AuditEntry.objects.filter(actor=personas.doctor).count() == 5
