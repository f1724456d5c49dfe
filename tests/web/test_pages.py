"""The server-rendered pages: who sees what, masking, audit, query counts, CSRF and the resident form."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern

from jiayi import access
from jiayi.audit.models import Action, AuditEntry, Outcome
from jiayi.registry import identity
from jiayi.registry.models import Institution, Place, Resident, Staff, Team
from jiayi.web import urls as web_urls

pytestmark = pytest.mark.django_db

UNMASKED = re.compile(r"\d{17}[\dXx]|1[3-9]\d{9}")
CLINICAL = ("doctor", "nurse", "manager")
NON_CLINICAL_STAFF = ("desk", "cdc", "analyst", "admin")
ALL_ROLES = (*CLINICAL, "other_doctor", *NON_CLINICAL_STAFF, "resident")


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_nothing_unmasked(html: bytes) -> None:
    found = UNMASKED.findall(html.decode())
    assert not found, f"{len(found)} unmasked identifiers in the page"


def audit_entries(**filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


def unused_citizen_id(birth: date, *, female: bool) -> str:
    for sequence in range(0 if female else 1, 1000, 2):
        number = identity.make_citizen_id("310105", birth, sequence)
        if not Resident.objects.filter(citizen_id=number).exists():
            return number
    raise AssertionError("no free sequence number")


@pytest.fixture
def master_urls() -> list[str]:
    place = Place.objects.filter(level="committee").order_by("code").first()
    sub_district = Place.objects.filter(level="sub_district").order_by("code").first()
    institution = Institution.objects.filter(kind="community_health_centre").order_by("code").first()
    team = Team.objects.order_by("id").first()
    assert place
    assert sub_district
    assert institution
    assert team
    return [
        "/places/",
        f"/places/{place.pk}/",
        f"/places/{sub_district.pk}/",
        f"/places/{place.parent_id}/",
        "/institutions/",
        f"/institutions/{institution.pk}/",
        "/teams/",
        f"/teams/{team.pk}/",
    ]


def people_urls(resident: Resident) -> list[str]:
    return [
        "/residents/",
        "/residents/?age_band=65%2B",
        f"/residents/{resident.pk}/",
        "/households/",
        f"/households/{resident.household_id}/",
    ]


# ------------------------------------------------------------------------------------------- access


@pytest.mark.parametrize("role", ALL_ROLES)
def test_it_renders_the_home_page_for_every_role(personas: Any, role: str) -> None:
    response = client_for(getattr(personas, role)).get("/")
    assert response.status_code == 200
    assert "家医" in response.content.decode()
    assert_nothing_unmasked(response.content)


@pytest.mark.parametrize("role", CLINICAL)
def test_it_shows_people_pages_to_the_clinical_roles(
    personas: Any, resident_in_scope: Resident, role: str
) -> None:
    client = client_for(getattr(personas, role))
    for url in people_urls(resident_in_scope):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_nothing_unmasked(response.content)


@pytest.mark.parametrize("role", [*NON_CLINICAL_STAFF, "resident"])
def test_it_answers_404_on_people_pages_to_other_roles(
    personas: Any, resident_in_scope: Resident, role: str
) -> None:
    client = client_for(getattr(personas, role))
    for url in people_urls(resident_in_scope):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("role", [*CLINICAL, "other_doctor", *NON_CLINICAL_STAFF])
def test_it_shows_master_data_to_staff(personas: Any, master_urls: list[str], role: str) -> None:
    client = client_for(getattr(personas, role))
    for url in master_urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_nothing_unmasked(response.content)


def test_it_refuses_master_data_to_residents(personas: Any, master_urls: list[str]) -> None:
    client = client_for(personas.resident)
    for url in master_urls:
        assert client.get(url).status_code == 403, url


def test_it_sends_anonymous_users_to_login(resident_in_scope: Resident, master_urls: list[str]) -> None:
    client = Client()
    for url in ["/", *people_urls(resident_in_scope), *master_urls, "/residents/new/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_it_denies_every_page_to_anonymous_users_by_default(db: None) -> None:
    """Walk every route of the web app: only the login page answers without a session."""
    client = Client()
    for pattern in web_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern).replace("<int:pk>", "1")
        response = client.get(f"/{route}")
        if route == "login/":
            assert response.status_code == 200
        elif route == "logout/":
            assert response.status_code == 405
        else:
            assert response.status_code == 302, route
            assert response["Location"].startswith("/login/"), route


def test_it_hides_an_out_of_scope_resident_and_audits_the_denial(
    personas: Any, resident_out_of_scope: Resident
) -> None:
    response = client_for(personas.doctor).get(f"/residents/{resident_out_of_scope.pk}/")
    assert response.status_code == 404
    assert resident_out_of_scope.name not in response.content.decode()
    denied = audit_entries(resident_id=resident_out_of_scope.pk, outcome=Outcome.DENIED)
    assert len(denied) == 1
    assert denied[0].actor_id == personas.doctor.pk


def test_it_answers_a_missing_resident_like_an_out_of_scope_one(
    personas: Any, resident_out_of_scope: Resident
) -> None:
    client = client_for(personas.doctor)
    missing = client.get("/residents/999999999/")
    hidden = client.get(f"/residents/{resident_out_of_scope.pk}/")
    assert missing.status_code == hidden.status_code == 404

    def normalised(html: bytes) -> str:
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html.decode())
        return re.sub(r'name="next" value="[^"]+"', "", text)

    assert normalised(missing.content) == normalised(hidden.content)


def test_it_hides_an_out_of_scope_household(personas: Any, resident_out_of_scope: Resident) -> None:
    household = resident_out_of_scope.household
    assert household is not None
    assert not access.households_visible_to(personas.doctor).filter(pk=household.pk).exists()
    response = client_for(personas.doctor).get(f"/households/{household.pk}/")
    assert response.status_code == 404
    assert audit_entries(resource_type="household", resource_id=str(household.pk), outcome=Outcome.DENIED)


def test_it_lets_the_admin_persona_see_no_clinical_page(personas: Any, resident_in_scope: Resident) -> None:
    client = client_for(personas.admin)
    response = client.get(f"/residents/{resident_in_scope.pk}/")
    assert response.status_code == 404
    assert audit_entries(actor=personas.admin, outcome=Outcome.DENIED)


def test_it_lets_a_resident_read_their_own_record_only(personas: Any, resident_in_scope: Resident) -> None:
    client = client_for(personas.resident)
    own_id = personas.resident.account.resident_id
    assert client.get(f"/residents/{own_id}/").status_code == 200
    assert client.get(f"/residents/{resident_in_scope.pk}/").status_code == 404


def test_it_shows_the_resident_their_household_as_its_head(personas: Any) -> None:
    me = personas.resident.account.resident
    response = client_for(personas.resident).get("/")
    html = response.content.decode()
    assert me.name in html
    assert me.masked_citizen_id in html
    for member in Resident.objects.filter(household=me.household_id):
        assert member.name in html
    assert_nothing_unmasked(response.content)


def test_it_lists_only_residents_in_scope(personas: Any, resident_out_of_scope: Resident) -> None:
    client = client_for(personas.doctor)
    found = client.post("/residents/", {"q": resident_out_of_scope.citizen_id})
    assert found.status_code == 200
    assert resident_out_of_scope.name not in found.content.decode()
    listed = set()
    for page in range(1, 100):
        html = client.get(f"/residents/?page={page}").content.decode()
        listed |= {int(pk) for pk in re.findall(r'<td><a href="/residents/(\d+)/">', html)}
        if 'rel="next"' not in html:
            break
    assert listed == set(access.residents_visible_to(personas.doctor).values_list("pk", flat=True))


# -------------------------------------------------------------------------------------- no leaks


def test_it_never_renders_an_unmasked_identifier(personas: Any, resident_in_scope: Resident) -> None:
    client = client_for(personas.doctor)
    assert resident_in_scope.citizen_id
    pages = [
        client.get("/"),
        client.get("/residents/"),
        client.get("/residents/?page=2"),
        client.post("/residents/", {"q": resident_in_scope.citizen_id}),
        client.post("/residents/", {"q": resident_in_scope.citizen_id}, headers={"HX-Request": "true"}),
        client.get(f"/residents/{resident_in_scope.pk}/"),
        client.get(f"/residents/{resident_in_scope.pk}/edit/"),
        client.get("/residents/new/"),
        client.get("/households/"),
        client.get(f"/households/{resident_in_scope.household_id}/"),
    ]
    for response in pages:
        assert response.status_code == 200
        assert_nothing_unmasked(response.content)
        assert resident_in_scope.citizen_id not in response.content.decode()


@pytest.mark.parametrize("role", ["analyst", "cdc"])
def test_it_shows_aggregates_only_to_analysts(personas: Any, master_urls: list[str], role: str) -> None:
    staff_and_places = {
        *Staff.objects.values_list("name", flat=True),
        *Place.objects.values_list("name", flat=True),
        *Institution.objects.values_list("name", flat=True),
    }
    resident_names = {
        name
        for name in Resident.objects.values_list("name", flat=True)
        if not any(name in other for other in staff_and_places)
    }
    client = client_for(getattr(personas, role))
    for url in ["/", *master_urls]:
        html = client.get(url).content.decode()
        assert_nothing_unmasked(html.encode())
        leaked = [name for name in resident_names if name in html]
        assert not leaked, f"{url} names {len(leaked)} residents"


def test_it_suppresses_small_cells_for_analysts(personas: Any) -> None:
    html = client_for(personas.analyst).get("/").content.decode()
    table = html.split('id="population-by-age"')[1].split("</table>")[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', table)
    assert cells
    for cell in cells:
        assert cell.startswith("&lt;") or cell in {"0"} or int(cell.replace(",", "")) >= 5


def test_it_escapes_markup_in_names(personas: Any, resident_in_scope: Resident) -> None:
    Resident.objects.filter(pk=resident_in_scope.pk).update(name='"><svg onload=alert(1)>')
    client = client_for(personas.doctor)
    for url in [
        f"/residents/{resident_in_scope.pk}/",
        f"/residents/?committee={resident_in_scope.committee_id}",
    ]:
        html = client.get(url).content.decode()
        assert "<svg onload" not in html
        assert "&quot;&gt;&lt;svg onload=alert(1)&gt;" in html


def test_it_keeps_error_pages_free_of_internals(personas: Any) -> None:
    response = client_for(personas.doctor).get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Traceback" not in html
    assert "urlpatterns" not in html.lower()
    assert "jiayi.web" not in html


# -------------------------------------------------------------------------------------------- audit


def test_it_audits_one_entry_per_list_request(personas: Any) -> None:
    client = client_for(personas.doctor)
    before = AuditEntry.objects.count()
    client.get("/residents/")
    client.get("/residents/?age_band=65%2B")
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert [(e.action, e.resource_type) for e in entries] == [
        (Action.READ, "resident"),
        (Action.SEARCH, "resident"),
    ]
    assert entries[1].detail["age_band"] == "65+"


def test_it_audits_a_resident_read_with_the_resident_id(personas: Any, resident_in_scope: Resident) -> None:
    before = AuditEntry.objects.count()
    client_for(personas.nurse).get(f"/residents/{resident_in_scope.pk}/")
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert len(entries) == 1
    assert entries[0].action == Action.READ
    assert entries[0].outcome == Outcome.OK
    assert entries[0].resident_id == resident_in_scope.pk


def test_it_keeps_a_searched_citizen_id_out_of_the_audit_detail(
    personas: Any, resident_in_scope: Resident
) -> None:
    citizen_id = resident_in_scope.citizen_id
    assert citizen_id is not None
    client_for(personas.doctor).post("/residents/", {"q": citizen_id})
    entry = AuditEntry.objects.order_by("-id").first()
    assert entry is not None
    assert entry.action == Action.SEARCH
    assert entry.detail["citizen_id"] == "exact"
    assert citizen_id not in str(entry.detail)


# ------------------------------------------------------------------------------------------- search


def test_it_finds_residents_by_name_prefix(personas: Any, resident_in_scope: Resident) -> None:
    prefix = resident_in_scope.name[:1]
    response = client_for(personas.doctor).get("/residents/", {"q": prefix})
    html = response.content.decode()
    assert resident_in_scope.name in html or "page=2" in html
    names = re.findall(r'<td><a href="/residents/\d+/">([^<]+)</a></td>', html)
    assert names
    assert all(name.startswith(prefix) for name in names)


def test_it_finds_a_resident_by_citizen_id_without_putting_it_in_a_url(
    personas: Any, resident_in_scope: Resident
) -> None:
    client = client_for(personas.doctor)
    response = client.post("/residents/", {"q": resident_in_scope.citizen_id}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Push-Url"] == "false"
    html = response.content.decode()
    assert "<html" not in html
    assert f'href="/residents/{resident_in_scope.pk}/"' in html
    assert len(re.findall(r'<td><a href="/residents/\d+/">', html)) == 1


def test_it_redirects_a_name_search_to_a_bookmarkable_url(personas: Any) -> None:
    response = client_for(personas.doctor).post("/residents/", {"q": "王", "age_band": "65+"})
    assert response.status_code == 302
    assert response["Location"] == "/residents/?q=%E7%8E%8B&age_band=65%2B"


def test_it_pushes_the_search_url_for_htmx(personas: Any) -> None:
    response = client_for(personas.doctor).post("/residents/", {"q": "王"}, headers={"HX-Request": "true"})
    assert response["HX-Push-Url"] == "/residents/?q=%E7%8E%8B"
    assert "HX-Request" in response["Vary"]


def test_it_pages_fifty_residents_at_a_time_with_htmx_partials(personas: Any) -> None:
    client = client_for(personas.doctor)
    total = access.residents_visible_to(personas.doctor).count()
    assert total > 50
    first = client.get("/residents/").content.decode()
    assert len(re.findall(r'<td><a href="/residents/\d+/">', first)) == 50
    assert 'hx-get="/residents/?page=2"' in first
    partial = client.get("/residents/?page=2", headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<section id="results"')
    assert len(re.findall(r'<td><a href="/residents/\d+/">', partial)) == min(50, total - 50)


def test_it_refuses_a_committee_filter_outside_scope(personas: Any, resident_out_of_scope: Resident) -> None:
    response = client_for(personas.doctor).get(f"/residents/?committee={resident_out_of_scope.committee_id}")
    assert response.status_code == 200
    assert not re.findall(r'<td><a href="/residents/\d+/">', response.content.decode())


def test_it_filters_by_key_population_and_age_band(personas: Any) -> None:
    client = client_for(personas.doctor)
    today = date.today()
    for params in ({"age_band": "0-6"}, {"key_population": "elderly_65"}):
        html = client.get("/residents/", params).content.decode()
        ids = [int(pk) for pk in re.findall(r'<td><a href="/residents/(\d+)/">', html)]
        assert ids
        for resident in Resident.objects.filter(pk__in=ids):
            age = resident.age_on(today)
            assert age <= 6 if "age_band" in params else age >= 65


# ---------------------------------------------------------------------------------- query counts


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_it_lists_residents_in_a_fixed_number_of_queries(
    personas: Any, resident_in_scope: Resident, django_assert_max_num_queries: Any
) -> None:
    client = client_for(personas.doctor)
    committee = resident_in_scope.committee_id
    one_row = _queries(client, f"/residents/?q={resident_in_scope.name}&committee={committee}")
    full_page = _queries(client, f"/residents/?committee={committee}")
    assert one_row == full_page
    with django_assert_max_num_queries(16):
        client.get("/residents/")


@pytest.mark.parametrize(
    "url",
    ["/", "/households/", "/places/", "/institutions/", "/teams/"],
)
def test_it_renders_lists_in_bounded_queries(
    personas: Any, url: str, django_assert_max_num_queries: Any
) -> None:
    client = client_for(personas.manager)
    with django_assert_max_num_queries(16):
        assert client.get(url).status_code == 200


def test_it_lists_households_in_a_fixed_number_of_queries(personas: Any, resident_in_scope: Resident) -> None:
    client = client_for(personas.doctor)
    household = resident_in_scope.household
    assert household is not None
    assert _queries(client, f"/households/?q={household.code}") == _queries(client, "/households/")


def test_it_renders_a_household_in_bounded_queries(
    personas: Any, resident_in_scope: Resident, django_assert_max_num_queries: Any
) -> None:
    client = client_for(personas.doctor)
    with django_assert_max_num_queries(16):
        client.get(f"/households/{resident_in_scope.household_id}/")
    with django_assert_max_num_queries(20):
        client.get(f"/residents/{resident_in_scope.pk}/")


# ------------------------------------------------------------------------------------ login, CSRF


def test_it_logs_in_and_out(personas: Any) -> None:
    client = Client()
    response = client.post("/login/", {"username": "doctor", "password": personas.password})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_it_explains_a_failed_login(personas: Any) -> None:
    response = Client().post("/login/", {"username": "doctor", "password": "wrong-password"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "wrong-password" not in html


def test_it_enforces_csrf_on_login(personas: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    refused = client.post("/login/", {"username": "doctor", "password": personas.password})
    assert refused.status_code == 403
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    accepted = client.post(
        "/login/",
        {"username": "doctor", "password": personas.password, "csrfmiddlewaretoken": token.group(1)},
    )
    assert accepted.status_code == 302


def test_it_enforces_csrf_on_search_and_logout(personas: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.doctor)
    assert client.post("/residents/", {"q": "王"}).status_code == 403
    assert client.post("/logout/").status_code == 403


def test_it_uses_no_inline_scripts_or_handlers(personas: Any) -> None:
    html = client_for(personas.doctor).get("/residents/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)


# -------------------------------------------------------------------------------- create and edit


def _form_data(committee: Place, **overrides: Any) -> dict[str, Any]:
    birth = date(1950, 3, 4)
    data = {
        "name": "测试居民",
        "sex": "female",
        "birth_date": birth.isoformat(),
        "citizen_id": unused_citizen_id(birth, female=True),
        "phone": "13912345678",
        "committee": str(committee.pk),
        "is_resident": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def committee(personas: Any) -> Place:
    place = access.committees_assignable_by(personas.doctor).order_by("code").first()
    assert place is not None
    return place


def test_it_registers_a_resident_through_the_form(personas: Any, committee: Place) -> None:
    client = client_for(personas.doctor)
    data = _form_data(committee)
    response = client.post("/residents/new/", data)
    assert response.status_code == 302
    resident = Resident.objects.get(citizen_id=data["citizen_id"])
    assert response["Location"] == f"/residents/{resident.pk}/"
    assert audit_entries(resident_id=resident.pk, action=Action.CREATE)
    page = client.get(response["Location"])
    assert_nothing_unmasked(page.content)


def test_it_shows_each_service_error_on_its_field_without_echoing_identifiers(
    personas: Any, committee: Place
) -> None:
    data = _form_data(committee, birth_date="1960-01-01")
    before = Resident.objects.count()
    response = client_for(personas.doctor).post("/residents/new/", data)
    assert response.status_code == 400
    assert Resident.objects.count() == before
    html = response.content.decode()
    assert "does not match the citizen ID" in html
    assert 'aria-invalid="true"' in html
    assert_nothing_unmasked(response.content)


def test_it_shows_every_problem_at_once(personas: Any) -> None:
    data = {"name": "测试", "sex": "male", "birth_date": "1960-01-01", "phone": "12345"}
    response = client_for(personas.doctor).post("/residents/new/", data)
    assert response.status_code == 400
    html = response.content.decode()
    invalid = set(
        re.findall(r'name="(\w+)"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*name="(\w+)"', html)
    )
    names = {name for pair in invalid for name in pair if name}
    assert {"committee", "phone"} <= names
    assert_nothing_unmasked(response.content)


def test_it_reports_a_duplicate_without_naming_the_other_resident(
    personas: Any, committee: Place, resident_out_of_scope: Resident
) -> None:
    assert resident_out_of_scope.citizen_id
    data = _form_data(
        committee,
        citizen_id=resident_out_of_scope.citizen_id,
        birth_date=resident_out_of_scope.birth_date.isoformat(),
        sex=resident_out_of_scope.sex,
    )
    response = client_for(personas.doctor).post("/residents/new/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert str(resident_out_of_scope.pk) not in re.findall(r"#(\d+)", html)
    assert resident_out_of_scope.name not in html
    assert_nothing_unmasked(response.content)


def test_it_refuses_the_form_to_roles_that_cannot_register(personas: Any, committee: Place) -> None:
    for role in ("analyst", "admin", "resident", "desk"):
        client = client_for(getattr(personas, role))
        assert client.get("/residents/new/").status_code == 404
        assert client.post("/residents/new/", _form_data(committee)).status_code == 404


def test_it_refuses_a_committee_outside_scope(personas: Any, resident_out_of_scope: Resident) -> None:
    committee = resident_out_of_scope.committee
    assert committee is not None
    response = client_for(personas.doctor).post("/residents/new/", _form_data(committee))
    assert response.status_code == 400


def test_it_edits_a_resident_keeping_blank_identifiers(personas: Any, resident_in_scope: Resident) -> None:
    client = client_for(personas.doctor)
    page = client.get(f"/residents/{resident_in_scope.pk}/edit/")
    assert page.status_code == 200
    assert resident_in_scope.masked_citizen_id in page.content.decode()
    data = {
        "name": "新名字",
        "sex": resident_in_scope.sex,
        "birth_date": resident_in_scope.birth_date.isoformat(),
        "alt_id_type": resident_in_scope.alt_id_type,
        "health_record_number": resident_in_scope.health_record_number or "",
        "committee": str(resident_in_scope.committee_id),
        "residential_point": str(resident_in_scope.residential_point_id or ""),
        "household_code": resident_in_scope.household.code if resident_in_scope.household else "",
        "relationship": resident_in_scope.relationship,
        "is_resident": "on" if resident_in_scope.is_resident else "",
        "is_registered": "on" if resident_in_scope.is_registered else "",
    }
    response = client.post(f"/residents/{resident_in_scope.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    updated = Resident.objects.get(pk=resident_in_scope.pk)
    assert updated.name == "新名字"
    assert updated.citizen_id == resident_in_scope.citizen_id
    assert updated.phone == resident_in_scope.phone
    assert audit_entries(resident_id=updated.pk, action=Action.UPDATE)


def test_it_refuses_to_edit_out_of_scope(personas: Any, resident_out_of_scope: Resident) -> None:
    client = client_for(personas.doctor)
    assert client.get(f"/residents/{resident_out_of_scope.pk}/edit/").status_code == 404
    response = client.post(f"/residents/{resident_out_of_scope.pk}/edit/", {"name": "x"})
    assert response.status_code == 404
    assert Resident.objects.get(pk=resident_out_of_scope.pk).name == resident_out_of_scope.name
    assert audit_entries(resident_id=resident_out_of_scope.pk, action=Action.UPDATE, outcome=Outcome.DENIED)


def test_it_refuses_to_edit_a_household_outside_scope(
    personas: Any, resident_in_scope: Resident, resident_out_of_scope: Resident
) -> None:
    other = resident_out_of_scope.household
    assert other is not None
    client = client_for(personas.doctor)
    data = {
        "name": resident_in_scope.name,
        "sex": resident_in_scope.sex,
        "birth_date": resident_in_scope.birth_date.isoformat(),
        "committee": str(resident_in_scope.committee_id),
        "household_code": other.code,
        "relationship": "child",
        "is_resident": "on",
    }
    response = client.post(f"/residents/{resident_in_scope.pk}/edit/", data)
    assert response.status_code == 400
    assert Resident.objects.get(pk=resident_in_scope.pk).household_id == resident_in_scope.household_id
