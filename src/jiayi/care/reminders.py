"""Follow-up reminders (随访提醒) through the signing app's outbox and gateway.

A reminder rides on the resident's active signing (`signing.ReminderMessage`, kind "follow_up") with
the visit date as its period, so the outbox's unique constraint makes queuing idempotent per visit and
`jiayi.signing.reminders.send_queued` delivers it with the configured gateway. The text carries no
personal data beyond what the recipient already knows.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.care.choices import FollowUpStatus, Programme
from jiayi.care.models import FollowUp
from jiayi.care.panel import panel_signings
from jiayi.care.services import Actor
from jiayi.registry.models import Staff
from jiayi.signing.models import ReminderMessage, ReminderStatus

FOLLOW_UP = "follow_up"


def follow_up_text(programme: str, scheduled_on: date) -> str:
    what = "高血压" if programme == Programme.HYPERTENSION else "糖尿病"
    return (
        f"【家庭医生】您的{what}随访时间为{scheduled_on.year}年{scheduled_on.month}月{scheduled_on.day}日，"
        "请按时到社区卫生服务中心随访，或联系您的家庭医生团队改约。"
    )


def do_queue_follow_up_reminders(
    actor: Actor, staff: Staff, *, today: date, request: HttpRequest | None = None
) -> int:
    """Queue one reminder per scheduled follow-up due by today in the doctor's panel; returns how many
    were new."""
    signings = panel_signings(staff)
    due = (
        FollowUp.objects.filter(
            status=FollowUpStatus.SCHEDULED, scheduled_on__lte=today, resident__in=signings.values("resident")
        )
        .annotate(signing_id=Subquery(signings.filter(resident=OuterRef("resident")).values("id")[:1]))
        .values_list("signing_id", "resident_id", "programme", "scheduled_on")
    )
    with transaction.atomic():
        rows = list(due)
        before = ReminderMessage.objects.filter(kind=FOLLOW_UP, resident_id__in=[r[1] for r in rows]).count()
        ReminderMessage.objects.bulk_create(
            [
                ReminderMessage(
                    signing_id=signing_id,
                    resident_id=resident_id,
                    kind=FOLLOW_UP,
                    period_ends_on=scheduled_on,
                    body=follow_up_text(programme, scheduled_on),
                )
                for signing_id, resident_id, programme, scheduled_on in rows
            ],
            ignore_conflicts=True,
        )
        queued = (
            ReminderMessage.objects.filter(kind=FOLLOW_UP, resident_id__in=[r[1] for r in rows]).count()
            - before
        )
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="care_follow_up_reminders",
            detail={"queued": queued, "today": today.isoformat()},
        )
    return queued


def queued_count(staff: Staff) -> int:
    """Follow-up reminders of the doctor's panel still waiting in the outbox."""
    return ReminderMessage.objects.filter(
        kind=FOLLOW_UP, status=ReminderStatus.QUEUED, signing__in=panel_signings(staff)
    ).count()
