"""A resident checks who opened their record after their centre's manager did."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_doctor_flow import log_in

pytestmark = pytest.mark.browser

UNMASKED = re.compile(r"\d{17}[\dXx]|1[3-9]\d{9}")


def test_it_shows_a_resident_who_viewed_their_record(
    chromium: Any, live_server: Any, browser_district: None, artifacts: Path
) -> None:
    from django.contrib.auth.models import User

    own_id = User.objects.get(username="resident").account.resident_id
    manager = chromium.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 768})
    page = manager.new_page()
    log_in(page, "manager")
    page.goto(f"/residents/{own_id}/")
    page.goto(f"/audit/residents/{own_id}/access-log/")
    page.screenshot(path=str(artifacts / "audit-manager-review.png"), full_page=True)
    manager.close()

    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 768})
    page = context.new_page()
    log_in(page, "resident")
    page.click("nav.main-nav >> text=谁查看了我的档案")
    page.wait_for_url(re.compile(r"/audit/me/access-log/$"))
    table = page.locator("table")
    assert table.locator("tbody tr").count() >= 1
    assert "中心管理者" in table.inner_text()
    assert not UNMASKED.search(page.content())
    page.screenshot(path=str(artifacts / "audit-my-access-log.png"), full_page=True)
    context.close()
