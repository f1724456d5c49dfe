"""Who may see and change what: every access decision in jiayi is made here.

Each function answers one question with one condition per line, so a test per role and relationship
covers every branch. Views and API handlers never filter residents themselves: they ask
`residents_visible_to(user)` and treat anything outside it as nonexistent (404).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone as _timezone  # break-glass windows

from jiayi.audit.models import BreakGlass  # break-glass access
from jiayi.care.models import FollowUp  # health management
from jiayi.feedback.models import Complaint  # health points, education, feedback
from jiayi.points.models import CatalogueItem  # health points, education, feedback
from jiayi.records.models import AccountAuthorisation, MatchReview, ResidentMerge  # health account
from jiayi.referrals.models import Appointment, Referral, ReferralFile, Slot  # referrals and appointments
from jiayi.registry.choices import Relationship, Role
from jiayi.registry.models import Account, Household, Institution, Place, Resident, Staff, Team
from jiayi.reports.models import IssuedReport  # district reports
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
    manager's residents in scope (plus a clinician's unexpired break-glass grants), and a resident their
    own. Deny by default."""
    account = account_of(user)
    if account is None:
        return Resident.objects.none()
    if account.role == Role.RESIDENT:
        return residents_visible_to(user) | health_accounts_authorised_to(user)
    if account.role not in CLINICAL_ROLES:
        return Resident.objects.none()
    return residents_visible_to(user) | break_glass_residents(user)


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


# Health points, health education, satisfaction and complaints ---------------------------------------------


def residents_acting_for(user: Any) -> QuerySet[Resident]:
    """Residents a resident user acts for: themself, and as head of the household, its members (the
    authorised household member, as on the household page). Deny by default."""
    account = account_of(user)
    if account is None or account.role != Role.RESIDENT or account.resident is None:
        return Resident.objects.none()
    me = account.resident
    if me.household_id is None or me.relationship != Relationship.HEAD:
        return Resident.objects.filter(pk=me.pk)
    return Resident.objects.filter(Q(pk=me.pk) | Q(household_id=me.household_id))


def point_accounts_visible_to(user: Any) -> QuerySet[Resident]:
    """Residents whose points balance and history the user may read: the resident and whom they act for;
    the clinical team and the centre manager their residents in scope, to answer questions."""
    if role_of(user) == Role.RESIDENT:
        return residents_acting_for(user)
    if role_of(user) in CLINICAL_ROLES:
        return residents_visible_to(user)
    return Resident.objects.none()


def residents_redeemable_by(user: Any) -> QuerySet[Resident]:
    """Points are spent by the resident or the household member acting for them, never by staff."""
    return residents_acting_for(user)


def can_manage_catalogue(user: Any) -> bool:
    """The redemption catalogue is the centre manager's (their centre) and the administrator's (all)."""
    return role_of(user) in (Role.CENTRE_MANAGER, Role.ADMINISTRATOR)


def catalogue_items_managed_by(user: Any) -> QuerySet[CatalogueItem]:
    account = account_of(user)
    if account is None or not can_manage_catalogue(user):
        return CatalogueItem.objects.none()
    if account.role == Role.ADMINISTRATOR:
        return CatalogueItem.objects.all()
    centre = centre_of(account)
    if centre is None:
        return CatalogueItem.objects.none()
    return CatalogueItem.objects.filter(centre=centre)


def catalogue_offered_to(resident: Resident) -> QuerySet[CatalogueItem]:
    """Items a resident may redeem: district-wide ones and those of the centre serving them."""
    committee = resident.committee
    centre_id = committee.responsible_centre_id if committee is not None else None
    return CatalogueItem.objects.filter(Q(centre__isnull=True) | Q(centre_id=centre_id), active=True)


def education_visible_to(user: Any) -> QuerySet[Resident]:
    """Residents whose education recommendations and reads the user may see: as for points."""
    return point_accounts_visible_to(user)


def can_manage_education(user: Any) -> bool:
    """The content library is kept by centre managers and administrators."""
    return role_of(user) in (Role.CENTRE_MANAGER, Role.ADMINISTRATOR)


def can_submit_feedback(user: Any) -> bool:
    return residents_acting_for(user).exists()


def can_manage_feedback(user: Any) -> bool:
    """Complaints are handled, and survey scores read, by the centre manager of the centre concerned."""
    return role_of(user) == Role.CENTRE_MANAGER


