"""Background runs of detection and of the notification outbox through Django's tasks framework
(a database-backed worker)."""

from __future__ import annotations

from datetime import date

from django_tasks import task

from jiayi.surveillance import notify, services


@task()
def detect_task(as_of: str | None = None) -> dict[str, int]:
    """Run detection for `as_of` (ISO date, default today); task arguments must be JSON, hence text."""
    from django.utils import timezone

    day = date.fromisoformat(as_of) if as_of else timezone.localdate()
    result = services.do_detect(day)
    return {
        "settings": result.settings,
        "signals_created": result.signals_created,
        "signals_removed": result.signals_removed,
        "alerts_opened": len(result.alerts_opened),
    }


@task()
def send_notifications_task(gateway: str | None = None, limit: int = 500) -> dict[str, int]:
    """Deliver the unsent alert notifications through `gateway` (default: the configured one)."""
    result = notify.send_pending(notify.get_gateway(gateway), limit=limit)
    return {"sent": result.sent, "failed": result.failed, "skipped": result.skipped}
