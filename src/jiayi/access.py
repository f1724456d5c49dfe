"""Who may see and change what: every access decision in jiayi is made here.

Each function answers one question with one condition per line, so a test per role and relationship
covers every branch. Views and API handlers never filter residents themselves: they ask
`residents_visible_to(user)` and treat anything outside it as nonexistent (404).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from jiayi.registry.choices import Role
from jiayi.registry.models import Account, Institution, Place, Resident

CLINICAL_ROLES = frozenset({Role.FAMILY_DOCTOR, Role.TEAM_MEMBER, Role.CENTRE_MANAGER})
STAFF_ROLES = frozenset(
    {
        Role.FAMILY_DOCTOR,
        Role.TEAM_MEMBER,
        Role.CENTRE_MANAGER,
        Role.REFERRAL_DESK,
        Role.CDC_OFFICER,
        Role.DISTRICT_ANALYST,
        Role.ADMINISTRATOR,
    }
)
# Roles that may list master data (places, institutions, staff, teams): not personal data of residents.
MASTER_DATA_ROLES = STAFF_ROLES


def account_of(user: Any) -> Account | None:
    """The user's jiayi account, or None for anonymous users and logins without one."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.account  # type: ignore[no-any-return]
    except Account.DoesNotExist:
        return None


def role_of(user: Any) -> str | None:
    account = account_of(user)
    return account.role if account is not None else None


def has_role(user: Any, *roles: str) -> bool:
    return role_of(user) in roles


def centre_of(account: Account) -> Institution | None:
    """The community health centre a staff account works for (a station's parent centre)."""
    institution = account.institution
    if institution is None and account.staff_id is not None and account.staff is not None:
        institution = account.staff.institution
    if institution is None:
        return None
    return institution.centre


def committees_of_team_member(account: Account) -> QuerySet[Place]:
    """Committees served by any team the account's staff member belongs to."""
    if account.staff_id is None:
        return Place.objects.none()
    return Place.objects.filter(teams__members=account.staff_id).distinct()


def residents_visible_to(user: Any) -> QuerySet[Resident]:
    """The residents whose personal data the user may read. Deny by default."""
    account = account_of(user)
    residents = Resident.objects.all()
    if account is None:
        return residents.none()
    if account.role == Role.RESIDENT:
        return residents.filter(pk=account.resident_id) if account.resident_id else residents.none()
    if account.role in (Role.FAMILY_DOCTOR, Role.TEAM_MEMBER):
        return residents.filter(committee__in=committees_of_team_member(account))
    if account.role == Role.CENTRE_MANAGER:
        centre = centre_of(account)
        if centre is None:
            return residents.none()
        return residents.filter(committee__responsible_centre=centre)
    # Referral desks, CDC officers, analysts and administrators see no individual residents here.
    return residents.none()


def residents_editable_by(user: Any) -> QuerySet[Resident]:
    """Residents whose registry data the user may change: the clinical team's and the manager's."""
    account = account_of(user)
    if account is None or account.role not in CLINICAL_ROLES:
        return Resident.objects.none()
    return residents_visible_to(user)


def can_create_residents(user: Any) -> bool:
    return role_of(user) in CLINICAL_ROLES


def committees_assignable_by(user: Any) -> QuerySet[Place]:
    """Committees a user may register a new resident into."""
    account = account_of(user)
    if account is None:
        return Place.objects.none()
    if account.role in (Role.FAMILY_DOCTOR, Role.TEAM_MEMBER):
        return committees_of_team_member(account)
    if account.role == Role.CENTRE_MANAGER:
        centre = centre_of(account)
        return Place.objects.filter(responsible_centre=centre) if centre else Place.objects.none()
    return Place.objects.none()


def can_view_master_data(user: Any) -> bool:
    return role_of(user) in MASTER_DATA_ROLES


def can_use_admin(user: Any) -> bool:
    """Only administrators manage master data in Django's admin."""
    return bool(getattr(user, "is_active", False)) and (
        role_of(user) == Role.ADMINISTRATOR or bool(getattr(user, "is_superuser", False))
    )


def sees_aggregates_only(user: Any) -> bool:
    return role_of(user) in (Role.DISTRICT_ANALYST, Role.CDC_OFFICER)


def resident_filter_for_households(user: Any) -> Q:
    """Households are visible when at least one member is."""
    return Q(members__in=residents_visible_to(user))