def complaints_visible_to(user: Any) -> QuerySet[Complaint]:
    """A centre manager their centre's complaints; a resident those about whom they act for."""
    account = account_of(user)
    if account is None:
        return Complaint.objects.none()
    if account.role == Role.RESIDENT:
        return Complaint.objects.filter(resident__in=residents_acting_for(user))
    if account.role != Role.CENTRE_MANAGER:
        return Complaint.objects.none()
    centre = centre_of(account)
    if centre is None:
        return Complaint.objects.none()
    return Complaint.objects.filter(centre=centre)


def survey_centres_visible_to(user: Any) -> QuerySet[Institution]:
    """Centres whose satisfaction scores the user may read: their own for a manager, all for analysts."""
    account = account_of(user)
    if account is None:
        return Institution.objects.none()
    if account.role in (Role.DISTRICT_ANALYST, Role.ADMINISTRATOR):
        return Institution.objects.filter(parent__isnull=True, survey_responses__isnull=False).distinct()
    if account.role != Role.CENTRE_MANAGER:
        return Institution.objects.none()
    centre = centre_of(account)
    return Institution.objects.filter(pk=centre.pk) if centre is not None else Institution.objects.none()


# District planning (street health portrait, 15-minute access) ----------------------------------------------


def can_view_planning(user: Any) -> bool:
    """The health portrait and 15-minute access pages are for district analysts and centre managers:
    aggregates only, small cells suppressed."""
    return role_of(user) in (Role.DISTRICT_ANALYST, Role.CENTRE_MANAGER)


def planning_committees_visible_to(user: Any) -> QuerySet[Place]:
    """Committees whose aggregates the portrait shows: the whole district to an analyst, a centre
    manager's own centre's committees. Deny by default."""
    account = account_of(user)
    committees = Place.objects.filter(level="committee")
    if account is None:
        return committees.none()
    if account.role == Role.DISTRICT_ANALYST:
        return committees
    if account.role != Role.CENTRE_MANAGER:
        return committees.none()
    centre = centre_of(account)
    return committees.filter(responsible_centre=centre) if centre is not None else committees.none()


def can_plan_stations(user: Any) -> bool:
    """Proposing new station sites is district planning: analysts and centre managers."""
    return can_view_planning(user)


# Health management (worklists, assessments, follow-ups, contacts, yearly reports) --------------------------


def worklist_staff(user: Any) -> Staff | None:
    """The staff member whose worklist the user opens: a family doctor's or team member's own, from
    their signed panel. Other roles have no worklist."""
    account = account_of(user)
    if account is None or account.role not in (Role.FAMILY_DOCTOR, Role.TEAM_MEMBER):
        return None
    return account.staff


def can_view_worklist(user: Any) -> bool:
    return worklist_staff(user) is not None


def care_residents_visible_to(user: Any) -> QuerySet[Resident]:
    """Residents whose care record (assessments, follow-ups, contacts, plan) the user may read: the
    clinical roles' residents whose health account they may read. Residents read theirs at /care/me/."""
    if role_of(user) not in CLINICAL_ROLES:
        return Resident.objects.none()
    return health_accounts_visible_to(user)


def care_residents_editable_by(user: Any) -> QuerySet[Resident]:
    """Residents whose care the user may record: the family doctor's and team members' residents.
    A centre manager reads but does not record clinical care."""
    if role_of(user) not in (Role.FAMILY_DOCTOR, Role.TEAM_MEMBER):
        return Resident.objects.none()
    return residents_visible_to(user)


def follow_ups_editable_by(user: Any) -> QuerySet[FollowUp]:
    """Follow-ups the user may record, reschedule or remind: those of residents whose care they record."""
    return FollowUp.objects.filter(resident__in=care_residents_editable_by(user))


def own_care_resident(user: Any) -> Resident | None:
    """The resident whose yearly reports a resident user reads at /care/me/: their own only."""
    return own_health_account(user)


def can_generate_report_batches(user: Any) -> bool:
    """Yearly reports for a whole centre are started by its manager."""
    account = account_of(user)
    return account is not None and account.role == Role.CENTRE_MANAGER and centre_of(account) is not None


# Referrals and appointments -------------------------------------------------------------------------------


def _referral_desk_hospital(user: Any) -> Institution | None:
    """The hospital a referral desk account works for."""
    account = account_of(user)
    if account is None or account.role != Role.REFERRAL_DESK:
        return None
    return account.institution


def can_view_referral_pages(user: Any) -> bool:
    """The referral pages: the clinical roles (their centre's referrals) and hospital referral desks."""
    if role_of(user) in CLINICAL_ROLES:
        return True
    return _referral_desk_hospital(user) is not None


