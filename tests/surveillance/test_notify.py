"""Delivering the alert notification outbox: gateways, idempotent sending, retries, command and task."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import override_settings

from jiayi.surveillance import notify, services
from jiayi.surveillance.models import Alert, AlertRule, Notification, RuleKind
from jiayi.surveillance.tasks import send_notifications_task
from tests.conftest import Personas
from tests.surveillance.factories import AS_OF, add_series, ears_settings, make_unit, quiet_then_spike

pytestmark = pytest.mark.django_db


class Recording:
    def __init__(self) -> None:
        self.messages: list[notify.OutgoingMessage] = []

    def send(self, message: notify.OutgoingMessage) -> None:
        self.messages.append(message)


class Refusing:
    def send(self, message: notify.OutgoingMessage) -> None:
        raise notify.GatewayError("gateway down")


@pytest.fixture
def alert(personas: Personas) -> Alert:
    AlertRule.objects.create(name="two agree", kind=RuleKind.DETECTORS_AGREE, parameters={"k": 2})
    unit = make_unit("U1")
    add_series(unit, "fever", quiet_then_spike())
    ears_settings(unit, "fever")
    return Alert.objects.get(pk__in=services.do_detect(AS_OF).alerts_opened)


def test_it_sends_each_notification_once_even_when_run_again(alert: Alert, personas: Personas) -> None:
    pending = Notification.objects.filter(alert=alert)
    assert pending.count() >= 1
    assert personas.cdc.pk in pending.values_list("recipient_id", flat=True)
    gateway = Recording()
    first = notify.send_pending(gateway)
    assert first.sent == pending.count()
    assert first.failed == 0
    assert {m.recipient_id for m in gateway.messages} == set(pending.values_list("recipient_id", flat=True))
    message = gateway.messages[0]
    assert f"#alert-{alert.pk}" in message.body
    assert "U1" in message.body
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    again = notify.send_pending(gateway)
    assert (again.sent, again.failed) == (0, 0)
    assert len(gateway.messages) == first.sent


def test_a_failing_gateway_keeps_the_reason_and_gives_up_after_the_attempts(alert: Alert) -> None:
    count = Notification.objects.count()
    for attempt in range(1, notify.MAX_ATTEMPTS + 1):
        result = notify.send_pending(Refusing())
        assert result.failed == count
        row = Notification.objects.order_by("id").first()
        assert row is not None
        assert (row.attempts, row.error, row.sent_at) == (attempt, "gateway down", None)
    # Given up: a working gateway is not handed rows that failed too often.
    assert notify.send_pending(Recording()).sent == 0


@override_settings(
    EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend", DEFAULT_FROM_EMAIL="cdc@example.org"
)
def test_the_email_gateway_sends_through_djangos_backend(alert: Alert, personas: Personas) -> None:
    personas.cdc.email = "officer@example.org"
    personas.cdc.save(update_fields=["email"])
    Notification.objects.exclude(recipient=personas.cdc).delete()
    result = notify.send_pending(notify.get_gateway("email"))
    assert result.sent == 1
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["officer@example.org"]
    assert sent.from_email == "cdc@example.org"
    assert sent.subject.startswith("New alert")


def test_the_email_gateway_fails_a_recipient_without_an_address(alert: Alert, personas: Personas) -> None:
    personas.cdc.email = ""
    personas.cdc.save(update_fields=["email"])
    result = notify.send_pending(notify.EmailGateway())
    row = Notification.objects.get(recipient=personas.cdc)
    assert result.failed >= 1
    assert row.error == "the recipient has no e-mail address"
    assert row.sent_at is None


def test_gateways_are_chosen_by_name_setting_or_dotted_path() -> None:
    assert isinstance(notify.get_gateway("log"), notify.LoggingGateway)
    assert isinstance(notify.get_gateway("tests.surveillance.test_notify.Recording"), Recording)
    with override_settings(JIAYI_SURVEILLANCE_GATEWAY="email"):
        assert isinstance(notify.get_gateway(), notify.EmailGateway)
    with pytest.raises(ValueError, match="unknown notification gateway"):
        notify.get_gateway("sms")


def test_the_command_and_the_task_deliver_the_outbox(alert: Alert, caplog: pytest.LogCaptureFixture) -> None:
    total = Notification.objects.count()
    out = StringIO()
    with caplog.at_level("INFO", logger="jiayi.surveillance.notify"):
        call_command("surveillance", "send-notifications", "--gateway", "log", "--limit", "1", stdout=out)
    assert out.getvalue().strip() == "1 sent, 0 failed, 0 already sent"
    assert "alert notification" in caplog.text
    assert send_notifications_task.call("log") == {"sent": total - 1, "failed": 0, "skipped": 0}
    assert send_notifications_task.call("log") == {"sent": 0, "failed": 0, "skipped": 0}
    with pytest.raises(CommandError, match="unknown notification gateway"):
        call_command("surveillance", "send-notifications", "--gateway", "pager")
