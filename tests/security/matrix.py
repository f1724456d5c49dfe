"""The route tables of the access-matrix test: every page route and API operation, and how to find
objects inside and outside a user's scope for its path parameters.

A route missing here fails the matrix test by name, so a new route cannot ship without its row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, QuerySet
from django.urls import URLPattern, URLResolver, get_resolver

from jiayi import access
from jiayi.audit.models import BreakGlass  # break-glass
from jiayi.care.models import FollowUp  # health management
from jiayi.education.models import Article  # points, education, feedback
from jiayi.feedback.models import Complaint, Survey  # points, education, feedback
from jiayi.points.models import CatalogueItem  # points, education, feedback
from jiayi.referrals.models import Appointment, Referral, ReferralFile, Slot  # referrals and appointments
from jiayi.registry.models import Household, Institution, Place, Resident, Staff, Team
from jiayi.reports.models import IssuedReport
from jiayi.signing.models import Signing
from jiayi.surveillance.models import Alert

Scope = Callable[[Any], QuerySet[Any]]


def home_centre(user: Any) -> Institution | None:
    """The centre a staff user works for, read from the data, not from jiayi.access."""
    account = getattr(user, "account", None)
    if account is None:
        return None
    institution = account.institution or (account.staff.institution if account.staff else None)
    return institution.centre if institution is not None else None


def own_resident(user: Any) -> int | None:
    account = getattr(user, "account", None)
    return account.resident_id if account is not None else None


def foreign_residents(user: Any) -> QuerySet[Resident]:
    """Ground truth independent of the policy: nobody sees residents served by another centre (a
    resident user sees only themselves)."""
    return Resident.objects.exclude(committee__responsible_centre=home_centre(user)).exclude(
        pk=own_resident(user)
    )


def foreign_households(user: Any) -> QuerySet[Household]:
    return Household.objects.exclude(members__in=Resident.objects.exclude(pk__in=foreign_residents(user)))


def foreign_signings(user: Any) -> QuerySet[Signing]:
    return Signing.objects.filter(resident__in=foreign_residents(user))


def foreign_follow_ups(user: Any) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(resident__in=foreign_residents(user))


def foreign_complaints(user: Any) -> QuerySet[Complaint]:
    return Complaint.objects.filter(resident__in=foreign_residents(user))


def foreign_reports(user: Any) -> QuerySet[IssuedReport]:
    """Reports on another centre than the user's own."""
    centre = home_centre(user)
    return IssuedReport.objects.filter(scope_level="centre").exclude(scope_id=centre.pk if centre else None)


def foreign_referrals(user: Any) -> QuerySet[Referral]:
    """Referrals of residents another centre serves, to a hospital other than the user's own."""
    return Referral.objects.filter(resident__in=foreign_residents(user)).exclude(hospital=home_centre(user))


def foreign_referral_files(user: Any) -> QuerySet[ReferralFile]:
    return ReferralFile.objects.filter(referral__in=foreign_referrals(user))


@dataclass(frozen=True)
class Param:
    """A path parameter: the model it names, the policy function that bounds it (None: master data,
    readable by every staff role, so there is no out-of-scope object), and, where the data says so
    independently of the policy, objects that must be out of scope whatever the policy says."""

    model: type[Model]
    scope: Scope | None
    foreign: Scope | None = None


@dataclass(frozen=True)
class Route:
    params: dict[str, Param] = field(default_factory=dict)
    # Methods sent; writes are only ever sent for out-of-scope objects and anonymously.
    methods: tuple[str, ...] = ("GET",)
    public: bool = False
    fixed: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    # Query parameters every request carries (e.g. the stated reason of a personal-data export).
    query: dict[str, str] = field(default_factory=dict)


def _resident(scope: Scope) -> Param:
    return Param(Resident, scope, foreign_residents)


_REPORT = Param(IssuedReport, access.issued_reports_visible_to, foreign_reports)

