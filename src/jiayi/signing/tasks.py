"""Background tasks of the signing lifecycle (django-tasks), for a scheduler to enqueue daily."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from jiayi.signing import reminders, rules, services


@task()
def queue_renewal_reminders(lead_days: int = rules.DEFAULT_RENEWAL_LEAD_DAYS) -> int:
    """Queue today's renewal reminders and hand them to the gateway; returns how many were queued."""
    queued = reminders.do_queue_renewal_reminders(None, today=timezone.localdate(), lead_days=lead_days)
    reminders.send_queued()
    return queued


@task()
def expire_ended_signings() -> int:
    return services.do_expire_ended_signings(None, today=timezone.localdate())