def can_work_referral_desk(user: Any) -> bool:
    return _referral_desk_hospital(user) is not None


def referrals_visible_to(user: Any) -> QuerySet[Referral]:
    """Referrals the user may read: a clinician's own residents' (within the centre), a centre manager's
    centre's, a referral desk's hospital's once sent, a resident their own. Deny by default."""
    account = account_of(user)
    referrals = Referral.objects.all()
    if account is None:
        return referrals.none()
    if account.role == Role.RESIDENT and account.resident_id is not None:
        return referrals.filter(resident=account.resident_id)
    if account.role in (Role.FAMILY_DOCTOR, Role.TEAM_MEMBER):
        return referrals.filter(centre=centre_of(account), resident__in=residents_visible_to(user))
    if account.role == Role.CENTRE_MANAGER:
        centre = centre_of(account)
        return referrals.filter(centre=centre) if centre is not None else referrals.none()
    hospital = _referral_desk_hospital(user)
    if hospital is not None:
        return referrals.filter(hospital=hospital).exclude(status="draft")
    return referrals.none()


def can_refer(user: Any) -> bool:
    """Up-referrals are written and sent by family doctors."""
    account = account_of(user)
    return account is not None and account.role == Role.FAMILY_DOCTOR and account.staff_id is not None


def residents_referable_by(user: Any) -> QuerySet[Resident]:
    """Residents a family doctor may refer and book reserved slots for: their own signed panel."""
    account = account_of(user)
    if not can_refer(user) or account is None:
        return Resident.objects.none()
    panel = Signing.objects.filter(family_doctor=account.staff_id, status="active").values("resident")
    return residents_visible_to(user).filter(pk__in=panel)


def referrals_sendable_by(user: Any) -> QuerySet[Referral]:
    """Up-referrals a family doctor may edit, send or withdraw: their own."""
    account = account_of(user)
    if not can_refer(user) or account is None:
        return Referral.objects.none()
    return referrals_visible_to(user).filter(family_doctor=account.staff_id, direction="up")


def referrals_handled_by_desk(user: Any) -> QuerySet[Referral]:
    """Up-referrals a referral desk accepts, schedules, sees and returns: its hospital's sent ones."""
    if not can_work_referral_desk(user):
        return Referral.objects.none()
    return referrals_visible_to(user).filter(direction="up")


def down_referrals_acceptable_by(user: Any) -> QuerySet[Referral]:
    """Down-referrals the community accepts: the clinical roles' visible ones."""
    if role_of(user) not in CLINICAL_ROLES:
        return Referral.objects.none()
    return referrals_visible_to(user).filter(direction="down")


def referrals_with_files_readable_by(user: Any) -> QuerySet[Referral]:
    """Referrals whose uploaded files the user may read: the receiving hospital's desk (once sent) and
    the referring family doctor's team. A centre manager or the resident reads the referral, not its
    files."""
    account = account_of(user)
    if account is None:
        return Referral.objects.none()
    if account.role in (Role.FAMILY_DOCTOR, Role.TEAM_MEMBER):
        team_staff = Staff.objects.filter(teams__in=teams_of_staff(account))
        return referrals_visible_to(user).filter(direction="up", family_doctor__in=team_staff)
    return referrals_handled_by_desk(user)


def referral_files_visible_to(user: Any) -> QuerySet[ReferralFile]:
    """Files sent with referrals the user may read (`referrals_with_files_readable_by`)."""
    return ReferralFile.objects.filter(referral__in=referrals_with_files_readable_by(user))


def slots_visible_to(user: Any) -> QuerySet[Slot]:
    """Slots the user may see: family doctors both pools, a referral desk its hospital's, everyone else
    with an account the public pool only, so a reserved slot never shows as free to the public."""
    account = account_of(user)
    slots = Slot.objects.all()
    if account is None:
        return slots.none()
    if account.role == Role.FAMILY_DOCTOR:
        return slots
    hospital = _referral_desk_hospital(user)
    if hospital is not None:
        return slots.filter(hospital=hospital)
    return slots.filter(pool="public")


def residents_bookable_by(user: Any) -> QuerySet[Resident]:
    """Whom the user may book a slot for: a resident themselves, a family doctor their visible residents
    (reserved slots only for their signed panel, a booking rule the services enforce)."""
    account = account_of(user)
    if account is None:
        return Resident.objects.none()
    if account.role == Role.RESIDENT:
        return residents_visible_to(user)
    if account.role == Role.FAMILY_DOCTOR:
        return residents_visible_to(user)
    return Resident.objects.none()


