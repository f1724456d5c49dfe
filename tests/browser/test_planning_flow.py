"""A district analyst reads the street health portrait, drills into a sub-district, and looks at 15-minute
access with proposed stations: the maps draw under the CSP, without console errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place
from tests.browser.test_doctor_flow import log_in

pytestmark = pytest.mark.browser


def test_the_analyst_reads_the_portrait_drills_down_and_plans_stations(page: Any, artifacts: Path) -> None:
    log_in(page, "analyst")
    page.click("a[href='/planning/portrait/']")
    page.wait_for_url(re.compile(r"/planning/portrait/$"))
    page.wait_for_selector("#portrait-map canvas")
    page.wait_for_timeout(600)  # let ECharts finish its entry animation before the screenshot
    page.screenshot(path=str(artifacts / "planning-01-portrait.png"), full_page=True)
    subs = list(Place.objects.filter(level=PlaceLevel.SUB_DISTRICT).order_by("code"))
    assert page.locator("#conditions tbody tr").count() == len(subs)

    page.locator("#portrait-metric").select_option("aged_65")
    first = subs[0]
    page.click(f"#conditions a[href='?area={first.code}']")
    page.wait_for_url(re.compile(rf"area={first.code}$"))
    page.wait_for_selector("#portrait-map canvas")
    assert page.locator("#conditions tbody tr").count() == Place.objects.filter(parent=first).count()
    assert first.name in page.locator("h1").inner_text()
    page.screenshot(path=str(artifacts / "planning-02-committees.png"), full_page=True)

    page.click("nav.planning-tabs a[href='/planning/access/']")
    page.wait_for_selector("#access-map canvas")
    page.fill("input[name=k]", "2")
    page.click("form.planning-select button[type=submit]")
    page.wait_for_url(re.compile(r"k=2$"))
    page.wait_for_selector("#access-map canvas")
    assert page.locator("#proposals tbody tr").count() == 2
    assert page.locator("#coverage tbody tr").count() == len(subs)
    page.wait_for_timeout(600)
    page.screenshot(path=str(artifacts / "planning-03-access.png"), full_page=True)
    assert page.problems == []
