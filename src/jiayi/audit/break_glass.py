"""Break-glass (紧急访问): a clinician opens one resident's health account outside their scope, giving a
reason, for a limited time; every such access waits for the centre manager's review.

The grant itself widens `access.health_accounts_visible_to` for its window and nothing else: lists,
searches and edits keep their own scope. Starting and reviewing are audited with the reason, and the
audit rows carry the resident, so the resident sees them in "who viewed my record".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_noop

from jiayi import access
from jiayi.audit.models import Action, BreakGlass, Outcome, Review
from jiayi.audit.services import record
from jiayi.registry import identity
from jiayi.registry.models import Resident

DEFAULT_HOURS = 4
# The messages below repeat these two numbers; they are translated as whole sentences.
MIN_REASON_LENGTH = 10
MAX_REASON_LENGTH = 500
RESOURCE = "health_account"


def window() -> timedelta:
    """How long a break-glass grant lasts: `JIAYI_BREAK_GLASS_HOURS`, four hours unless set."""
    return timedelta(hours=int(getattr(settings, "JIAYI_BREAK_GLASS_HOURS", DEFAULT_HOURS)))


@dataclass(frozen=True, slots=True)
class BreakGlassError(ValueError):
    """A request the rules refuse; `field` names the form field to fix."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def find_resident(identifier: str) -> Resident | None:
    """The resident with this citizen ID (18 characters) or health-record number (17 digits)."""
    value = identity.normalise_citizen_id(identifier)
    if len(value) == 18:
        return Resident.objects.filter(citizen_id=value).first()
    if len(value) == 17 and value.isdigit():
        return Resident.objects.filter(health_record_number=value).first()
    return None


def open_break_glass(
    *, request: HttpRequest | None, user: Any, identifier: str, reason: str, now: datetime | None = None
) -> BreakGlass:
    """Grant `user` the health account of the resident named by `identifier` for the break-glass window.

    Refusals are audited as denied (without the identifier, which may be a citizen ID)."""
    reason = reason.strip()
    if not access.can_break_glass(user):
        record(
            request=request,
            actor=user,
            action=Action.BREAK_GLASS,
            resource_type=RESOURCE,
            outcome=Outcome.DENIED,
        )
        raise BreakGlassError("identifier", gettext_noop("your role cannot open records by break-glass"))
    if len(reason) < MIN_REASON_LENGTH:
        raise BreakGlassError("reason", gettext_noop("state the reason in at least 10 characters"))
    if len(reason) > MAX_REASON_LENGTH:
        raise BreakGlassError("reason", gettext_noop("keep the reason within 500 characters"))
    resident = find_resident(identifier)
    if resident is None:
        raise BreakGlassError(
            "identifier", gettext_noop("no resident with this citizen ID or health-record number")
        )
    if access.residents_visible_to(user).filter(pk=resident.pk).exists():
        raise BreakGlassError(
            "identifier", gettext_noop("this resident is already in your scope: open the record directly")
        )
    now = now or timezone.now()
    with transaction.atomic():
        grant = BreakGlass.objects.create(
            user=user, resident=resident, reason=reason, started_at=now, expires_at=now + window()
        )
        record(
            request=request,
            actor=user,
            action=Action.BREAK_GLASS,
            resource_type=RESOURCE,
            resource_id=resident.pk,
            resident_id=resident.pk,
            purpose=reason,
            detail={"grant": grant.pk, "expires_at": grant.expires_at.isoformat(timespec="seconds")},
        )
    return grant


def review_break_glass(
    *, request: HttpRequest | None, user: Any, grant: BreakGlass, decision: str, note: str = ""
) -> BreakGlass:
    """The centre manager's verdict on one break-glass access: approved, or flagged for follow-up."""
    if decision not in (Review.APPROVED, Review.FLAGGED):
        raise BreakGlassError("decision", gettext_noop("choose approve or flag"))
    note = note.strip()
    if decision == Review.FLAGGED and not note:
        raise BreakGlassError("note", gettext_noop("say what is wrong with this access"))
    if len(note) > 200:
        raise BreakGlassError("note", gettext_noop("keep the note within 200 characters"))
    with transaction.atomic():
        grant.review = decision
        grant.reviewed_by = user
        grant.reviewed_at = timezone.now()
        grant.review_note = note
        grant.save(update_fields=["review", "reviewed_by", "reviewed_at", "review_note"])
        record(
            request=request,
            actor=user,
            action=Action.REVIEW,
            resource_type="break_glass",
            resource_id=grant.pk,
            resident_id=grant.resident_id,
            detail={"decision": decision},
        )
    return grant
