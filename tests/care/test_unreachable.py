"""A resident who cannot be reached: the attempt is logged, the due follow-up moves to the next attempt
(and leaves the overdue list), and from the third failed attempt in a quarter the team gets a home-visit
task, closed once the resident is reached."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from jiayi.audit.models import AuditEntry
from jiayi.care import panel, rules, services
from jiayi.care.models import CareTask, Contact, FollowUp
from jiayi.registry.models import Staff
from jiayi.signing.models import Signing

from .helpers import enrol, scheduled

pytestmark = pytest.mark.django_db


def _at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def _overdue_follow_up(signing: Signing, today: date, days: int = 10) -> FollowUp:
    follow_up = scheduled(enrol(signing.resident, "I10", on=today - timedelta(days=days + 14)))
    FollowUp.objects.filter(pk=follow_up.pk).update(scheduled_on=today - timedelta(days=days))
    follow_up.refresh_from_db()
    return follow_up


def _today_at(step: int) -> datetime:
    """Today, `10 − step` minutes ago (so a larger step is later) but not before midnight: the tests run
    by the real clock and an attempt may not lie in the future."""
    now = timezone.localtime()
    return max(now - timedelta(minutes=10 - step), now.replace(hour=0, minute=0, second=0, microsecond=0))


def _unreachable(signing: Signing, step: int = 0) -> services.ContactLogged:
    return services.do_log_contact_attempt(
        None, signing.resident, channel="phone", outcome="unreachable", at=_today_at(step)
    )


@pytest.mark.parametrize(("failed", "home_visit"), [(1, False), (2, False), (3, True), (4, True)])
def test_the_rule_retries_after_three_days_and_asks_for_a_visit_from_the_third_failure(
    failed: int, home_visit: bool
) -> None:
    outcome = rules.after_failed_attempt(failed_this_quarter=failed, today=date(2026, 5, 4))
    assert outcome.next_attempt_on == date(2026, 5, 7)
    assert outcome.home_visit is home_visit


@pytest.mark.parametrize("failed", [0, -1])
def test_the_rule_refuses_an_impossible_count(failed: int) -> None:
    with pytest.raises(ValueError, match="failed_this_quarter"):
        rules.after_failed_attempt(failed_this_quarter=failed, today=date(2026, 5, 4))


def test_an_unreachable_attempt_moves_the_follow_up_off_the_overdue_list(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    follow_up = _overdue_follow_up(signed[0], today)
    first_planned = follow_up.scheduled_on

    logged = _unreachable(signed[0])

    follow_up.refresh_from_db()
    assert follow_up.status == "scheduled"
    assert follow_up.scheduled_on == today + timedelta(days=rules.RETRY_AFTER_DAYS)
    assert follow_up.rescheduled_from == first_planned
    assert logged.moved_follow_ups == (follow_up.pk,)
    assert logged.home_visit is None
    worklist = panel.build_worklist(doctor_staff, today)
    mine = [i for i in worklist.all() if i.resident_id == signed[0].resident_id and i.kind == "follow_up"]
    assert [i.due_on for i in mine] == [today + timedelta(days=3)]
    assert mine[0] in worklist.this_week
    entry = AuditEntry.objects.filter(resource_type="care_contact", resource_id=str(logged.contact.pk)).get()
    assert entry.detail["moved_follow_ups"] == [follow_up.pk]


def test_a_later_follow_up_is_not_moved(signed: list[Signing], today: date) -> None:
    follow_up = _overdue_follow_up(signed[0], today, days=-5)  # due in 5 days

    assert _unreachable(signed[0]).moved_follow_ups == ()
    follow_up.refresh_from_db()
    assert follow_up.scheduled_on == today + timedelta(days=5)


def test_the_third_failed_attempt_in_a_quarter_raises_one_home_visit(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    _overdue_follow_up(signed[0], today)
    # Three attempts on the same day keep the example inside one quarter whatever today is.
    results = [_unreachable(signed[0], hour) for hour in (0, 1, 2)]
    assert [r.home_visit is not None for r in results] == [False, False, True]
    fourth = _unreachable(signed[0], 3)
    assert fourth.home_visit is None  # one open home visit at a time

    task = CareTask.objects.get(resident=signed[0].resident, kind="home_visit")
    assert task.status == "open"
    assert task.assigned_to == doctor_staff
    assert task.reasons == ["unreachable_3_times"]
    items = [i for i in panel.build_worklist(doctor_staff, today).all() if i.kind == "home_visit"]
    assert [i.resident_id for i in items] == [signed[0].resident_id]
    assert items[0].high_risk is False


def test_failures_of_an_earlier_quarter_do_not_count(signed: list[Signing], today: date) -> None:
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    for hour in (1, 2):
        Contact.objects.create(
            resident=signed[0].resident,
            at=_at(quarter_start - timedelta(days=1), hour),
            channel="phone",
            outcome="unreachable",
        )
    assert _unreachable(signed[0]).home_visit is None


def test_reaching_the_resident_closes_the_home_visit(signed: list[Signing], today: date) -> None:
    for hour in (0, 1, 2):
        _unreachable(signed[0], hour)
    reached = services.do_log_contact_attempt(
        None, signed[0].resident, channel="visit", outcome="reached", at=_today_at(3)
    )
    task = CareTask.objects.get(resident=signed[0].resident, kind="home_visit")
    assert reached.closed_tasks == (task.pk,)
    assert task.status == "done"
    assert task.closed_at is not None


def test_recording_the_follow_up_closes_the_home_visit(signed: list[Signing], today: date) -> None:
    follow_up = _overdue_follow_up(signed[0], today)
    for hour in (0, 1, 2):
        _unreachable(signed[0], hour)
    follow_up.refresh_from_db()
    services.do_record_follow_up(
        None,
        follow_up,
        services.FollowUpInput(performed_on=today, sbp=132, dbp=82, channel="home_visit"),
        today=today,
    )
    assert CareTask.objects.get(resident=signed[0].resident, kind="home_visit").status == "done"


def test_a_high_risk_patient_stays_high_risk_after_the_attempt(
    signed: list[Signing], doctor_staff: Staff, today: date
) -> None:
    resident = signed[0].resident
    first = scheduled(enrol(resident, "I10", on=today - timedelta(days=120)))
    performed = today - timedelta(days=100)
    FollowUp.objects.filter(pk=first.pk).update(scheduled_on=performed)
    first.refresh_from_db()
    services.do_record_follow_up(
        None, first, services.FollowUpInput(performed_on=performed, sbp=185, dbp=100), today=performed
    )
    _unreachable(signed[0])

    items = [
        i
        for i in panel.build_worklist(doctor_staff, today).all()
        if i.resident_id == resident.pk and i.kind == "follow_up"
    ]
    assert len(items) == 1
    assert items[0].due_on == today + timedelta(days=3)
    assert items[0].high_risk is True  # still counted overdue from the missed visit 86 days ago


def test_a_failed_contact_attempt_sets_the_contact_item_aside_until_the_retry(
    signed: list[Signing], doctor_staff: Staff
) -> None:
    day = date(2026, 3, 15)  # the first quarter's contact was due on 28 February
    Contact.objects.create(
        resident=signed[0].resident, at=_at(day - timedelta(days=1)), channel="phone", outcome="unreachable"
    )
    Contact.objects.create(
        resident=signed[1].resident, at=_at(day - timedelta(days=3)), channel="phone", outcome="unreachable"
    )

    contacts = {i.resident_id for i in panel.build_worklist(doctor_staff, day).all() if i.kind == "contact"}

    assert signed[0].resident_id not in contacts  # tried yesterday: next attempt in 2 days
    assert signed[1].resident_id in contacts  # tried 3 days ago: due again today
