"""The signing REST API: signings, household signing and service packages.

Handlers are thin: a schema parses the input, `jiayi.access` scopes every queryset, the services do
the writes, and every 4xx is returned here. A signing the user may not see answers exactly like one
that does not exist (404), and each read or refusal leaves an audit entry.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Status

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.registry import tokens
from jiayi.registry.models import Institution, Resident, Staff, Team
from jiayi.registry.schemas import FieldErrors, Message
from jiayi.signing import fhir, services
from jiayi.signing.models import Consent, Signing, SigningEvent
from jiayi.signing.schemas import (
    ConsentIn,
    DeclineIn,
    HouseholdSigningIn,
    HouseholdSigningOut,
    PackageFilters,
    PackageOut,
    RenewIn,
    SigningConflictOut,
    SigningDetailOut,
    SigningFilters,
    SigningIn,
    SigningPage,
    SwitchDoctorIn,
    TerminateIn,
    TermsIn,
)

SIGNINGS = "signings"
PACKAGES = "service packages"
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": SIGNINGS,
        "description": "Family-doctor signings (家庭医生签约, 1+1+1) under /api/signing/signings: create, "
        "confirm, decline, terminate, renew, and sign a household together. Signings outside your "
        "teams or centre answer 404; every read and change is audited.",
    },
    {"name": PACKAGES, "description": "Service packages (服务包) a district offers, by year."},
]

router = Router(auth=tokens.api_auth())

NOT_FOUND = {"detail": "Not Found"}
COMMON = {401: Message, 403: Message, 422: FieldErrors}
# Service fields that reach the client under the name of the id it sent.
_ID_FIELDS = frozenset(
    {"resident", "family_doctor", "team", "package", "district_hospital", "municipal_hospital", "specialist"}
)


def _field_errors(errors: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "detail": [
            {"field": f"{name}_id" if name in _ID_FIELDS else name, "message": message}
            for name, message in errors
        ]
    }


def _record_denial(request: HttpRequest, action: Action, resource_type: str, resource_id: int) -> None:
    """Audit a refused access; whether the signing exists only shows in the log, never in the answer."""
    resident_id = Signing.objects.filter(pk=resource_id).values_list("resident_id", flat=True).first()
    record(
        request=request,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        resident_id=resident_id if resource_type == "signing" else None,
        outcome=Outcome.DENIED,
    )


def _with_relations(signings: QuerySet[Signing]) -> QuerySet[Signing]:
    return signings.select_related(
        "resident",
        "family_doctor",
        "team",
        "centre",
        "district_hospital",
        "municipal_hospital",
        "specialist",
        "package",
    )


def _detail(signing_id: int) -> Signing:
    events = SigningEvent.objects.select_related("actor").order_by("at", "id")
    return (
        _with_relations(Signing.objects.all())
        .prefetch_related(Prefetch("events", queryset=events))
        .get(pk=signing_id)
    )


# Lists and reads ---------------------------------------------------------------------------------------


@router.get("/signings", response={200: SigningPage, **COMMON}, tags=[SIGNINGS])
def list_signings(request: HttpRequest, filters: Query[SigningFilters]) -> Any:
    """Signings you may see, newest first: a team's, a centre's, or a resident's own."""
    query = filters.model_dump(exclude_none=True, exclude={"page", "page_size"}, mode="json")
    unknown = sorted(set(request.GET) - set(SigningFilters.model_fields))
    if unknown:
        return Status(422, _field_errors([(name, "unknown query parameter") for name in unknown]))
    if not access.can_list_signings(request.user):
        record(
            request=request,
            action=Action.SEARCH,
            resource_type="signing",
            outcome=Outcome.DENIED,
            detail={"query": query},
        )
        return Status(403, {"detail": "your role cannot list signings"})
    signings = access.signings_visible_to(request.user)
    if filters.status:
        signings = signings.filter(status=filters.status)
    if filters.resident_id is not None:
        signings = signings.filter(resident_id=filters.resident_id)
    if filters.family_doctor_id is not None:
        signings = signings.filter(family_doctor_id=filters.family_doctor_id)
    if filters.team_id is not None:
        signings = signings.filter(team_id=filters.team_id)
    if filters.ends_before is not None:
        signings = signings.filter(ends_on__lte=filters.ends_before)
    signings = _with_relations(signings).order_by("-starts_on", "-id")
    count = signings.count()
    start = (filters.page - 1) * filters.page_size
    rows = list(signings[start : start + filters.page_size])
    record(
        request=request,
        action=Action.SEARCH,
        resource_type="signing",
        detail={
            "query": query,
            "count": count,
            "page": filters.page,
            "resident_ids": sorted({row.resident_id for row in rows}),
        },
    )
    return {"count": count, "page": filters.page, "page_size": filters.page_size, "items": rows}


