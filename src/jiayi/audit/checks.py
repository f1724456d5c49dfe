"""Start-up checks: the audit retention may not be configured below the legal minimum."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

# Cybersecurity Law art. 21: network logs are kept for at least six months.
MINIMUM_RETENTION_DAYS = 185


def retention_days() -> int:
    return int(getattr(settings, "JIAYI_AUDIT_RETENTION_DAYS", MINIMUM_RETENTION_DAYS))


@register()
def check_audit_retention(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    days = retention_days()
    if days < MINIMUM_RETENTION_DAYS:
        return [
            Error(
                f"JIAYI_AUDIT_RETENTION_DAYS is {days}; audit entries must be kept at least "
                f"{MINIMUM_RETENTION_DAYS} days.",
                id="jiayi.audit.E001",
            )
        ]
    return []
