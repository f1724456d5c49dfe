"""A CDC officer's day: an injected outbreak in the sentinel feed raises an alert, which the officer
assigns to themselves, verifies, responds to and closes on the early-warning page."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from jiayi.surveillance import services
from jiayi.surveillance.models import Alert
from jiayi.surveillance.synth import generate_sentinel_feed
from tests.browser.test_doctor_flow import UNMASKED, log_in

pytestmark = pytest.mark.browser


def test_it_raises_an_alert_for_an_outbreak_that_the_officer_verifies_and_closes(
    page: Any, artifacts: Path
) -> None:
    today = timezone.localdate()
    feed = generate_sentinel_feed(seed=5, end=today, days=400, outbreaks=1)
    outbreak = feed.outbreaks[-1]
    # Detection runs daily: replay the days of the outbreak up to today, as the scheduled task would
    # have, so the test does not depend on which weekday the outbreak happens to end.
    opened: list[int] = []
    day = outbreak.start
    while day <= today:
        opened += services.do_detect(day).alerts_opened
        day += timedelta(days=1)
    alert = next(
        a
        for a in Alert.objects.filter(pk__in=opened, code=outbreak.code).order_by("pk")
        if a.units.filter(code=outbreak.unit).exists()
    )

    log_in(page, "cdc")
    page.click("a[href='/surveillance/']")
    page.wait_for_url(re.compile(r"/surveillance/$"))
    card = page.locator(f"#alert-{alert.pk}")
    assert card.locator("[data-state]").get_attribute("data-state") == "signal"
    page.wait_for_selector("#surv-map canvas")
    page.wait_for_selector("#surv-series canvas")
    page.wait_for_timeout(600)  # let ECharts finish its entry animation before the screenshot
    page.screenshot(path=str(artifacts / "surveillance-01-alert.png"), full_page=True)

    for state, note in (
        ("assigned", ""),
        ("verified", "实验室确认 / lab confirmed"),
        ("response", ""),
        ("closed", "疫情已控制 / contained"),
    ):
        card = page.locator(f"#alert-{alert.pk}")
        card.locator("input[name=note]").fill(note)
        card.locator(f"button[value={state}]").click()
        page.wait_for_selector(f"#alert-{alert.pk} [data-state={state}]")
        if state == "verified":
            page.screenshot(path=str(artifacts / "surveillance-02-verified.png"), full_page=True)

    page.screenshot(path=str(artifacts / "surveillance-03-closed.png"), full_page=True)
    alert.refresh_from_db()
    assert alert.state == "closed"
    assert list(alert.events.values_list("to_state", "actor__username")) == [
        ("signal", None),
        ("assigned", "cdc"),
        ("verified", "cdc"),
        ("response", "cdc"),
        ("closed", "cdc"),
    ]
    # ECharts stamps each chart with a timestamp-based instance id that looks like a phone number.
    html = re.sub(r'_echarts_instance_="[^"]*"', "", page.content())
    assert not UNMASKED.findall(html)
    assert not [p for p in page.problems if "favicon" not in p], page.problems
