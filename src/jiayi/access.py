"""Who may see and change what: every access decision in jiayi is made here.

Each function answers one question with one condition per line, so a test per role and relationship
covers every branch. Views and API handlers never filter residents themselves: they ask
`residents_visible_to(user)` and treat anything outside it as nonexistent (404).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from jiayi.registry.choices import Relationship, Role
from jiayi.registry.models import Account, Household, Institution, Place, Resident, Staff, Team
from jiayi.signing.models import ServicePackage, Signing
from jiayi.surveillance.models import Alert, ReportingUnit

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


def can_list_residents(user: Any) -> bool:
    """Lists and searches of residents and households are for the clinical roles only; a resident
    reads their own record through their home page, and non-clinical staff never list people."""
    return role_of(user) in CLINICAL_ROLES


def committees_in_scope(user: Any) -> QuerySet[Place]:
    """Committees whose residents the user may list (the committee filter of the residents page)."""
    account = account_of(user)
    if account is None:
        return Place.objects.none()
    if account.role in (Role.FAMILY_DOCTOR, Role.TEAM_MEMBER):
        return committees_of_team_member(account)
    if account.role == Role.CENTRE_MANAGER:
        centre = centre_of(account)
        return Place.objects.filter(responsible_centre=centre) if centre else Place.objects.none()
    return Place.objects.none()


def households_visible_to(user: Any) -> QuerySet[Household]:
    """Households with at least one member the user may read; other members stay hidden."""
    if not can_list_residents(user):
        return Household.objects.none()
    visible_members = residents_visible_to(user).filter(household=OuterRef("pk"))
    return Household.objects.filter(Exists(visible_members))


def household_members_visible_to(user: Any, household: Household) -> QuerySet[Resident]:
    """Members of a household the user may see listed: those in scope, and for a resident who heads
    the household, its other members too (the authorised household member of the policy)."""
    members = Resident.objects.filter(household=household)
    account = account_of(user)
    if account is None:
        return members.none()
    if account.role != Role.RESIDENT:
        return members.filter(pk__in=residents_visible_to(user))
    if account.resident is None:
        return members.none()
    if account.resident.household_id != household.pk:
        return members.none()
    if account.resident.relationship != Relationship.HEAD:
        return members.filter(pk=account.resident.pk)
    return members


def residents_for_statistics(user: Any) -> QuerySet[Resident]:
    """Residents a user may see counted in aggregate figures (never listed as people): staff see the
    district's population counts, residents none."""
    if role_of(user) in STAFF_ROLES:
        return Resident.objects.all()
    return Resident.objects.none()


def small_cell_threshold(user: Any) -> int:
    """Counts below this are shown as "<n" so a small cell cannot single a person out. Clinicians see
    exact counts of people they may read anyway; everyone else gets suppressed small cells."""
    if role_of(user) in CLINICAL_ROLES:
        return 0
    return 5


# Family-doctor signing ---------------------------------------------------------------------------------


def signings_visible_to(user: Any) -> QuerySet[Signing]:
    """Signings the user may read: a family doctor's or team member's teams', a centre manager's centre's,
    a resident's own. Deny by default."""
    account = account_of(user)
    signings = Signing.objects.all()
    if account is None:
        return signings.none()
    if account.role == Role.RESIDENT and account.resident_id is not None:
        return signings.filter(resident=account.resident_id)
    if account.role in (Role.FAMILY_DOCTOR, Role.TEAM_MEMBER):
        return signings.filter(team__in=teams_of_staff(account))
    if account.role == Role.CENTRE_MANAGER:
        centre = centre_of(account)
        return signings.filter(centre=centre) if centre is not None else signings.none()
    # Referral desks, CDC officers, analysts, administrators and residents without a record: none.
    return signings.none()


def teams_of_staff(account: Account) -> QuerySet[Team]:
    """The teams the account's staff member belongs to."""
    if account.staff_id is None:
        return Team.objects.none()
    return Team.objects.filter(members=account.staff_id)


def can_list_signings(user: Any) -> bool:
    """Signing lists are for the clinical roles (their teams' or centre's) and residents (their own)."""
    return role_of(user) in CLINICAL_ROLES or role_of(user) == Role.RESIDENT


def signings_editable_by(user: Any) -> QuerySet[Signing]:
    """Signings the user may confirm, decline, terminate or renew: the clinical roles' visible ones.
    Residents read their signings here but change them at the counter or through their doctor."""
    if role_of(user) not in CLINICAL_ROLES:
        return Signing.objects.none()
    return signings_visible_to(user)


def can_sign_residents(user: Any) -> bool:
    return role_of(user) in CLINICAL_ROLES


def residents_signable_by(user: Any) -> QuerySet[Resident]:
    """Residents the user may sign up: the clinical roles' visible residents."""
    if not can_sign_residents(user):
        return Resident.objects.none()
    return residents_visible_to(user)


