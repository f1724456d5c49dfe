"""A referral end to end: the family doctor refers a signed resident with a reserved slot and an ECG
report attached, the hospital's referral desk downloads the report, accepts, records the visit and
refers the resident back down to a family bed, and the down-referral shows on the doctor's worklist,
where the centre accepts it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from jiayi import access
from jiayi.referrals.choices import AppointmentStatus, Direction, Pool, ReferralStatus
from jiayi.referrals.models import Referral
from jiayi.registry.demo import DEMO_PASSWORD
from tests.referrals.helpers import make_department, make_slots, sign_all

from .conftest import VIEWPORT

pytestmark = pytest.mark.browser
UNMASKED = re.compile(r"\d{17}[\dXx]|1[3-9]\d{9}")
ECG_REPORT = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def log_in(page: Any, username: str) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def _clean(page: Any) -> None:
    assert not UNMASKED.search(page.content())
    assert page.problems == []


def test_it_refers_up_with_a_reserved_slot_and_returns_down_to_the_worklist(
    page: Any, chromium: Any, live_server: Any, artifacts: Path, settings: Any, tmp_path: Path
) -> None:
    settings.JIAYI_ATTACHMENT_DIR = tmp_path / "attachments"
    doctor_user = User.objects.get(username="doctor")
    desk_user = User.objects.get(username="desk")
    doctor = doctor_user.account.staff
    resident = (
        access.residents_visible_to(doctor_user)
        .filter(date_of_death__isnull=True, citizen_id__isnull=False)
        .order_by("id")
        .first()
    )
    assert resident is not None
    assert doctor is not None
    sign_all([resident], doctor)
    department = make_department(desk_user.account.institution, code="CARD")
    reserved = make_slots(department, 3)
    make_slots(department, 3, pool=Pool.PUBLIC, first=reserved[-1].end)

    # The family doctor writes the referral and picks a reserved slot in the htmx picker.
    log_in(page, "doctor")
    page.click("nav.main-nav >> text=转诊")
    page.wait_for_url(re.compile(r"/referrals/$"))
    page.select_option("#refer-resident", str(resident.pk))
    page.click("#refer-go")
    page.wait_for_url(re.compile(rf"/referrals/new/{resident.pk}/$"))
    page.select_option("#id_department", str(department.pk))
    page.wait_for_selector("#slot-list input[name=slot]")
    assert page.locator("#slot-list .slot-option").count() == 6
    page.check(f"#slot-list input[value='{reserved[1].pk}']")
    page.select_option("select[name=urgency]", "urgent")
    page.fill("textarea[name=reason]", "胸闷一周，心电图ST段改变，请心内科优先诊治")
    page.set_input_files(
        "#id_attachments", files=[{"name": "心电图.pdf", "mimeType": "application/pdf", "buffer": ECG_REPORT}]
    )
    _clean(page)
    page.screenshot(path=str(artifacts / "referrals-01-form-with-slot-picker.png"), full_page=True)
    page.click("#send-referral")
    page.wait_for_selector("#appointment")
    referral = Referral.objects.get(resident=resident, direction=Direction.UP)
    assert referral.status == ReferralStatus.SENT
    assert referral.appointment is not None
    assert referral.appointment.slot_id == reserved[1].pk
    assert referral.appointment.pool == Pool.RESERVED
    [report] = referral.files.all()
    assert (report.name, report.content_type, report.size) == (
        "心电图.pdf",
        "application/pdf",
        len(ECG_REPORT),
    )
    assert page.locator("#files a", has_text="心电图.pdf").count() == 1
    page.screenshot(path=str(artifacts / "referrals-02-sent.png"), full_page=True)

    # The hospital's referral desk sees it on top, accepts it, records the visit and refers back down.
    desk_context = chromium.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=live_server.url)
    desk = desk_context.new_page()
    desk.problems = []
    desk.on("console", lambda m: desk.problems.append(m.text) if m.type == "error" else None)
    log_in(desk, "desk")
    desk.click("nav.main-nav >> text=转诊")
    desk.wait_for_url(re.compile(r"/referrals/desk/$"))
    assert desk.locator("#incoming tbody tr").first.locator("td").first.inner_text() == str(referral.pk)
    _clean(desk)
    assert desk.locator("#incoming tbody tr").first.locator(".files a").inner_text() == "心电图.pdf"
    desk.screenshot(path=str(artifacts / "referrals-03-desk.png"), full_page=True)
    desk.click(f"#incoming a[href='/referrals/{referral.pk}/']")
    with desk.expect_download() as download_info:
        desk.click(f"#files a[href='/referrals/files/{report.pk}/']")
    download = download_info.value
    assert download.suggested_filename == "心电图.pdf"
    assert Path(download.path()).read_bytes() == ECG_REPORT
    desk.click("#accept")
    desk.wait_for_selector("#record-visit")
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.BOOKED
    desk.click("#record-visit")
    desk.wait_for_selector("#visit")
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.SEEN
    assert referral.encounter is not None
    assert referral.appointment is not None
    assert referral.appointment.status == AppointmentStatus.FULFILLED
    desk.select_option("select[name=destination]", "family_bed")
    desk.fill("input[name=needs]", "伤口换药, 血压监测")
    desk.fill("#return-form textarea[name=reason]", "经皮冠脉介入术后，病情稳定，转回社区家庭病床继续管理")
    desk.click("#refer-down")
    desk.wait_for_url(re.compile(r"/referrals/\d+/$"))
    down = Referral.objects.get(parent=referral)
    assert desk.url.endswith(f"/referrals/{down.pk}/")
    _clean(desk)
    desk.screenshot(path=str(artifacts / "referrals-04-down-referral.png"), full_page=True)
    desk_context.close()

    # Back at the centre: the down-referral is on the doctor's worklist; the doctor accepts it.
    page.goto("/care/worklist/")
    row = page.locator(f"tr[data-kind='referral_down_awaiting'][data-resident='{resident.pk}']")
    assert row.count() == 1
    _clean(page)
    page.screenshot(path=str(artifacts / "referrals-05-worklist.png"), full_page=True)
    row.locator("a[role=button]").click()
    page.wait_for_url(re.compile(rf"/referrals/{down.pk}/$"))
    page.click("#accept-down")
    page.wait_for_selector("text=家庭病床")
    down.refresh_from_db()
    assert down.status == ReferralStatus.ACCEPTED
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.RETURNED
    page.goto("/referrals/")
    assert page.locator(f"#down-referrals a[href='/referrals/{down.pk}/']").count() == 1
    _clean(page)
    page.screenshot(path=str(artifacts / "referrals-06-centre.png"), full_page=True)
