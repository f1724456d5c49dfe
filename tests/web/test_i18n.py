"""Chinese by default, English after switching, and a complete Chinese catalogue."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils.translation import trans_real

pytestmark = pytest.mark.django_db

CATALOGUE = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module", autouse=True)
def _compiled_catalogue() -> None:
    """Compiled catalogues are build output (not in git): compile when missing or stale, then make
    Django reload them."""
    compiled = CATALOGUE.with_suffix(".mo")
    if not compiled.exists() or compiled.stat().st_mtime < CATALOGUE.stat().st_mtime:
        call_command("compilemessages", locale=["zh_Hans"], verbosity=0)
        trans_real._translations = {}  # type: ignore[attr-defined]
        trans_real._default = None  # type: ignore[attr-defined]


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_speaks_chinese_by_default(personas: Any) -> None:
    client = logged_in(personas.doctor)
    html = client.get("/residents/").content.decode()
    assert '<html lang="zh-hans"' in html
    assert "居民" in html
    assert "退出登录" in html
    assert "Log out" not in html
    assert "男" in html or "女" in html


def test_it_shows_the_login_page_in_chinese(db: None) -> None:
    html = Client().get("/login/").content.decode()
    assert '<html lang="zh-hans"' in html
    assert "登录家医" in html
    assert "用户名" in html


def test_it_switches_to_english_and_back(personas: Any) -> None:
    client = logged_in(personas.doctor)
    page = client.get("/residents/")
    assert 'action="/i18n/setlang/"' in page.content.decode()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/residents/"})
    assert response.status_code == 302
    assert response["Location"] == "/residents/"
    html = client.get("/residents/").content.decode()
    assert '<html lang="en"' in html
    assert "Log out" in html
    assert "Residents" in html
    assert "退出登录" not in html
    # Bilingual choice labels show their English half.
    assert re.search(r"<td>(Male|Female)</td>", html)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "退出登录" in client.get("/").content.decode()


def test_it_follows_a_chinese_browser(personas: Any) -> None:
    client = logged_in(personas.doctor)
    html = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).content.decode()
    assert '<html lang="zh-hans"' in html


def _translation_of(entry: str) -> str:
    """The joined msgstr (or msgstr[0]) strings of one catalogue entry."""
    match = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', entry + "\n", re.M)
    return "".join(re.findall(r'"(.*)"', match.group(1))) if match else ""


def test_it_has_every_message_translated() -> None:
    entries = [entry for entry in CATALOGUE.read_text(encoding="utf-8").split("\n\n")[1:] if "msgid" in entry]
    assert len(entries) > 100
    untranslated = [entry for entry in entries if not _translation_of(entry)]
    fuzzy = [entry for entry in entries if "#, fuzzy" in entry]
    assert not untranslated, f"{len(untranslated)} untranslated messages"
    assert not fuzzy, f"{len(fuzzy)} fuzzy messages"
