"""The family doctor's day: open today's worklist, record a follow-up with an uncontrolled BP inline,
see the next visit within 2 weeks, and the item gone from the overdue list; a patient who cannot be
reached is marked unreachable and moves to the next attempt, in this week's list."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from jiayi import access
from jiayi.care import services
from jiayi.care.models import FollowUp
from jiayi.records.models import Condition
from jiayi.registry.models import Institution
from jiayi.signing import services as signing_services
from jiayi.signing.models import ServicePackage
from tests.signing.helpers import make_package, sign

from .test_signing_flow import UNMASKED, log_in

pytestmark = pytest.mark.browser


def _overdue_hypertension_patient(today: date, nth: int = 0) -> FollowUp:
    doctor = User.objects.get(username="doctor")
    own_resident_id = User.objects.get(username="resident").account.resident_id
    assert own_resident_id is not None
    staff = doctor.account.staff
    assert staff is not None
    resident = (
        access.residents_visible_to(doctor)
        .exclude(pk=own_resident_id)
        .filter(date_of_death__isnull=True, citizen_id__isnull=False, birth_date__year__range=(1960, 1980))
        .order_by("id")[nth]
    )
    district = signing_services.district_of(resident)
    assert district is not None
    package = ServicePackage.objects.filter(district=district, year=today.year, code="BASIC").first()
    sign(resident, staff, package or make_package(district, today.year), confirm=True, today=today)
    institution = Institution.objects.order_by("id").first()
    assert institution is not None
    enrolled_on = today - timedelta(days=40)
    condition = Condition.objects.create(
        resident=resident,
        institution=institution,
        source_system="browser",
        source_id=f"worklist-flow-i10-{nth}",
        received_at=timezone.now(),
        code="I10",
    )
    enrolment = services.do_enrol(None, resident, condition, today=enrolled_on)
    follow_up = FollowUp.objects.get(enrolment=enrolment, status="scheduled")
    assert follow_up.scheduled_on < today  # 26 days overdue
    return follow_up


def test_a_doctor_records_an_uncontrolled_follow_up_from_todays_worklist(page: Any, artifacts: Path) -> None:
    today = timezone.localdate()
    follow_up = _overdue_hypertension_patient(today)
    unreachable = _overdue_hypertension_patient(today, 1)
    row = f"#overdue tr[data-kind=follow_up][data-resident='{follow_up.resident_id}']"
    unreachable_row = f"tr[data-kind=follow_up][data-resident='{unreachable.resident_id}']"

    log_in(page, "doctor")
    page.click("nav.main-nav a[href='/care/']")
    page.wait_for_url(re.compile(r"/care/worklist/$"))
    assert page.is_visible(row)
    assert not UNMASKED.search(page.content())
    page.screenshot(path=str(artifacts / "care-01-worklist.png"), full_page=True)

    page.click(f"{row} button[hx-get]")
    form = f"#follow-up-{follow_up.pk}"
    page.wait_for_selector(f"{form} input[name=sbp]")
    page.fill(f"{form} input[name=sbp]", "168")
    page.fill(f"{form} input[name=dbp]", "98")
    page.select_option(f"{form} select[name=medication_adherence]", "intermittent")
    page.screenshot(path=str(artifacts / "care-02-follow-up-form.png"), full_page=True)
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(f"{form} .result")

    next_visit = date.fromisoformat(page.inner_text(f"{form} .next-visit").strip())
    assert today < next_visit <= today + timedelta(days=14)
    assert page.get_attribute(f"{form} .result", "data-classification") == "first_uncontrolled"
    page.screenshot(path=str(artifacts / "care-03-recorded.png"), full_page=True)

    page.click(f"#overdue {unreachable_row} button[value=unreachable]")
    page.wait_for_selector(f"#overdue {unreachable_row} .notice")
    next_attempt = today + timedelta(days=3)
    assert next_attempt.isoformat() in page.inner_text(f"#overdue {unreachable_row} .notice")
    page.screenshot(path=str(artifacts / "care-04-unreachable.png"), full_page=True)

    page.reload()
    page.wait_for_selector("#overdue")
    assert not page.is_visible(row)
    assert not page.is_visible(f"#overdue {unreachable_row}")
    assert page.is_visible(f"#week {unreachable_row}")
    assert f"/care/follow-ups/{follow_up.pk}/" not in page.inner_html("#overdue")
    page.screenshot(path=str(artifacts / "care-05-worklist-after.png"), full_page=True)

    page.goto(f"/care/residents/{follow_up.resident_id}/")
    page.wait_for_selector("#follow-ups")
    assert "控制不满意" in page.inner_text("#follow-ups")
    assert not UNMASKED.search(page.content())
    page.screenshot(path=str(artifacts / "care-06-care-record.png"), full_page=True)
    assert not page.problems
