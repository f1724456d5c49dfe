"""Why personal data leaves jiayi: staff state a reason for every export of personal data.

PIPL art. 6 limits processing to a stated purpose, and art. 55–56 ask that providing personal
information to others be assessed and the record kept. A staff export (a resident's FHIR health account
through the API, `jiayi export-fhir`) therefore takes a reason from a short list plus the user's own words,
refuses without them, and writes both into the audit entry. A resident downloading their own data
states nothing: it is their right (PIPL art. 45). Backups are not exports of this kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

from jiayi import access
from jiayi.registry.choices import Role

# Long enough to say something ("转诊至区中心医院心内科"), short enough for the audit entry.
DETAIL_MIN = 8
DETAIL_MAX = 160


class ExportReason(models.TextChoices):
    CARE = "care", "诊疗与随访 Care of the resident"
    REFERRAL = "referral", "转诊与会诊 Referral or consultation"
    QUALITY_REVIEW = "quality_review", "质控与病历核查 Quality or record review"
    RESIDENT_REQUEST = "resident_request", "居民本人或其授权申请 At the resident's request"
    LEGAL_DUTY = "legal_duty", "法定职责 Legal duty (e.g. a public-health report)"
    OTHER = "other", "其他 Other"


class ReasonError(ValueError):
    """A missing or unusable reason, naming the field to fix (`reason` or `reason_detail`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StatedReason:
    code: str
    detail: str

    @property
    def purpose(self) -> str:
        """The audit entry's purpose: the reason's code and the user's words."""
        return f"export ({self.code}): {self.detail}"[:200]

    def audit_detail(self) -> dict[str, Any]:
        return {"reason": self.code, "reason_detail": self.detail}


def choices_text() -> str:
    return ", ".join(ExportReason.values)


def require_reason(code: str | None, detail: str | None) -> StatedReason:
    """The stated reason, or ReasonError naming what is missing."""
    code = (code or "").strip()
    words = " ".join((detail or "").split())
    if not code:
        raise ReasonError("reason", f"state why you export personal data: one of {choices_text()}")
    if code not in ExportReason.values:
        raise ReasonError("reason", f"unknown reason {code[:40]!r}: use one of {choices_text()}")
    if len(words) < DETAIL_MIN:
        raise ReasonError("reason_detail", f"explain the reason in at least {DETAIL_MIN} characters")
    if len(words) > DETAIL_MAX:
        raise ReasonError("reason_detail", f"keep the explanation under {DETAIL_MAX} characters")
    return StatedReason(code, words)


def needs_reason(user: Any) -> bool:
    """Whether an export by this user must state a reason: everyone except a resident taking their own
    (or, authorised, their household member's) data."""
    return access.role_of(user) != Role.RESIDENT