def appointments_visible_to(user: Any) -> QuerySet[Appointment]:
    """Appointments the user may read and cancel: a resident's own, those a family doctor booked, a
    referral desk's hospital's, a centre manager's centre residents'."""
    account = account_of(user)
    appointments = Appointment.objects.all()
    if account is None:
        return appointments.none()
    if account.role == Role.RESIDENT and account.resident_id is not None:
        return appointments.filter(resident=account.resident_id)
    if account.role == Role.FAMILY_DOCTOR:
        return appointments.filter(family_doctor=account.staff_id, resident__in=residents_visible_to(user))
    if account.role == Role.CENTRE_MANAGER:
        return appointments.filter(resident__in=residents_visible_to(user))
    hospital = _referral_desk_hospital(user)
    if hospital is not None:
        return appointments.filter(slot__hospital=hospital)
    return appointments.none()


def can_open_engagement_menu(user: Any) -> bool:
    """The "Points and education" menu: a resident's points, advice and feedback; the catalogue, library
    and complaints for those who keep them."""
    return (
        can_manage_catalogue(user)
        or can_manage_education(user)
        or can_manage_feedback(user)
        or residents_acting_for(user).exists()
    )


def complaints_handled_by(user: Any) -> QuerySet[Complaint]:
    """Complaints the user may open on the handling pages and move on: the centre manager's."""
    if not can_manage_feedback(user):
        return Complaint.objects.none()
    return complaints_visible_to(user)


# Indicators ---------------------------------------------------------------------------------------------

INDICATOR_ROLES = frozenset(
    {
        Role.FAMILY_DOCTOR,
        Role.TEAM_MEMBER,
        Role.CENTRE_MANAGER,
        Role.CDC_OFFICER,
        Role.DISTRICT_ANALYST,
        Role.ADMINISTRATOR,
    }
)


def can_view_indicators(user: Any) -> bool:
    """The indicator boards: staff who answer for figures or analyse them; not desks or residents."""
    return role_of(user) in INDICATOR_ROLES


def indicator_units_visible_to(user: Any, level: str) -> set[int] | None:
    """The units of a level whose figures the user may see (None: all of them). District and street
    figures are public to every indicator role, and so are hospitals' (their slots, no one's data); a
    clinician sees their own centre, teams and self, a centre manager their centre's teams and doctors;
    analysts, CDC officers and administrators all."""
    account = account_of(user)
    if account is None or account.role not in INDICATOR_ROLES:
        return set()
    if level in ("district", "street", "hospital"):
        return None
    if account.role in (Role.DISTRICT_ANALYST, Role.CDC_OFFICER, Role.ADMINISTRATOR):
        return None
    centre = centre_of(account)
    if level == "centre":
        return {centre.pk} if centre is not None else set()
    if account.role == Role.CENTRE_MANAGER:
        if centre is None:
            return set()
        if level == "team":
            return set(Team.objects.filter(centre=centre).values_list("pk", flat=True))
        return set(
            Staff.objects.filter(Q(institution=centre) | Q(institution__parent=centre)).values_list(
                "pk", flat=True
            )
        )
    if level == "team":
        return set(teams_of_staff(account).values_list("pk", flat=True))
    return {account.staff_id} if account.staff_id is not None else set()


def can_list_indicator_residents(user: Any) -> bool:
    """Who may open the residents behind a figure (masked, and only those they may read anyway):
    the clinical roles. Analysts and CDC officers see counts only."""
    return role_of(user) in CLINICAL_ROLES


# District reports and evaluation ----------------------------------------------------------------------

REPORT_ROLES = frozenset({Role.DISTRICT_ANALYST, Role.CENTRE_MANAGER})


def can_issue_reports(user: Any) -> bool:
    """The annual reports and quarterly briefings: the health commission's analysts for the district, a
    centre's manager for their centre. They hold aggregates only."""
    return role_of(user) in REPORT_ROLES


def report_scopes_of(user: Any) -> list[tuple[str, int, str]]:
    """(level, id, name) of what the user may report on: every district for an analyst, their own centre
    (and its district, for the comparison of centres) for a centre manager."""
    account = account_of(user)
    if account is None or account.role not in REPORT_ROLES:
        return []
    if account.role == Role.DISTRICT_ANALYST:
        return [("district", p.pk, p.name) for p in Place.objects.filter(level="district").order_by("name")]
    centre = centre_of(account)
    if centre is None:
        return []
    scopes = [("centre", centre.pk, centre.name)]
    district = Place.objects.filter(level="district", children=centre.place).first()
    if district is not None:
        scopes.insert(0, ("district", district.pk, district.name))
    return scopes


