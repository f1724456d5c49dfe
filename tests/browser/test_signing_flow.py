"""Online signing: a resident signs with a family doctor, and the doctor confirms it from the panel."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from jiayi import access
from jiayi.registry.demo import DEMO_PASSWORD
from jiayi.registry.models import Team
from jiayi.signing import services
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import ServicePackage, Signing
from tests.signing.helpers import make_gp

from .conftest import VIEWPORT

pytestmark = pytest.mark.browser
UNMASKED = re.compile(r"\d{17}[\dXx]|1[3-9]\d{9}")


def log_in(page: Any, username: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_it_walks_a_resident_through_online_signing_and_the_doctor_confirms(
    page: Any, chromium: Any, live_server: Any, artifacts: Path
) -> None:
    resident = User.objects.get(username="resident").account.resident
    doctor = User.objects.get(username="doctor").account.staff
    district = services.district_of(resident)
    assert district is not None
    package = ServicePackage.objects.create(
        district=district, year=timezone.localdate().year, code="BASIC", name="基础服务包", kind="basic"
    )

    log_in(page, "resident")
    page.click("nav.main-nav >> text=签约")
    page.wait_for_url(re.compile(r"/signing/online/$"))
    assert page.is_visible("#sign-form")
    page.screenshot(path=str(artifacts / "signing-01-online-form.png"), full_page=True)

    page.check(f"input[name=family_doctor][value='{doctor.pk}']")
    page.check(f"input[name=package][value='{package.pk}']")
    page.check("input[name=accept_signing]")
    page.check("input[name=accept_sensitive]")
    page.click("#sign-form button[type=submit]")
    page.wait_for_selector("#signed")
    assert page.is_visible("#signed .status-pending")
    page.screenshot(path=str(artifacts / "signing-02-online-sent.png"), full_page=True)
    signing = Signing.objects.get(resident=resident)
    assert signing.status == SigningStatus.PENDING

    context = chromium.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=live_server.url)
    try:
        doctor_page = context.new_page()
        log_in(doctor_page, "doctor")
        doctor_page.click("nav.main-nav >> text=签约")
        doctor_page.wait_for_url(re.compile(r"/signing/$"))
        doctor_page.click(".notice a")
        doctor_page.wait_for_url(re.compile(r"status=pending"))
        assert not UNMASKED.search(doctor_page.content())
        doctor_page.screenshot(path=str(artifacts / "signing-03-to-confirm.png"), full_page=True)

        doctor_page.click(f"a[href='/signing/{signing.pk}/']")
        doctor_page.wait_for_selector("button[data-action=confirm]")
        doctor_page.click("button[data-action=confirm]")
        doctor_page.wait_for_selector("#signing .notice.ok")
        assert doctor_page.is_visible("#signing h2 .status-active")
        assert not UNMASKED.search(doctor_page.content())
        doctor_page.screenshot(path=str(artifacts / "signing-04-confirmed.png"), full_page=True)
    finally:
        context.close()

    signing.refresh_from_db()
    assert signing.status == SigningStatus.ACTIVE
    assert page.problems == []


def test_it_shows_the_centre_manager_load_coverage_and_a_transfer_preview(page: Any, artifacts: Path) -> None:
    doctor = User.objects.get(username="doctor").account.staff
    district = services.district_of(User.objects.get(username="resident").account.resident)
    assert district is not None
    package = ServicePackage.objects.create(
        district=district, year=timezone.localdate().year, code="BASIC", name="基础服务包", kind="basic"
    )
    team = services.team_of(doctor)
    assert team is not None
    residents = list(
        access.residents_signable_by(User.objects.get(username="doctor"))
        .filter(date_of_death__isnull=True)
        .order_by("id")[:5]
    )
    for resident in residents:
        services.do_record_consent(None, resident, text_version="2026.1")
        signing = services.do_create_signing(
            None, resident, services.SigningTerms(family_doctor=doctor, package=package)
        )
        services.do_confirm_signing(None, signing)
    team.panel_capacity = 4
    team.save(update_fields=["panel_capacity"])
    colleague = make_gp(doctor.institution.centre, "T-GP-31")
    Team.objects.filter(lead=colleague).update(panel_capacity=4)

    log_in(page, "manager")
    page.goto("/signing/centre/")
    assert page.is_visible("#load tr.over")
    assert page.is_visible("#coverage")
    page.screenshot(path=str(artifacts / "signing-05-centre-load.png"), full_page=True)

    page.goto("/signing/transfer/")
    page.select_option("select[name=from_doctor]", str(doctor.pk))
    page.check(f"input[name=to_doctors][value='{colleague.pk}']")
    page.click("form.card button[type=submit]")
    page.wait_for_selector("#transfer-result .card")
    assert page.is_visible("#transfer-result .tag.warn")  # 5 signings for a panel capacity of 4
    page.screenshot(path=str(artifacts / "signing-06-transfer-preview.png"), full_page=True)
    assert not UNMASKED.search(page.content())
    assert page.problems == []
