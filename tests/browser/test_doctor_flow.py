"""A family doctor's morning: log in, find a resident, open their record; identifiers stay masked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from jiayi import access
from jiayi.registry.demo import DEMO_PASSWORD
from jiayi.registry.models import Resident

pytestmark = pytest.mark.browser

UNMASKED = re.compile(r"\d{17}[\dXx]|1[3-9]\d{9}")
MASKED_ID = re.compile(r"^\d{3}\*{11}[\dX]{4}$")


def doctor_resident() -> Resident:
    """A resident the demo family doctor serves, with a citizen ID and a distinctive name prefix."""
    from django.contrib.auth.models import User

    doctor = User.objects.get(username="doctor")
    resident = (
        access.residents_visible_to(doctor)
        .filter(citizen_id__isnull=False, date_of_death__isnull=True)
        .order_by("id")
        .first()
    )
    assert resident is not None
    return resident


def log_in(page: Any, username: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def assert_page_masked(page: Any) -> None:
    html = page.content()
    found = UNMASKED.findall(html)
    assert not found, f"{len(found)} unmasked identifiers on {page.url}"


def test_it_finds_a_resident_and_shows_their_record_masked(page: Any, artifacts: Path) -> None:
    resident = doctor_resident()
    assert resident.citizen_id

    page.goto("/login/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.is_visible("text=登录家医")
    page.screenshot(path=str(artifacts / "doctor-01-login.png"))

    log_in(page, "doctor")
    assert page.is_visible("text=您负责的居委/村委居民")
    assert_page_masked(page)
    page.screenshot(path=str(artifacts / "doctor-02-home.png"))

    # Search by name prefix: the table updates in place and the address bar follows the search.
    page.click("nav.main-nav >> text=居民")
    page.wait_for_url(re.compile(r"/residents/$"))
    prefix = resident.name[:2]
    page.fill("#id_q", prefix)
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.press("#id_q", "Enter")
    page.wait_for_url(re.compile(r"/residents/\?q="))
    rows = page.locator("#results tbody tr")
    assert rows.count() >= 1
    names = page.locator("#results tbody tr td:first-child a").all_inner_texts()
    assert names
    assert all(name.startswith(prefix) for name in names)
    assert_page_masked(page)
    page.screenshot(path=str(artifacts / "doctor-03-search.png"))

    # Search by the full citizen ID: found, and the ID never reaches the address bar.
    page.fill("#id_q", resident.citizen_id)
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.press("#id_q", "Enter")
    page.wait_for_selector(f"#results a[href='/residents/{resident.pk}/']")
    assert resident.citizen_id not in page.url
    assert page.locator("#results tbody tr").count() == 1
    # What the doctor typed stays in the box, but the server never wrote it into the page.
    assert page.input_value("#id_q") == resident.citizen_id
    assert resident.citizen_id not in page.content()

    page.click(f"#results a[href='/residents/{resident.pk}/']")
    page.wait_for_url(re.compile(rf"/residents/{resident.pk}/$"))
    shown_id = page.inner_text("dd[data-field=identifier]").strip()
    assert MASKED_ID.match(shown_id), shown_id
    assert shown_id == resident.masked_citizen_id
    assert resident.citizen_id not in page.content()
    assert_page_masked(page)
    assert page.is_visible("text=重点人群")
    page.screenshot(path=str(artifacts / "doctor-04-resident.png"), full_page=True)

    # The language switch gives English on the same page.
    page.click("form.language button[value=en]")
    page.wait_for_url(re.compile(rf"/residents/{resident.pk}/$"))
    assert page.get_attribute("html", "lang") == "en"
    assert page.is_visible("text=Key populations")
    page.screenshot(path=str(artifacts / "doctor-05-resident-en.png"), full_page=True)

    assert not page.problems, page.problems


def test_it_pages_through_residents_with_htmx(page: Any, artifacts: Path) -> None:
    log_in(page, "doctor")
    page.goto("/residents/")
    first = page.locator("#results tbody tr td:first-child a").first.inner_text()
    with page.expect_response(lambda response: response.request.headers.get("hx-request") == "true"):
        page.click("#results a[rel=next]")
    page.wait_for_url(re.compile(r"page=2"))
    assert page.locator("#results tbody tr").count() >= 1
    assert page.locator("#results tbody tr td:first-child a").first.inner_text() != first
    page.screenshot(path=str(artifacts / "doctor-06-page-2.png"))
    assert not page.problems, page.problems


def test_it_keeps_analysts_to_aggregates(page: Any, artifacts: Path) -> None:
    log_in(page, "analyst")
    assert page.is_visible("text=全区概况")
    assert_page_masked(page)
    page.screenshot(path=str(artifacts / "analyst-01-home.png"), full_page=True)
    response = page.goto("/residents/")
    assert response is not None
    assert response.status == 404
    assert not [problem for problem in page.problems if "404" not in problem], page.problems