def issued_reports_visible_to(user: Any) -> QuerySet[IssuedReport]:
    """Reports on a scope the user may report on: an analyst never sees a centre's own report."""
    scopes = report_scopes_of(user)
    if not scopes:
        return IssuedReport.objects.none()
    condition = Q()
    for level, unit_id, _name in scopes:
        condition |= Q(scope_level=level, scope_id=unit_id)
    return IssuedReport.objects.filter(condition)


# Break-glass (紧急访问) -----------------------------------------------------------------------------------

BREAK_GLASS_ROLES = frozenset({Role.FAMILY_DOCTOR, Role.TEAM_MEMBER})


def can_break_glass(user: Any) -> bool:
    """Clinicians may open a record outside their panel with a stated reason; never a superuser, whose
    account is for running the system, not for treating residents."""
    if getattr(user, "is_superuser", False):
        return False
    return role_of(user) in BREAK_GLASS_ROLES


def break_glass_residents(user: Any) -> QuerySet[Resident]:
    """Residents whose health account the user opened by break-glass and whose window is still open."""
    if not can_break_glass(user):
        return Resident.objects.none()
    active = BreakGlass.objects.filter(user=user, expires_at__gt=_timezone.now())
    return Resident.objects.filter(pk__in=active.values("resident_id"))


def break_glass_reviewable_by(user: Any) -> QuerySet[BreakGlass]:
    """Break-glass accesses a centre manager reviews: those to residents of the manager's centre."""
    if role_of(user) != Role.CENTRE_MANAGER:
        return BreakGlass.objects.none()
    return BreakGlass.objects.filter(resident__in=residents_visible_to(user))


def can_review_break_glass(user: Any) -> bool:
    return role_of(user) == Role.CENTRE_MANAGER


def can_open_break_glass_page(user: Any) -> bool:
    """The break-glass page: clinicians open records there, the centre manager reviews them."""
    return can_break_glass(user) or can_review_break_glass(user)


# Identity matching: the review queue and merges of duplicate residents -----------------------------------


def can_review_matches(user: Any) -> bool:
    """Possible duplicates are settled by administrators (all of them) and centre managers (those
    involving their centre's residents)."""
    if not getattr(user, "is_active", False):
        return False
    return role_of(user) in (Role.ADMINISTRATOR, Role.CENTRE_MANAGER) or bool(
        getattr(user, "is_superuser", False)
    )


def match_reviews_visible_to(user: Any) -> QuerySet[MatchReview]:
    """Reviews a user may see and decide: all for an administrator, those whose candidate resident a
    centre manager serves. Deny by default."""
    if not can_review_matches(user):
        return MatchReview.objects.none()
    if role_of(user) == Role.CENTRE_MANAGER:
        return MatchReview.objects.filter(candidate__in=residents_visible_to(user))
    return MatchReview.objects.all()


def merges_visible_to(user: Any) -> QuerySet[ResidentMerge]:
    """Merges a user may see and undo: all for an administrator, into a centre manager's residents."""
    if not can_review_matches(user):
        return ResidentMerge.objects.none()
    if role_of(user) == Role.CENTRE_MANAGER:
        return ResidentMerge.objects.filter(survivor__in=residents_visible_to(user))
    return ResidentMerge.objects.all()


# Second factor ----------------------------------------------------------------------------------------


def can_use_second_factor(user: Any) -> bool:
    """Staff set up a TOTP second factor; residents sign in with their password only."""
    return role_of(user) in STAFF_ROLES or bool(getattr(user, "is_superuser", False))


# Health-account authorisation: a household member acting for a resident --------------------------------


def health_accounts_authorised_to(user: Any) -> QuerySet[Resident]:
    """Residents who authorised this resident user, a member of their household, to read their health
    account: grants not revoked, not expired, and only while both still share the household."""
    account = account_of(user)
    if account is None or account.role != Role.RESIDENT or account.resident_id is None:
        return Resident.objects.none()
    grants = AccountAuthorisation.objects.filter(
        member_id=account.resident_id,
        revoked_at__isnull=True,
        expires_on__gte=_timezone.localdate(),
    ).values("resident_id")
    household = Resident.objects.filter(pk=account.resident_id).values("household_id")
    return Resident.objects.filter(pk__in=grants, household_id__in=household)
