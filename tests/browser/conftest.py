"""Browser tests: Python Playwright driving Debian's Chromium against pytest-django's live server.

The live server needs a transactional database, which pytest-django flushes after each test; so each
test regenerates the shared synthetic district through `ensure_district()` (a no-op while it exists).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ensure_district

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make to pick
# their data would otherwise be refused as "async unsafe".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# `make test` points this at test-artifacts/<database> so the two runs keep their own screenshots.
ARTIFACTS = Path(
    os.environ.get("JIAYI_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
)
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_district(transactional_db: None) -> None:
    ensure_district()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page(chromium: Any, live_server: Any, browser_district: None) -> Iterator[Any]:
    """A fresh browser context per test, as a Chinese-language browser at a clinic's usual screen size.

    Console errors and CSP violations are collected on `page.problems` so a test can assert none."""
    context = chromium.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=live_server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems
    yield page
    context.close()