@router.get(
    "/signings/{signing_id}", response={200: SigningDetailOut, 404: Message, **COMMON}, tags=[SIGNINGS]
)
def get_signing(request: HttpRequest, signing_id: int) -> Any:
    """One signing you may see, with its history of status changes (404 otherwise)."""
    if not access.signings_visible_to(request.user).filter(pk=signing_id).exists():
        _record_denial(request, Action.READ, "signing", signing_id)
        return Status(404, NOT_FOUND)
    signing = _detail(signing_id)
    record(
        request=request,
        action=Action.READ,
        resource_type="signing",
        resource_id=signing.pk,
        resident_id=signing.resident_id,
    )
    return signing


@router.get("/packages", response={200: list[PackageOut], **COMMON}, tags=[PACKAGES])
def list_packages(request: HttpRequest, filters: Query[PackageFilters]) -> Any:
    """The service packages on offer (public information: no audit entry)."""
    unknown = sorted(set(request.GET) - set(PackageFilters.model_fields))
    if unknown:
        return Status(422, _field_errors([(name, "unknown query parameter") for name in unknown]))
    packages = access.service_packages_visible_to(request.user).select_related("district")
    if filters.year is not None:
        packages = packages.filter(year=filters.year)
    if filters.kind:
        packages = packages.filter(kind=filters.kind)
    if filters.district_id is not None:
        packages = packages.filter(district_id=filters.district_id)
    if filters.active is not None:
        packages = packages.filter(active=filters.active)
    return list(packages.order_by("district__code", "-year", "code")[:500])


# Creating signings -------------------------------------------------------------------------------------


def _terms(request: HttpRequest, payload: TermsIn) -> services.SigningTerms | Status[Any]:
    """The signing terms named by id, or 422 naming each id that does not resolve."""
    errors: list[tuple[str, str]] = []
    doctor = (
        access.family_doctors_assignable_by(request.user)
        .select_related("institution__parent")
        .filter(pk=payload.family_doctor_id)
        .first()
    )
    if doctor is None:
        errors.append(("family_doctor", "no such family doctor at your centre"))
    package = access.service_packages_visible_to(request.user).filter(pk=payload.package_id).first()
    if package is None:
        errors.append(("package", "no such service package"))

    def lookup(model: Any, pk: int | None, name: str) -> Any:
        if pk is None:
            return None
        found = model.objects.filter(pk=pk).first()
        if found is None:
            errors.append((name, f"no such {name.replace('_', ' ')}"))
        return found

    team = lookup(Team, payload.team_id, "team")
    district_hospital = lookup(Institution, payload.district_hospital_id, "district_hospital")
    municipal_hospital = lookup(Institution, payload.municipal_hospital_id, "municipal_hospital")
    specialist = lookup(Staff, payload.specialist_id, "specialist")
    if errors or doctor is None or package is None:
        return Status(422, _field_errors(errors))
    return services.SigningTerms(
        family_doctor=doctor,
        package=package,
        channel=str(payload.channel),
        team=team,
        district_hospital=district_hospital,
        municipal_hospital=municipal_hospital,
        specialist=specialist,
        starts_on=payload.starts_on,
    )


def _record_consent(request: HttpRequest, resident: Resident, consent: ConsentIn) -> Consent:
    """Record the consent a payload carries; a proxy must be a member of the resident's household."""
    proxy = None
    if consent.proxy_resident_id is not None:
        household_members = Resident.objects.filter(household=resident.household_id)
        if resident.household_id is None:
            household_members = household_members.none()
        proxy = household_members.filter(pk=consent.proxy_resident_id).first()
        if proxy is None:
            raise services.SigningValidationError(
                [("consent.proxy_resident_id", "the proxy must be a member of the resident's household")]
            )
    return services.do_record_consent(
        request.user, resident, text_version=consent.text_version, proxy=proxy, request=request
    )


@router.post(
    "/signings",
    response={201: SigningDetailOut, 404: Message, 409: SigningConflictOut, **COMMON},
    tags=[SIGNINGS],
)
def create_signing(request: HttpRequest, payload: SigningIn) -> Any:
    """Sign a resident you serve with a family doctor of your centre; the signing starts pending.

    Needs the resident's signing consent: sent as `consent`, or one already on file. 409 names the
    resident's open signing.
    """
    if not access.can_sign_residents(request.user):
        return Status(403, {"detail": "your role cannot sign residents"})
    resident = access.residents_signable_by(request.user).filter(pk=payload.resident_id).first()
    if resident is None:
        record(
            request=request,
            action=Action.CREATE,
            resource_type="signing",
            outcome=Outcome.DENIED,
            detail={"resident": payload.resident_id},
        )
        return Status(404, NOT_FOUND)
    terms = _terms(request, payload)
    if isinstance(terms, Status):
        return terms
    try:
        with transaction.atomic():
            consent = _record_consent(request, resident, payload.consent) if payload.consent else None
            signing = services.do_create_signing(
                request.user, resident, terms, consent=consent, request=request
            )
    except services.SigningValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except services.SigningConflict as exc:
        return Status(
            409, {**_field_errors([("resident", str(exc))]), "existing_signing_id": exc.existing.pk}
        )
    return Status(201, _detail(signing.pk))


