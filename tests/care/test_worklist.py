"""The worklist: buckets, high risk first, every kind of item, registered sources, panel scope and a
bounded number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiayi.care import panel, services
from jiayi.care.models import Assessment, Contact, ElderlyCareYear, FollowUp
from jiayi.care.worklist import (
    WorklistItem,
    register_worklist_source,
    unregister_worklist_source,
    worklist_sources,
)
from jiayi.registry.models import Resident, Staff
from jiayi.signing.models import Signing

from .helpers import diagnose, enrol, scheduled

pytestmark = pytest.mark.django_db


def _follow_up_due(resident: Resident, due: date, *, code: str = "I10") -> FollowUp:
    return scheduled(enrol(resident, code, on=due - timedelta(days=14)))


def _kinds(items: list[WorklistItem], resident: Resident) -> set[str]:
    return {item.kind for item in items if item.resident_id == resident.pk}


def test_follow_ups_fall_into_overdue_today_and_this_week(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    late, now, soon, later = (s.resident for s in signed[:4])
    _follow_up_due(late, today - timedelta(days=3))
    _follow_up_due(now, today)
    _follow_up_due(soon, today + timedelta(days=7))
    _follow_up_due(later, today + timedelta(days=8))

    worklist = panel.build_worklist(doctor_staff, today)

    assert "follow_up" in _kinds(worklist.overdue, late)
    assert "follow_up" in _kinds(worklist.due_today, now)
    assert "follow_up" in _kinds(worklist.this_week, soon)
    assert "follow_up" not in _kinds(worklist.all(), later)


def test_high_risk_overdue_patients_come_first(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    calm, risky = signed[0].resident, signed[1].resident
    for resident, sbp, dbp in ((calm, 150, 95), (risky, 185, 100)):
        enrolment = enrol(resident, "I10", on=today - timedelta(days=120))
        first = scheduled(enrolment)
        # A visit 100 days ago whose next visit (in 14 days, uncontrolled) was then missed.
        performed = today - timedelta(days=100)
        first.scheduled_on = performed
        first.save(update_fields=["scheduled_on"])
        services.do_record_follow_up(
            None,
            first,
            services.FollowUpInput(performed_on=performed, sbp=sbp, dbp=dbp),
            today=performed,
        )
    # The calm patient is longer overdue, so without the rule they would come first.
    FollowUp.objects.filter(resident=calm, status="scheduled").update(scheduled_on=today - timedelta(days=90))

    overdue = [i for i in panel.build_worklist(doctor_staff, today).overdue if i.kind == "follow_up"]

    assert [i.resident_id for i in overdue[:2]] == [risky.pk, calm.pk]
    assert overdue[0].high_risk is True
    assert overdue[1].high_risk is False


def test_a_prior_stroke_makes_a_raised_bp_high_risk(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    resident = signed[0].resident
    diagnose(resident, "I63.9")
    first = scheduled(enrol(resident, "I10", on=today - timedelta(days=120)))
    performed = today - timedelta(days=100)
    FollowUp.objects.filter(pk=first.pk).update(scheduled_on=performed)
    first.refresh_from_db()
    services.do_record_follow_up(
        None, first, services.FollowUpInput(performed_on=performed, sbp=145, dbp=85), today=performed
    )

    items = [i for i in panel.build_worklist(doctor_staff, today).overdue if i.resident_id == resident.pk]

    assert any(i.kind == "follow_up" and i.high_risk for i in items)


def test_an_assessment_is_due_60_days_into_the_signing(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    old, fresh, done = signed[:3]
    Signing.objects.filter(pk__in=[old.pk, done.pk]).update(starts_on=today - timedelta(days=61))
    Signing.objects.filter(pk=fresh.pk).update(starts_on=today - timedelta(days=10))
    Assessment.objects.create(
        resident=done.resident, year=today.year, performed_on=today, classification="healthy"
    )

    worklist = panel.build_worklist(doctor_staff, today)

    assert "assessment" in _kinds(worklist.overdue, old.resident)
    assert "assessment" not in _kinds(worklist.all(), fresh.resident)
    assert "assessment" not in _kinds(worklist.all(), done.resident)


def test_elderly_exams_are_due_on_the_birthday_until_the_year_is_complete(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    elderly, complete = signed[0].resident, signed[1].resident
    for resident in (elderly, complete):
        resident.birth_date = (today - timedelta(days=2)).replace(year=today.year - 70)
        resident.save(update_fields=["birth_date"])
    ElderlyCareYear.objects.create(resident=complete, year=today.year, complete=True)

    worklist = panel.build_worklist(doctor_staff, today)

    assert "elderly_exam" in _kinds(worklist.overdue, elderly)
    assert "elderly_exam" not in _kinds(worklist.all(), complete)


def test_the_quarterly_contact_is_due_by_the_end_of_the_second_month() -> None:
    assert panel.contact_due_on(date(2026, 1, 15)) == date(2026, 2, 28)
    assert panel.contact_due_on(date(2026, 12, 31)) == date(2026, 11, 30)


def test_a_contact_item_stays_until_the_resident_is_reached(
    signed: list[Signing], doctor_staff: Staff
) -> None:
    day = date(2026, 3, 15)  # the first quarter's contact was due on 28 February
    reached, unreachable = signed[0].resident, signed[1].resident
    at = timezone.make_aware(datetime(2026, 1, 10, 10, 0))
    Contact.objects.create(resident=reached, at=at, channel="phone", outcome="reached")
    Contact.objects.create(resident=unreachable, at=at, channel="phone", outcome="unreachable")

    worklist = panel.build_worklist(doctor_staff, day)

    assert "contact" not in _kinds(worklist.all(), reached)
    assert "contact" in _kinds(worklist.overdue, unreachable)


def test_renewals_show_a_month_before_the_period_ends(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    ending = signed[0]
    Signing.objects.filter(pk=ending.pk).update(ends_on=today + timedelta(days=20))

    worklist = panel.build_worklist(doctor_staff, today)

    assert "renewal" in _kinds(worklist.overdue, ending.resident)
    assert "renewal" not in _kinds(worklist.all(), signed[1].resident)


def test_urgent_tasks_are_high_risk_and_first(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    resident = signed[0].resident
    follow_up = _follow_up_due(resident, today)
    services.do_record_follow_up(
        None, follow_up, services.FollowUpInput(performed_on=today, sbp=190, dbp=115), today=today
    )

    worklist = panel.build_worklist(doctor_staff, today)

    assert worklist.due_today[0].kind == "urgent"
    assert worklist.due_today[0].high_risk is True


def test_only_the_doctors_panel_is_listed(
    signed: list[Signing], doctor_staff: Staff, personas: object, today: date
) -> None:
    other: Staff = personas.other_doctor.account.staff  # type: ignore[attr-defined]
    _follow_up_due(signed[0].resident, today)

    assert panel.build_worklist(doctor_staff, today).due_today
    assert not [i for i in panel.build_worklist(other, today).all() if i.resident_id == signed[0].resident_id]


@pytest.fixture
def registered_source() -> Iterator[WorklistItem]:
    item = WorklistItem(
        kind="referral_awaiting",
        resident_id=0,
        due_on=date(2000, 1, 1),
        title="转诊待处理",
        priority=2,
        url="/referrals/1/",
        high_risk=False,
    )

    def source(staff: Staff, today: date) -> list[WorklistItem]:
        return [item]

    register_worklist_source(source)
    register_worklist_source(source)
    yield item
    unregister_worklist_source(source)
    assert source not in worklist_sources()


def test_registered_sources_add_their_items(
    registered_source: WorklistItem, doctor_staff: Staff, today: date
) -> None:
    worklist = panel.build_worklist(doctor_staff, today)

    assert worklist.overdue.count(registered_source) == 1


def test_the_worklist_costs_a_fixed_number_of_queries(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    _follow_up_due(signed[0].resident, today)
    with CaptureQueriesContext(connection) as few:
        panel.build_worklist(doctor_staff, today)
    for resident in (s.resident for s in signed[1:]):
        _follow_up_due(resident, today - timedelta(days=40))
    with CaptureQueriesContext(connection) as more:
        worklist = panel.build_worklist(doctor_staff, today)

    # One more query, once, for the last BP of the follow-ups overdue more than 30 days (high-risk rule).
    assert len(more.captured_queries) == len(few.captured_queries) + 1 <= 10
    assert len([i for i in worklist.all() if i.kind == "follow_up"]) == len(signed)


def test_a_panel_too_large_for_a_list_of_ids_is_matched_by_a_subquery(
    signed: list[Signing], doctor_staff: Staff, today: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    _follow_up_due(signed[0].resident, today - timedelta(days=40))
    Signing.objects.filter(pk=signed[1].pk).update(ends_on=today + timedelta(days=20))
    Signing.objects.filter(pk=signed[2].pk).update(starts_on=today - timedelta(days=61))
    listed = panel.build_worklist(doctor_staff, today)

    monkeypatch.setattr(panel, "PANEL_IDS_INLINE_MAX", 1)
    with CaptureQueriesContext(connection) as queries:
        matched = panel.build_worklist(doctor_staff, today)

    assert matched == listed
    assert any('"signing_signing"' in q["sql"] and "IN (SELECT" in q["sql"] for q in queries.captured_queries)
    assert {"follow_up", "renewal", "assessment"} <= {i.kind for i in matched.all()}