PAGES: dict[str, Route] = {
    "": Route(),
    "login/": Route(public=True),
    "logout/": Route(public=True, methods=("POST",)),
    "i18n/setlang/": Route(public=True, methods=("POST",)),
    "residents/": Route(),
    "residents/new/": Route(),
    "residents/<int:pk>/": Route({"pk": _resident(access.residents_visible_to)}),
    "residents/<int:pk>/edit/": Route({"pk": _resident(access.residents_editable_by)}),
    "households/": Route(),
    "households/<int:pk>/": Route({"pk": Param(Household, access.households_visible_to, foreign_households)}),
    "places/": Route(),
    "places/<int:pk>/": Route({"pk": Param(Place, None)}),
    "institutions/": Route(),
    "institutions/<int:pk>/": Route({"pk": Param(Institution, None)}),
    "teams/": Route(),
    "teams/<int:pk>/": Route({"pk": Param(Team, None)}),
    "records/<int:pk>/": Route({"pk": _resident(access.health_accounts_visible_to)}),
    "records/<int:pk>/series.json": Route({"pk": _resident(access.health_accounts_visible_to)}),
    "records/matches/": Route(methods=("GET", "POST")),
    "me/health/authorisations/": Route(methods=("GET", "POST")),
    "me/health/": Route(),
    "me/health/series.json": Route(),
    "audit/me/access-log/": Route(),
    "audit/residents/<int:pk>/access-log/": Route({"pk": _resident(access.access_logs_visible_to)}),
    "audit/break-glass/": Route(),
    "audit/me/download/": Route(),
    "accounts/2fa/": Route(),
    "accounts/2fa/verify/": Route(),
    "accounts/2fa/recovery-codes/": Route(methods=("POST",)),
    "audit/break-glass/<int:pk>/review/": Route(
        {"pk": Param(BreakGlass, access.break_glass_reviewable_by)}, methods=("POST",)
    ),
    "signing/": Route(),
    "signing/online/": Route(),
    "signing/centre/": Route(),
    "signing/transfer/": Route(),
    "signing/counter/<int:pk>/": Route({"pk": _resident(access.residents_signable_by)}),
    "signing/<int:pk>/": Route({"pk": Param(Signing, access.signings_visible_to, foreign_signings)}),
    "signing/<int:pk>/<str:action>/": Route(
        {"pk": Param(Signing, access.signings_visible_to, foreign_signings)},
        methods=("POST",),
        fixed={"action": "confirm"},
    ),
    "surveillance/": Route(),
    "surveillance/map.json": Route(),
    "surveillance/series.json": Route(),
    "indicators/": Route(),
    "indicators/ranking.json": Route(),
    "indicators/trend.json": Route(),
    "indicators/map.json": Route(),
    "indicators/residents/": Route(),
    "indicators/export.xlsx": Route(),
    "surveillance/alerts/<int:pk>/transition/": Route(
        {"pk": Param(Alert, access.alerts_visible_to)}, methods=("POST",)
    ),
    "planning/portrait/": Route(),
    "planning/portrait/map.json": Route(),
    "planning/access/": Route(),
    "planning/access/map.json": Route(),
    "referrals/": Route(),
    "referrals/desk/": Route(),
    "referrals/slots/": Route(),
    "referrals/new/<int:pk>/": Route({"pk": _resident(access.residents_referable_by)}),
    "referrals/files/<int:pk>/": Route(
        {"pk": Param(ReferralFile, access.referral_files_visible_to, foreign_referral_files)}
    ),
    "referrals/<int:pk>/": Route({"pk": Param(Referral, access.referrals_visible_to, foreign_referrals)}),
    "referrals/<int:pk>/<str:action>/": Route(
        {"pk": Param(Referral, access.referrals_visible_to, foreign_referrals)},
        methods=("POST",),
        fixed={"action": "accept"},
    ),
    # Health points, health education, satisfaction and complaints
    "reports/": Route(),
    "reports/<int:pk>/": Route({"pk": _REPORT}),
    "reports/<int:pk>/progress/": Route({"pk": _REPORT}),
    "reports/<int:pk>/<str:file_format>/": Route({"pk": _REPORT}, fixed={"file_format": "pdf"}),
    "points/": Route(),
    "me/points/": Route(),
    "me/points/redeem/": Route(methods=("POST",)),
    "points/catalogue/": Route(),
    "points/catalogue/<int:pk>/": Route({"pk": Param(CatalogueItem, access.catalogue_items_managed_by)}),
    "me/education/": Route(),
    "me/education/<int:pk>/": Route({"pk": Param(Article, None)}),
    "education/library/": Route(),
    "education/library/<int:pk>/": Route({"pk": Param(Article, None)}),
    "me/feedback/": Route(),
    "feedback/": Route(),
    "feedback/complaints/<int:pk>/": Route(
        {"pk": Param(Complaint, access.complaints_handled_by, foreign_complaints)}
    ),
    "feedback/complaints/<int:pk>/transition/": Route(
        {"pk": Param(Complaint, access.complaints_handled_by, foreign_complaints)}, methods=("POST",)
    ),
    "care/": Route(),
    "care/worklist/": Route(),
    "care/worklist/outbox/": Route(methods=("POST",)),
    "care/follow-ups/<int:pk>/": Route(
        {"pk": Param(FollowUp, access.follow_ups_editable_by, foreign_follow_ups)}, methods=("GET", "POST")
    ),
    "care/follow-ups/<int:pk>/reschedule/": Route(
        {"pk": Param(FollowUp, access.follow_ups_editable_by, foreign_follow_ups)}, methods=("POST",)
    ),
    "care/residents/<int:pk>/": Route({"pk": _resident(access.care_residents_visible_to)}),
    "care/residents/<int:pk>/assessment/": Route(
        {"pk": _resident(access.care_residents_editable_by)}, methods=("POST",)
    ),
    "care/residents/<int:pk>/enrol/": Route(
        {"pk": _resident(access.care_residents_editable_by)}, methods=("POST",)
    ),
    "care/residents/<int:pk>/contact/": Route(
        {"pk": _resident(access.care_residents_editable_by)}, methods=("POST",)
    ),
    "care/residents/<int:pk>/reports/<int:year>.pdf": Route(
        {"pk": _resident(access.care_residents_visible_to)}, fixed={"year": "2026"}
    ),
    "care/reports/": Route(),
    "care/me/": Route(),
    "care/me/reports/<int:year>.pdf": Route(fixed={"year": "2026"}),
}