@router.post(
    "/households/{household_id}/signings",
    response={200: HouseholdSigningOut, 404: Message, **COMMON},
    tags=[SIGNINGS],
)
def sign_household(request: HttpRequest, household_id: int, payload: HouseholdSigningIn) -> Any:
    """Sign members of a household together with one package (家庭签约); one outcome per member.

    A member who cannot be signed is reported with the reason; the others are signed all the same.
    """
    if not access.can_sign_residents(request.user):
        return Status(403, {"detail": "your role cannot sign residents"})
    household = access.households_visible_to(request.user).filter(pk=household_id).first()
    if household is None:
        _record_denial(request, Action.CREATE, "household", household_id)
        return Status(404, NOT_FOUND)
    terms = _terms(request, payload)
    if isinstance(terms, Status):
        return terms
    signable = {
        r.pk: r
        for r in access.residents_signable_by(request.user).filter(
            pk__in=payload.member_ids, household=household
        )
    }
    members = [signable[pk] for pk in dict.fromkeys(payload.member_ids) if pk in signable]
    with transaction.atomic():
        consents: dict[int, Consent] = {}
        if payload.consent is not None:
            for member in members:
                given = _household_consent(request, member, payload.consent)
                if given is not None:
                    consents[member.pk] = given
        outcomes = services.do_sign_household(
            request.user, household, members, terms, consents=consents, request=request
        )
    by_member = {o.resident_id: o for o in outcomes}
    rows = []
    for pk in dict.fromkeys(payload.member_ids):
        outcome = by_member.get(pk)
        if outcome is None:
            # Same answer for a stranger, a resident out of scope and one who does not exist.
            errors = [("resident_id", "no such member of this household")]
            rows.append({"resident_id": pk, "signed": False, "signing_id": None, "existing_signing_id": None})
        else:
            errors = outcome.errors
            rows.append(
                {
                    "resident_id": pk,
                    "signed": outcome.ok,
                    "signing_id": outcome.signing.pk if outcome.signing else None,
                    "existing_signing_id": outcome.existing_signing_id,
                }
            )
        rows[-1]["errors"] = _field_errors(errors)["detail"]
    signed = sum(1 for row in rows if row["signed"])
    return {"household_id": household.pk, "signed": signed, "not_signed": len(rows) - signed, "members": rows}


def _household_consent(request: HttpRequest, member: Resident, consent: ConsentIn) -> Consent | None:
    """A member's consent given with the household signing; the proxy consents for the others, not for
    themselves. A bad proxy leaves that member without a new consent, so the member is reported (as
    consent missing, unless one is on file) while the others are signed."""
    if consent.proxy_resident_id == member.pk:
        consent = consent.model_copy(update={"proxy_resident_id": None})
    try:
        with transaction.atomic():
            return _record_consent(request, member, consent)
    except services.SigningValidationError:
        return None


# Status changes ----------------------------------------------------------------------------------------


def _editable_signing(request: HttpRequest, signing_id: int, action: Action) -> Signing | Status[Any]:
    """The signing if the user may change it; 403 when they may only read it, 404 when not even that."""
    signing = access.signings_editable_by(request.user).filter(pk=signing_id).first()
    if signing is not None:
        return signing
    _record_denial(request, action, "signing", signing_id)
    if access.signings_visible_to(request.user).filter(pk=signing_id).exists():
        return Status(403, {"detail": "your role cannot change this signing"})
    return Status(404, NOT_FOUND)


CHANGE_RESPONSES: dict[int, Any] = {200: SigningDetailOut, 404: Message, 409: Message, **COMMON}


@router.post("/signings/{signing_id}/confirm", response=CHANGE_RESPONSES, tags=[SIGNINGS])
def confirm_signing(request: HttpRequest, signing_id: int) -> Any:
    """Confirm a pending signing: it becomes active. 409 when it is not pending."""
    signing = _editable_signing(request, signing_id, Action.UPDATE)
    if isinstance(signing, Status):
        return signing
    try:
        services.do_confirm_signing(request.user, signing, request)
    except services.SigningStateError as exc:
        return Status(409, {"detail": str(exc)})
    return _detail(signing_id)


