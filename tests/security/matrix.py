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
from jiayi.registry.models import Household, Institution, Place, Resident, Staff, Team
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


def _resident(scope: Scope) -> Param:
    return Param(Resident, scope, foreign_residents)


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
    "me/health/": Route(),
    "me/health/series.json": Route(),
    "audit/me/access-log/": Route(),
    "audit/residents/<int:pk>/access-log/": Route({"pk": _resident(access.access_logs_visible_to)}),
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
    "surveillance/alerts/<int:pk>/transition/": Route(
        {"pk": Param(Alert, access.alerts_visible_to)}, methods=("POST",)
    ),
}

_RESIDENT_ID = _resident(access.residents_visible_to)
_SIGNING_ID = Param(Signing, access.signings_visible_to, foreign_signings)
_ALERT_ID = Param(Alert, access.alerts_visible_to)

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
    "POST /api/signing/signings/{signing_id}/renew": Route(
        {"signing_id": _SIGNING_ID}, methods=("POST",), body={}
    ),
    "POST /api/fhir/": Route(methods=("POST",)),
    "GET /api/fhir/Patient/{resident_id}/$everything": Route(
        {"resident_id": _resident(access.health_accounts_visible_to)}
    ),
    "POST /api/surveillance/counts": Route(methods=("POST",)),
    "GET /api/surveillance/series": Route(),
    "GET /api/surveillance/alerts": Route(),
    "GET /api/surveillance/alerts/{alert_id}": Route({"alert_id": _ALERT_ID}),
    "POST /api/surveillance/alerts/{alert_id}/transition": Route(
        {"alert_id": _ALERT_ID}, methods=("POST",), body={"to": "assigned"}
    ),
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
