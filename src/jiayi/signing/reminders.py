"""Renewal reminders (续约提醒): queue a message for every signing due for renewal, send them later.

Queuing and sending are separate steps around an outbox (`ReminderMessage`), so a gateway that is down
delays messages without losing them, and queuing twice for one signing and period adds nothing (a
unique constraint backs the check). The gateway is pluggable through the `JIAYI_REMINDER_GATEWAY`
setting (a dotted path to a class); the default only logs, with the phone number masked.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.registry.identity import mask_phone
from jiayi.signing import rules
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import ReminderMessage, ReminderStatus, Signing
from jiayi.signing.services import Actor

logger = logging.getLogger(__name__)
RENEWAL = "renewal"
DEFAULT_GATEWAY = "jiayi.signing.reminders.LoggingGateway"
ERROR_MAX_LENGTH = 200


class GatewayError(Exception):
    """The gateway could not deliver a message; it stays in the outbox as failed, with the reason."""


class ReminderGateway(Protocol):
    """Something that delivers a text to a phone (an SMS provider, the WeChat service account...)."""

    def send(self, phone: str, body: str) -> None: ...


class LoggingGateway:
    """Delivers nothing: logs that a message would go out, with the phone masked."""

    def send(self, phone: str, body: str) -> None:
        logger.info("reminder to %s: %s", mask_phone(phone), body)


def get_gateway() -> ReminderGateway:
    gateway_class = import_string(str(getattr(settings, "JIAYI_REMINDER_GATEWAY", DEFAULT_GATEWAY)))
    gateway: ReminderGateway = gateway_class()
    return gateway


def signings_due_for_reminder(today: date, lead_days: int) -> QuerySet[Signing]:
    """Active signings ending within `lead_days` from today that nobody has renewed yet."""
    return Signing.objects.filter(
        status=SigningStatus.ACTIVE,
        ends_on__gte=today,
        ends_on__lte=today + timedelta(days=lead_days),
        successors__isnull=True,
        resident__date_of_death__isnull=True,
    )


def renewal_text(doctor_name: str, ends_on: date) -> str:
    return (
        f"【家庭医生签约】您与{doctor_name}医生的家庭医生签约将于{ends_on.year}年{ends_on.month}月"
        f"{ends_on.day}日到期，可在到期前到社区卫生服务中心或线上续约。"
    )


def do_queue_renewal_reminders(
    actor: Actor,
    *,
    today: date,
    lead_days: int = rules.DEFAULT_RENEWAL_LEAD_DAYS,
    request: HttpRequest | None = None,
    batch: int = 2_000,
) -> int:
    """Queue one renewal reminder per signing due for renewal and period; returns how many were new."""
    if lead_days < 0:
        raise ValueError("lead_days must not be negative")
    due = (
        signings_due_for_reminder(today, lead_days)
        .exclude(reminders__kind=RENEWAL, reminders__period_ends_on=F("ends_on"))
        .order_by("id")
        .values_list("id", "resident_id", "ends_on", "family_doctor__name")
    )
    queued = 0
    with transaction.atomic():
        rows = list(due)
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            ids = [signing_id for signing_id, *_rest in chunk]
            before = ReminderMessage.objects.filter(signing_id__in=ids, kind=RENEWAL).count()
            ReminderMessage.objects.bulk_create(
                [
                    ReminderMessage(
                        signing_id=signing_id,
                        resident_id=resident_id,
                        kind=RENEWAL,
                        period_ends_on=ends_on,
                        body=renewal_text(doctor_name, ends_on),
                    )
                    for signing_id, resident_id, ends_on, doctor_name in chunk
                ],
                # A run overlapping this one may have queued some meanwhile; the constraint keeps one.
                ignore_conflicts=True,
            )
            queued += ReminderMessage.objects.filter(signing_id__in=ids, kind=RENEWAL).count() - before
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="renewal_reminders",
            detail={"queued": queued, "today": today.isoformat(), "lead_days": lead_days},
        )
    return queued


def send_queued(gateway: ReminderGateway | None = None, *, batch: int = 500) -> tuple[int, int]:
    """Hand queued messages to the gateway; returns (sent, failed). Failed ones keep the reason."""
    gateway = gateway or get_gateway()
    sent = failed = 0
    messages = (
        ReminderMessage.objects.filter(status=ReminderStatus.QUEUED)
        .select_related("resident")
        .order_by("id")[:batch]
    )
    for message in messages:
        message.attempts += 1
        try:
            if not message.resident.phone:
                raise GatewayError("the resident has no phone number")
            gateway.send(message.resident.phone, message.body)
        except GatewayError as exc:
            message.status = ReminderStatus.FAILED
            message.error = str(exc)[:ERROR_MAX_LENGTH]
            failed += 1
        else:
            message.status = ReminderStatus.SENT
            message.sent_at = timezone.now()
            sent += 1
        message.save(update_fields=["status", "attempts", "error", "sent_at"])
    return sent, failed
