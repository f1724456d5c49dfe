"""Renewal reminders: who gets one, queuing is idempotent per signing and period, sending, commands."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from jiayi.audit.models import AuditEntry
from jiayi.registry.models import Place, Resident, Staff
from jiayi.signing import reminders, services
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import ReminderMessage, ReminderStatus, ServicePackage, Signing

from .helpers import make_package, sign

ENDS_ON = date(2027, 2, 28)  # a signing made on TODAY ends here


class RecordingGateway:
    sent: list[tuple[str, str]] = []

    def send(self, phone: str, body: str) -> None:
        RecordingGateway.sent.append((phone, body))


class RefusingGateway:
    def send(self, phone: str, body: str) -> None:
        raise reminders.GatewayError("provider down")


@pytest.fixture
def next_year_package(district: Place) -> ServicePackage:
    """Renewals starting in 2027 take the package as republished for 2027."""
    return make_package(district, ENDS_ON.year)


@pytest.fixture
def active_signings(
    residents_in_scope: list[Resident], doctor_staff: Staff, package: ServicePackage
) -> list[Signing]:
    return [sign(r, doctor_staff, package, confirm=True) for r in residents_in_scope[:3]]


def test_it_queues_one_reminder_per_signing_due_and_none_twice(active_signings: list[Signing]) -> None:
    day = ENDS_ON - timedelta(days=20)

    first = reminders.do_queue_renewal_reminders(None, today=day, lead_days=30)
    again = reminders.do_queue_renewal_reminders(None, today=day + timedelta(days=1), lead_days=30)

    assert (first, again) == (3, 0)
    queued = ReminderMessage.objects.filter(signing__in=active_signings)
    assert queued.count() == 3
    assert {m.period_ends_on for m in queued} == {ENDS_ON}
    assert all("2027年2月28日" in m.body for m in queued)
    assert AuditEntry.objects.filter(resource_type="renewal_reminders").exists()


@pytest.mark.usefixtures("next_year_package")
def test_it_skips_signings_outside_the_lead_time_renewed_or_not_active(
    active_signings: list[Signing],
    residents_in_scope: list[Resident],
    doctor_staff: Staff,
    package: ServicePackage,
) -> None:
    pending = sign(residents_in_scope[3], doctor_staff, package)
    renewed, *others = active_signings

    assert reminders.do_queue_renewal_reminders(None, today=ENDS_ON - timedelta(days=31), lead_days=30) == 0
    services.do_renew_signing(None, renewed, today=ENDS_ON - timedelta(days=10))
    assert reminders.do_queue_renewal_reminders(None, today=ENDS_ON - timedelta(days=10), lead_days=30) == 2

    reminded = set(ReminderMessage.objects.values_list("signing_id", flat=True))
    assert reminded == {s.pk for s in others}
    assert pending.pk not in reminded


@pytest.mark.usefixtures("next_year_package")
def test_it_reminds_again_for_the_next_period(active_signings: list[Signing]) -> None:
    signing = active_signings[0]
    reminders.do_queue_renewal_reminders(None, today=ENDS_ON - timedelta(days=5), lead_days=30)
    new = services.do_renew_signing(None, signing, today=ENDS_ON - timedelta(days=5))

    later = new.ends_on - timedelta(days=5)
    assert reminders.do_queue_renewal_reminders(None, today=later, lead_days=30) >= 1
    assert set(
        ReminderMessage.objects.filter(resident=signing.resident).values_list("period_ends_on", flat=True)
    ) == {
        ENDS_ON,
        new.ends_on,
    }


@override_settings(JIAYI_REMINDER_GATEWAY="tests.signing.test_reminders.RecordingGateway")
def test_it_sends_through_the_configured_gateway_once(active_signings: list[Signing]) -> None:
    RecordingGateway.sent = []
    for signing in active_signings:
        Resident.objects.filter(pk=signing.resident_id).update(phone="13812345678")
    reminders.do_queue_renewal_reminders(None, today=ENDS_ON, lead_days=0)

    assert reminders.send_queued() == (3, 0)
    assert reminders.send_queued() == (0, 0)
    assert len(RecordingGateway.sent) == 3
    assert ReminderMessage.objects.filter(status=ReminderStatus.SENT, sent_at__isnull=False).count() == 3


def test_it_keeps_failed_messages_with_the_reason(active_signings: list[Signing]) -> None:
    Resident.objects.filter(pk=active_signings[0].resident_id).update(phone="")
    Resident.objects.filter(pk__in=[s.resident_id for s in active_signings[1:]]).update(phone="13812345678")
    reminders.do_queue_renewal_reminders(None, today=ENDS_ON, lead_days=0)

    assert reminders.send_queued(RefusingGateway()) == (0, 3)
    errors = dict(ReminderMessage.objects.values_list("resident_id", "error"))
    assert errors[active_signings[0].resident_id] == "the resident has no phone number"
    assert errors[active_signings[1].resident_id] == "provider down"


def test_it_logs_with_the_phone_masked(
    active_signings: list[Signing], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="jiayi.signing.reminders"):
        reminders.LoggingGateway().send("13812345678", "hello")
    assert "138****5678" in caplog.text
    assert "13812345678" not in caplog.text


def test_it_runs_remind_and_expire_from_the_command_line(active_signings: list[Signing]) -> None:
    out = StringIO()
    call_command("signing", "remind", "--lead-days", "30", "--today", "2027-02-10", stdout=out)
    call_command("signing", "remind", "--today", "2027-02-11", stdout=out)
    call_command("signing", "expire", "--today", "2027-03-01", stdout=out)

    assert out.getvalue().splitlines() == [
        "3 renewal reminders queued.",
        "0 renewal reminders queued.",
        "3 signings expired.",
    ]
    assert not Signing.objects.filter(pk__in=[s.pk for s in active_signings], status=SigningStatus.ACTIVE)
    with pytest.raises(CommandError):
        call_command("signing", "remind", "--lead-days", "-1")


def test_it_queues_reminders_and_expires_from_background_tasks(
    active_signings: list[Signing], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jiayi.signing import tasks

    monkeypatch.setattr(tasks.timezone, "localdate", lambda: ENDS_ON - timedelta(days=3))
    assert tasks.queue_renewal_reminders.call(lead_days=30) == 3
    assert tasks.queue_renewal_reminders.call(lead_days=30) == 0
    assert ReminderMessage.objects.exclude(status=ReminderStatus.QUEUED).count() == 3

    monkeypatch.setattr(tasks.timezone, "localdate", lambda: ENDS_ON + timedelta(days=1))
    assert tasks.expire_ended_signings.call() == 3