@router.post("/signings/{signing_id}/decline", response=CHANGE_RESPONSES, tags=[SIGNINGS])
def decline_signing(request: HttpRequest, signing_id: int, payload: DeclineIn) -> Any:
    """Decline a pending signing with the reason the resident will be told."""
    signing = _editable_signing(request, signing_id, Action.UPDATE)
    if isinstance(signing, Status):
        return signing
    try:
        services.do_decline_signing(request.user, signing, payload.reason, request)
    except services.SigningValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except services.SigningStateError as exc:
        return Status(409, {"detail": str(exc)})
    return _detail(signing_id)


@router.post("/signings/{signing_id}/terminate", response=CHANGE_RESPONSES, tags=[SIGNINGS])
def terminate_signing(request: HttpRequest, signing_id: int, payload: TerminateIn) -> Any:
    """End an active signing early (解约); reason "other" needs a note."""
    signing = _editable_signing(request, signing_id, Action.UPDATE)
    if isinstance(signing, Status):
        return signing
    try:
        services.do_terminate_signing(
            request.user, signing, str(payload.reason), note=payload.note, request=request
        )
    except services.SigningValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except services.SigningStateError as exc:
        return Status(409, {"detail": str(exc)})
    return _detail(signing_id)


@router.post(
    "/signings/{signing_id}/switch-doctor",
    response={201: SigningDetailOut, 404: Message, 409: Message, **COMMON},
    tags=[SIGNINGS],
)
def switch_doctor(request: HttpRequest, signing_id: int, payload: SwitchDoctorIn) -> Any:
    """Switch family doctor within the period (期内更换医生): the signing becomes transferred and a new
    active one with the chosen doctor of your centre keeps its package and end date."""
    signing = _editable_signing(request, signing_id, Action.UPDATE)
    if isinstance(signing, Status):
        return signing
    doctor = (
        access.family_doctors_assignable_by(request.user)
        .select_related("institution__parent")
        .filter(pk=payload.family_doctor_id)
        .first()
    )
    if doctor is None:
        return Status(422, _field_errors([("family_doctor", "no such family doctor at your centre")]))
    try:
        new = services.do_switch_doctor(request.user, signing, doctor, payload.reason, request=request)
    except services.SigningValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except services.SigningStateError as exc:
        return Status(409, {"detail": str(exc)})
    return Status(201, _detail(new.pk))


@router.post(
    "/signings/{signing_id}/renew",
    response={201: SigningDetailOut, 404: Message, 409: Message, **COMMON},
    tags=[SIGNINGS],
)
def renew_signing(request: HttpRequest, signing_id: int, payload: RenewIn) -> Any:
    """Renew (续约) from a month before the end: the old signing expires and a new active one follows.

    Send `family_doctor_id` and `switch_reason` to switch doctor at renewal.
    """
    signing = _editable_signing(request, signing_id, Action.UPDATE)
    if isinstance(signing, Status):
        return signing
    errors: list[tuple[str, str]] = []
    doctor = None
    if payload.family_doctor_id is not None:
        doctor = (
            access.family_doctors_assignable_by(request.user)
            .select_related("institution__parent")
            .filter(pk=payload.family_doctor_id)
            .first()
        )
        if doctor is None:
            errors.append(("family_doctor", "no such family doctor at your centre"))
    package = None
    if payload.package_id is not None:
        package = access.service_packages_visible_to(request.user).filter(pk=payload.package_id).first()
        if package is None:
            errors.append(("package", "no such service package"))
    if errors:
        return Status(422, _field_errors(errors))
    try:
        new = services.do_renew_signing(
            request.user,
            signing,
            family_doctor=doctor,
            switch_reason=payload.switch_reason,
            package=package,
            request=request,
        )
    except services.SigningValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except (services.SigningStateError, services.SigningConflict) as exc:
        return Status(409, {"detail": str(exc)})
    return Status(201, _detail(new.pk))


@router.get(
    "/signings/{signing_id}/fhir",
    response={200: dict[str, Any], 404: Message, **COMMON},
    tags=[SIGNINGS],
)
def export_signing_fhir(request: HttpRequest, signing_id: int) -> Any:
    """The signing as FHIR R4B: a collection Bundle of its EpisodeOfCare and CareTeam (docs/fhir.md)."""
    if not access.signings_visible_to(request.user).filter(pk=signing_id).exists():
        _record_denial(request, Action.EXPORT, "signing", signing_id)
        return Status(404, NOT_FOUND)
    signing = _with_relations(Signing.objects.all()).select_related("team").get(pk=signing_id)
    record(
        request=request,
        action=Action.EXPORT,
        resource_type="signing",
        resource_id=signing.pk,
        resident_id=signing.resident_id,
        detail={"format": "fhir"},
    )
    return fhir.signing_bundle(signing)