_RESIDENT_ID = _resident(access.residents_visible_to)
_SIGNING_ID = Param(Signing, access.signings_visible_to, foreign_signings)
_ALERT_ID = Param(Alert, access.alerts_visible_to)
_REFERRAL_ID = Param(Referral, access.referrals_visible_to, foreign_referrals)

API: dict[str, Route] = {
    "GET /api/registry/residents": Route(),
    "POST /api/registry/residents": Route(methods=("POST",)),
    "POST /api/registry/residents/search": Route(methods=("POST",)),
    "GET /api/registry/residents/{resident_id}": Route({"resident_id": _RESIDENT_ID}),
    "PATCH /api/registry/residents/{resident_id}": Route(
        {"resident_id": _resident(access.residents_editable_by)}, methods=("PATCH",), body={}
    ),
    "POST /api/registry/residents/{resident_id}/key-populations": Route(
        {"resident_id": _resident(access.residents_editable_by)},
        methods=("POST",),
        body={"key_population": "elderly_65", "valid_from": "2026-01-01", "note": "matrix"},
    ),
    "GET /api/registry/households": Route(),
    "GET /api/registry/households/{household_id}": Route(
        {"household_id": Param(Household, access.households_visible_to, foreign_households)}
    ),
    "GET /api/registry/places": Route(),
    "GET /api/registry/places/{place_id}": Route({"place_id": Param(Place, None)}),
    "GET /api/registry/institutions": Route(),
    "GET /api/registry/institutions/{institution_id}": Route({"institution_id": Param(Institution, None)}),
    "GET /api/registry/staff": Route(),
    "GET /api/registry/staff/{staff_id}": Route({"staff_id": Param(Staff, None)}),
    "GET /api/registry/teams": Route(),
    "GET /api/registry/teams/{team_id}": Route({"team_id": Param(Team, None)}),
    "GET /api/signing/signings": Route(),
    "POST /api/signing/signings": Route(methods=("POST",)),
    "GET /api/signing/signings/{signing_id}": Route({"signing_id": _SIGNING_ID}),
    "GET /api/signing/signings/{signing_id}/fhir": Route({"signing_id": _SIGNING_ID}),
    "GET /api/signing/packages": Route(),
    "POST /api/signing/households/{household_id}/signings": Route(
        {"household_id": Param(Household, access.households_visible_to, foreign_households)},
        methods=("POST",),
        body={"family_doctor_id": 1, "package_id": 1, "member_ids": [1]},
    ),
    "POST /api/signing/signings/{signing_id}/confirm": Route(
        {"signing_id": _SIGNING_ID}, methods=("POST",), body={}
    ),
    "POST /api/signing/signings/{signing_id}/decline": Route(
        {"signing_id": _SIGNING_ID}, methods=("POST",), body={"reason": "matrix"}
    ),
    "POST /api/signing/signings/{signing_id}/terminate": Route(
        {"signing_id": _SIGNING_ID}, methods=("POST",), body={"reason": "death"}
    ),
    "POST /api/signing/signings/{signing_id}/switch-doctor": Route(
        {"signing_id": _SIGNING_ID}, methods=("POST",), body={"family_doctor_id": 1, "reason": "matrix"}
    ),
    "POST /api/signing/signings/{signing_id}/renew": Route(
        {"signing_id": _SIGNING_ID}, methods=("POST",), body={}
    ),
    "POST /api/fhir/": Route(methods=("POST",)),
    "GET /api/fhir/Patient/{resident_id}/$everything": Route(
        {"resident_id": _resident(access.health_accounts_visible_to)},
        query={"reason": "quality_review", "reason_detail": "access matrix check"},
    ),
    "POST /api/surveillance/counts": Route(methods=("POST",)),
    "POST /api/surveillance/cases": Route(methods=("POST",)),
    "POST /api/surveillance/lab-results": Route(methods=("POST",)),
    "GET /api/surveillance/series": Route(),
    "GET /api/surveillance/alerts": Route(),
    "GET /api/surveillance/alerts/{alert_id}": Route({"alert_id": _ALERT_ID}),
    "POST /api/surveillance/alerts/{alert_id}/transition": Route(
        {"alert_id": _ALERT_ID}, methods=("POST",), body={"to": "assigned"}
    ),
    "GET /api/planning/portrait": Route(),
    "GET /api/planning/access": Route(),
    "GET /api/referrals/departments": Route(),
    "GET /api/referrals/slots": Route(),
    "POST /api/referrals/slots/{slot_id}/$hold": Route(
        {"slot_id": Param(Slot, access.slots_visible_to)}, methods=("POST",), body={"resident_id": 1}
    ),
    "POST /api/referrals/slots/{slot_id}/$book": Route(
        {"slot_id": Param(Slot, access.slots_visible_to)}, methods=("POST",), body={"resident_id": 1}
    ),
    "GET /api/referrals/appointments/{appointment_id}": Route(
        {"appointment_id": Param(Appointment, access.appointments_visible_to)}
    ),
    "POST /api/referrals/appointments/{appointment_id}/$book": Route(
        {"appointment_id": Param(Appointment, access.appointments_visible_to)}, methods=("POST",), body={}
    ),
    "POST /api/referrals/appointments/{appointment_id}/cancel": Route(
        {"appointment_id": Param(Appointment, access.appointments_visible_to)}, methods=("POST",), body={}
    ),
    "POST /api/referrals/appointments/{appointment_id}/no-show": Route(
        {"appointment_id": Param(Appointment, access.appointments_visible_to)}, methods=("POST",), body={}
    ),
    "GET /api/referrals/referrals": Route(),
    "POST /api/referrals/referrals": Route(methods=("POST",)),
    "GET /api/referrals/referrals/{referral_id}": Route({"referral_id": _REFERRAL_ID}),
    "GET /api/referrals/referrals/{referral_id}/fhir": Route({"referral_id": _REFERRAL_ID}),
    "POST /api/referrals/referrals/{referral_id}/send": Route(
        {"referral_id": _REFERRAL_ID}, methods=("POST",), body={}
    ),
    "POST /api/referrals/referrals/{referral_id}/cancel": Route(
        {"referral_id": _REFERRAL_ID}, methods=("POST",), body={}
    ),
    "POST /api/referrals/referrals/{referral_id}/accept": Route(
        {"referral_id": _REFERRAL_ID}, methods=("POST",), body={}
    ),
    "POST /api/referrals/referrals/{referral_id}/decline": Route(
        {"referral_id": _REFERRAL_ID}, methods=("POST",), body={"note": "matrix"}
    ),
    "POST /api/referrals/referrals/{referral_id}/schedule": Route(
        {"referral_id": _REFERRAL_ID}, methods=("POST",), body={"slot_id": 1}
    ),
    "POST /api/referrals/referrals/{referral_id}/visit": Route(
        {"referral_id": _REFERRAL_ID}, methods=("POST",), body={}
    ),
    "POST /api/referrals/referrals/{referral_id}/no-show": Route(
        {"referral_id": _REFERRAL_ID}, methods=("POST",), body={}
    ),
    "POST /api/referrals/referrals/{referral_id}/files": Route(
        {"referral_id": Param(Referral, access.referrals_sendable_by, foreign_referrals)},
        methods=("POST",),
        body={},
    ),
    "GET /api/referrals/referrals/{referral_id}/files": Route(
        {"referral_id": Param(Referral, access.referrals_with_files_readable_by, foreign_referrals)}
    ),
    "GET /api/referrals/files/{file_id}": Route(
        {"file_id": Param(ReferralFile, access.referral_files_visible_to, foreign_referral_files)}
    ),
    "POST /api/referrals/referrals/{referral_id}/return": Route(
        {"referral_id": _REFERRAL_ID},
        methods=("POST",),
        body={"destination": "follow_up", "reason": "matrix"},
    ),
    "GET /api/points/residents/{resident_id}": Route(
        {"resident_id": _resident(access.point_accounts_visible_to)}
    ),
    "GET /api/points/residents/{resident_id}/catalogue": Route(
        {"resident_id": _resident(access.point_accounts_visible_to)}
    ),
    "POST /api/points/residents/{resident_id}/redemptions": Route(
        {"resident_id": _resident(access.residents_redeemable_by)}, methods=("POST",), body={"item_id": 1}
    ),
    "GET /api/education/articles": Route(),
    "GET /api/education/residents/{resident_id}/recommendations": Route(
        {"resident_id": _resident(access.education_visible_to)}
    ),
    "POST /api/education/residents/{resident_id}/readings": Route(
        {"resident_id": _resident(access.residents_acting_for)}, methods=("POST",), body={"article_id": 1}
    ),
    "POST /api/education/residents/{resident_id}/deliveries": Route(
        {"resident_id": _resident(access.residents_visible_to)}, methods=("POST",), body={"article_id": 1}
    ),
    "GET /api/feedback/complaints": Route(),
    "POST /api/feedback/complaints": Route(
        methods=("POST",), body={"resident_id": 1, "category": "suggestion", "subject": "m", "text": "m"}
    ),
    "POST /api/feedback/complaints/{complaint_id}/transition": Route(
        {"complaint_id": Param(Complaint, access.complaints_handled_by, foreign_complaints)},
        methods=("POST",),
        body={"to": "assigned"},
    ),
    "GET /api/feedback/surveys/{survey_id}/scores": Route({"survey_id": Param(Survey, None)}),
}

# Prefixes with their own guards, covered elsewhere: the API (by its schema, below) and Django's admin
# (its own staff login; tests/web covers who may use it).
SKIPPED_PREFIXES = ("api/", "admin/")


def page_patterns() -> list[str]:
    """Every page route of the URL conf, as the text of its pattern."""

    def walk(patterns: list[Any], prefix: str) -> list[str]:
        found: list[str] = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found += walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append(prefix + str(pattern.pattern))
        return found

    return [p for p in walk(get_resolver().url_patterns, "") if not p.startswith(SKIPPED_PREFIXES)]
