"""Referral items of the family doctor's worklist (工作清单): drafts to send (an emergency follow-up's
draft first), down-referrals waiting for the community to accept, and accepted ones whose care starts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from jiayi.care.worklist import WorklistItem, register_worklist_source
from jiayi.referrals.choices import Direction, ReferralStatus, Urgency
from jiayi.referrals.models import Referral
from jiayi.registry.models import Staff
from jiayi.signing.choices import SigningStatus

# Drafts come from the doctor or from an emergency follow-up: both wait for the doctor to send them.
_KINDS = {
    (Direction.UP, ReferralStatus.DRAFT): ("referral_draft", gettext_lazy("Up-referral draft to send"), 1),
    (Direction.DOWN, ReferralStatus.SENT): (
        "referral_down_awaiting",
        gettext_lazy("Down-referral to accept"),
        2,
    ),
    (Direction.DOWN, ReferralStatus.ACCEPTED): (
        "referral_down_care",
        gettext_lazy("Down-referred care starts"),
        3,
    ),
}


def referral_items(staff: Staff, today: date) -> Iterable[WorklistItem]:
    """The doctor's referrals needing action, for residents still signed with the doctor."""
    referrals = (
        Referral.objects.filter(
            family_doctor=staff,
            resident__signings__family_doctor=staff,
            resident__signings__status=SigningStatus.ACTIVE,
        )
        .filter(status__in=[ReferralStatus.DRAFT, ReferralStatus.SENT, ReferralStatus.ACCEPTED])
        .distinct()
        .order_by("created_at", "id")
    )
    for referral in referrals:
        found = _KINDS.get((Direction(referral.direction), ReferralStatus(referral.status)))
        if found is None:
            continue
        kind, title, priority = found
        due = referral.scheduled_on if kind == "referral_down_care" and referral.scheduled_on else None
        yield WorklistItem(
            kind=kind,
            resident_id=referral.resident_id,
            due_on=due or min(timezone.localdate(referral.created_at), today),
            title=str(title),
            priority=priority,
            url=reverse("referrals:detail", args=[referral.pk]),
            high_risk=referral.urgency in (Urgency.URGENT, Urgency.EMERGENCY) and kind == "referral_draft",
        )


def register() -> None:
    register_worklist_source(referral_items)
