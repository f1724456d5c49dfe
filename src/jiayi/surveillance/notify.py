"""Delivering the alert notification outbox (预警通知发件箱).

Detection and the alert workflow only queue `Notification` rows; `send_pending` hands them to a
gateway later, so a mail server that is down delays notifications without losing them or rolling back
an alert. The gateway is pluggable through the `JIAYI_SURVEILLANCE_GATEWAY` setting: `"log"` (the
default: logs that a message would go out, by ids only), `"email"` (Django's e-mail backend, to the
recipient's account address), or a dotted path to a class with `send(message)`.

Sending is idempotent: each row is locked, checked and marked sent in one transaction, so a second run,
or one overlapping it, sends nothing already sent. A row whose gateway failed keeps the reason and is
tried again on the next run, up to `MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from jiayi.surveillance.models import Notification

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
ERROR_MAX_LENGTH = 200


class GatewayError(Exception):
    """The gateway could not deliver a message; it stays in the outbox with the reason."""


@dataclass(frozen=True)
class OutgoingMessage:
    """What a gateway delivers: no personal data beyond the recipient's own address."""

    notification_id: int
    recipient_id: int
    address: str
    subject: str
    body: str


class NotificationGateway(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...


class LoggingGateway:
    """Delivers nothing: logs that a notification would go out, naming ids only."""

    def send(self, message: OutgoingMessage) -> None:
        logger.info("alert notification %s to user %s", message.notification_id, message.recipient_id)


class EmailGateway:
    """Sends through Django's configured e-mail backend (`EMAIL_BACKEND`)."""

    def send(self, message: OutgoingMessage) -> None:
        if not message.address:
            raise GatewayError("the recipient has no e-mail address")
        try:
            EmailMessage(
                subject=message.subject,
                body=message.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[message.address],
            ).send(fail_silently=False)
        except OSError as exc:  # smtplib errors are OSErrors: the server is down or refused
            raise GatewayError(f"the mail server refused: {exc.__class__.__name__}") from exc


GATEWAYS: dict[str, type[NotificationGateway]] = {"log": LoggingGateway, "email": EmailGateway}


def get_gateway(name: str | None = None) -> NotificationGateway:
    """The gateway named (or set in `JIAYI_SURVEILLANCE_GATEWAY`): "log", "email" or a dotted path."""
    chosen = name or str(getattr(settings, "JIAYI_SURVEILLANCE_GATEWAY", "log"))
    gateway_class = GATEWAYS.get(chosen)
    if gateway_class is None:
        try:
            gateway_class = import_string(chosen)
        except ImportError as exc:
            raise ValueError(f"unknown notification gateway {chosen!r}: log, email or a dotted path") from exc
    gateway: NotificationGateway = gateway_class()
    return gateway


def message_for(notification: Notification) -> OutgoingMessage:
    alert = notification.alert
    units = ", ".join(unit.code for unit in alert.units.all())
    body = (
        f"{notification.subject}\n"
        f"预警 Alert {alert.pk}: {alert.get_code_display()}, {units or '-'}, {alert.opened_on.isoformat()}\n"
        f"状态 State: {alert.get_state_display()}\n"
        f"/surveillance/#alert-{alert.pk}"
    )
    return OutgoingMessage(
        notification_id=notification.pk,
        recipient_id=notification.recipient_id,
        address=notification.recipient.email,
        subject=notification.subject,
        body=body,
    )


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # already sent by an overlapping run


def send_pending(gateway: NotificationGateway | None = None, *, limit: int = 500) -> SendResult:
    """Hand unsent notifications (fewer than `MAX_ATTEMPTS` tries) to the gateway, oldest first."""
    gateway = gateway or get_gateway()
    result = SendResult()
    pending = list(
        Notification.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in pending:
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update()
                .select_related("alert", "recipient")
                .filter(pk=pk, sent_at__isnull=True)
                .first()
            )
            if notification is None:
                result.skipped += 1
                continue
            notification.attempts += 1
            try:
                gateway.send(message_for(notification))
            except GatewayError as exc:
                notification.error = str(exc)[:ERROR_MAX_LENGTH]
                result.failed += 1
            else:
                notification.sent_at = timezone.now()
                notification.error = ""
                result.sent += 1
            notification.save(update_fields=["attempts", "error", "sent_at"])
    return result
