"""The health account in the browser: a family doctor opens a resident's account from the resident page
and reads the trends and timeline; the resident reads their own account in plain language."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from jiayi import access
from jiayi.records.services import import_bundle
from jiayi.registry.models import Resident
from tests.browser.test_doctor_flow import UNMASKED, log_in
from tests.records.helpers import bundle, condition, medication_request, observation

pytestmark = pytest.mark.browser


def _history(resident: Resident, actor: Any) -> None:
    """A year of quarterly readings at the clinic plus a few from a health post."""
    now = timezone.localtime()
    resources = [condition("bh-c", resident), medication_request("bh-r", resident)]
    for n in range(8):
        when = (now - timedelta(days=45 * (8 - n))).replace(microsecond=0).isoformat()
        resources += [
            observation(f"bh-s{n}", resident, value=158 - 3 * n, when=when),
            observation(f"bh-d{n}", resident, code="8462-4", value=96 - 2 * n, when=when),
            observation(f"bh-g{n}", resident, code="1558-6", value=8.4 - 0.2 * n, unit="mmol/L", when=when),
        ]
    assert import_bundle(bundle(resources), actor=actor, source_system="centre-his").ok


def assert_page_masked(page: Any) -> None:
    """No citizen ID or phone on the page; ECharts' instance ids (ec_<timestamp>) are not identifiers."""
    html = re.sub(r'_echarts_instance_="[^"]*"', "", page.content())
    assert not UNMASKED.findall(html), f"unmasked identifiers on {page.url}"


def test_it_shows_the_doctor_trends_and_a_filtered_timeline(page: Any, artifacts: Path) -> None:
    doctor = User.objects.get(username="doctor")
    resident = access.residents_visible_to(doctor).filter(date_of_death__isnull=True).order_by("id").first()
    assert resident is not None
    _history(resident, doctor)
    log_in(page, "doctor")
    page.goto(f"/residents/{resident.pk}/")
    page.click(f"a[href='/records/{resident.pk}/']")
    page.wait_for_url(re.compile(rf"/records/{resident.pk}/$"))
    page.wait_for_selector("#records-bp canvas")
    page.wait_for_selector("#records-glucose canvas")
    page.wait_for_timeout(400)
    assert "原发性高血压" in page.content()
    assert_page_masked(page)
    page.screenshot(path=str(artifacts / "records-01-account.png"), full_page=True)
    page.select_option("select[name=type]", "observation")
    page.click(".records-filter button[type=submit]")
    page.wait_for_url(re.compile(r"type=observation"))
    kinds = set(page.locator(".records-timeline tbody tr").evaluate_all("rows => rows.map(r => r.className)"))
    assert kinds == {"kind-observation"}
    assert page.problems == []


def test_it_shows_the_resident_their_own_account(page: Any, artifacts: Path) -> None:
    user = User.objects.select_related("account__resident").get(username="resident")
    _history(user.account.resident, User.objects.get(username="doctor"))
    log_in(page, "resident")
    page.click("a[href='/me/health/']")
    page.wait_for_url(re.compile(r"/me/health/$"))
    page.wait_for_selector("#records-bp canvas")
    page.wait_for_timeout(400)
    assert "血压（高压）" in page.content()
    assert_page_masked(page)
    page.screenshot(path=str(artifacts / "records-02-me.png"), full_page=True)
    assert page.problems == []
