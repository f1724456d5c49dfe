"""A resident authorises a member of their household to act for them on their health account (授权家庭
成员代为查看健康档案): grant with an expiry date, revoke, and which accounts a member may read today.

Only members of the same household may be authorised, for at most `MAX_DAYS`; every grant and revocation
is audited with both residents' ids.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.records.models import AccountAuthorisation
from jiayi.registry.models import Resident

MAX_DAYS = 366


class AuthorisationError(ValueError):
    """A grant or revocation refused, with the reason."""


def check_grant(resident: Resident, member: Resident, expires_on: date, today: date) -> None:
    """The rules of a grant, without the database: a household member other than oneself, and an
    expiry from today up to a year ahead."""
    if member.pk == resident.pk:
        raise AuthorisationError("a resident does not need to authorise themself")
    if resident.household_id is None or member.household_id != resident.household_id:
        raise AuthorisationError("only a member of the same household can be authorised")
    if member.date_of_death is not None:
        raise AuthorisationError("a deceased resident cannot be authorised")
    if expires_on < today:
        raise AuthorisationError(f"expires_on {expires_on.isoformat()} is in the past")
    if expires_on > today + timedelta(days=MAX_DAYS):
        raise AuthorisationError(f"an authorisation lasts at most {MAX_DAYS} days")


def grant(
    actor: Any,
    resident: Resident,
    member: Resident,
    expires_on: date,
    *,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> AccountAuthorisation:
    """Authorise `member` to read `resident`'s health account until `expires_on`; an active grant to the
    same member is replaced (its expiry changes), so there is never more than one."""
    now = now or timezone.now()
    check_grant(resident, member, expires_on, timezone.localtime(now).date())
    with transaction.atomic():
        active_grants(resident).filter(member=member).update(revoked_at=now)
        granted = AccountAuthorisation.objects.create(
            resident=resident, member=member, granted_at=now, expires_on=expires_on
        )
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="account_authorisation",
            resource_id=granted.pk,
            resident_id=resident.pk,
            detail={"member": member.pk, "expires_on": expires_on.isoformat()},
        )
    return granted


def revoke(
    actor: Any,
    authorisation: AccountAuthorisation,
    *,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> AccountAuthorisation:
    now = now or timezone.now()
    with transaction.atomic():
        current = AccountAuthorisation.objects.select_for_update().get(pk=authorisation.pk)
        if current.revoked_at is not None:
            raise AuthorisationError(f"authorisation #{current.pk} was already revoked")
        current.revoked_at = now
        current.save(update_fields=["revoked_at"])
        record(
            request=request,
            actor=actor,
            action=Action.DELETE,
            resource_type="account_authorisation",
            resource_id=current.pk,
            resident_id=current.resident_id,
            detail={"member": current.member_id},
        )
    return current


def active_grants(resident: Resident, today: date | None = None) -> QuerySet[AccountAuthorisation]:
    today = today or timezone.localdate()
    return AccountAuthorisation.objects.filter(
        resident=resident, revoked_at__isnull=True, expires_on__gte=today
    )