def family_doctors_assignable_by(user: Any) -> QuerySet[Staff]:
    """Staff a user may name as a signing's family doctor: those of the user's own centre (its branch
    centres and stations included). Whether each is a GP is a signing rule, checked by the service."""
    account = account_of(user)
    if account is None or account.role not in CLINICAL_ROLES:
        return Staff.objects.none()
    centre = centre_of(account)
    if centre is None:
        return Staff.objects.none()
    return Staff.objects.filter(Q(institution=centre) | Q(institution__parent=centre))


def can_transfer_panels(user: Any) -> bool:
    """Moving a departing doctor's panel is the centre manager's decision."""
    return role_of(user) == Role.CENTRE_MANAGER


def service_packages_visible_to(user: Any) -> QuerySet[ServicePackage]:
    """Service packages are public offers: anyone with an account may list them."""
    if account_of(user) is None:
        return ServicePackage.objects.none()
    return ServicePackage.objects.all()


# Infectious-disease surveillance --------------------------------------------------------------------------


def can_view_surveillance(user: Any) -> bool:
    """The early-warning page is for CDC officers, and read-only for centre managers (their units)."""
    return role_of(user) in (Role.CDC_OFFICER, Role.CENTRE_MANAGER)


def can_manage_alerts(user: Any) -> bool:
    """Only CDC officers assign, verify, dismiss, respond to and close alerts."""
    return role_of(user) == Role.CDC_OFFICER


def can_ingest_surveillance(user: Any) -> bool:
    """Sentinel counts are submitted under a CDC officer's account or token."""
    return role_of(user) == Role.CDC_OFFICER


def reporting_units_visible_to(user: Any) -> QuerySet[ReportingUnit]:
    """CDC officers see every reporting unit; a centre manager those of their own centre. Deny by default."""
    account = account_of(user)
    units = ReportingUnit.objects.all()
    if account is None:
        return units.none()
    if account.role == Role.CDC_OFFICER:
        return units
    if account.role != Role.CENTRE_MANAGER:
        return units.none()
    centre = centre_of(account)
    if centre is None:
        return units.none()
    return units.filter(centre=centre)


def alerts_visible_to(user: Any) -> QuerySet[Alert]:
    """Alerts on units the user may see: all for CDC officers, the own centre's for a centre manager."""
    if role_of(user) == Role.CDC_OFFICER:
        return Alert.objects.all()
    if role_of(user) != Role.CENTRE_MANAGER:
        return Alert.objects.none()
    return Alert.objects.filter(units__in=reporting_units_visible_to(user)).distinct()


# Signing pages --------------------------------------------------------------------------------------------


def can_view_signing_pages(user: Any) -> bool:
    """The panel and signing pages are for the clinical roles; residents use their home page."""
    return role_of(user) in CLINICAL_ROLES


def can_view_panel_load(user: Any) -> bool:
    """Load per doctor and coverage per committee are the centre manager's overview."""
    return role_of(user) == Role.CENTRE_MANAGER


def family_doctors_of_centre(user: Any) -> QuerySet[Staff]:
    """The active registered GPs of a centre manager's centre (branch centres and stations included)."""
    if not can_view_panel_load(user):
        return Staff.objects.none()
    return family_doctors_assignable_by(user).filter(is_registered_gp=True, active=True)


def online_signing_resident(user: Any) -> Resident | None:
    """The resident who signs online: a resident account's own record, nobody else's."""
    account = account_of(user)
    if account is None or account.role != Role.RESIDENT:
        return None
    return account.resident


# Health accounts ------------------------------------------------------------------------------------------


def health_accounts_visible_to(user: Any) -> QuerySet[Resident]:
    """Residents whose health account (健康档案) the user may read: the clinical team's and the centre
    manager's residents in scope, and a resident their own. Deny by default."""
    account = account_of(user)
    if account is None:
        return Resident.objects.none()
    if account.role == Role.RESIDENT:
        return residents_visible_to(user)
    if account.role not in CLINICAL_ROLES:
        return Resident.objects.none()
    return residents_visible_to(user)


def own_health_account(user: Any) -> Resident | None:
    """The resident whose account a resident user reads at /me/health/: their own record only."""
    account = account_of(user)
    if account is None:
        return None
    if account.role != Role.RESIDENT:
        return None
    return account.resident


def access_logs_visible_to(user: Any) -> QuerySet[Resident]:
    """Residents whose access log (who read their record) the user may see: a resident their own
    (PIPL art. 45), a centre manager the centre's residents, for review. Clinicians do not."""
    account = account_of(user)
    if account is None:
        return Resident.objects.none()
    if account.role == Role.RESIDENT:
        return residents_visible_to(user)
    if account.role == Role.CENTRE_MANAGER:
        return residents_visible_to(user)
    return Resident.objects.none()


def own_access_log(user: Any) -> Resident | None:
    """The resident whose access log a resident user reads at /audit/me/access-log/."""
    account = account_of(user)
    if account is None:
        return None
    if account.role != Role.RESIDENT:
        return None
    return account.resident


def can_open_signing_menu(user: Any) -> bool:
    """The "Signings" menu: the panel for the clinical roles, online signing for a resident."""
    if can_view_signing_pages(user):
        return True
    return online_signing_resident(user) is not None
