"""The registry's REST API: residents, households, places, institutions, staff and teams.

Handlers are thin: a schema parses the input, `jiayi.access` scopes every queryset, services do the
writes, and every 4xx is returned here. Whatever a user may not see answers exactly like what does not
exist (404), and every read of personal data, allowed or not, leaves an audit entry.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from django.db.models import Count, Model, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.registry import services, tokens
from jiayi.registry.models import (
    Institution,
    KeyPopulationDeclaration,
    Place,
    Resident,
    Staff,
    Team,
    TeamMembership,
)
from jiayi.registry.population import key_populations
from jiayi.registry.queries import age_between, in_key_population
from jiayi.registry.schemas import (
    Conflict,
    FieldErrors,
    HouseholdDetailOut,
    HouseholdFilters,
    HouseholdPage,
    InstitutionDetailOut,
    InstitutionFilters,
    InstitutionPage,
    KeyPopulationDeclarationIn,
    KeyPopulationDeclarationOut,
    Message,
    Paging,
    PlaceDetailOut,
    PlaceFilters,
    PlacePage,
    ResidentDetailOut,
    ResidentFilters,
    ResidentIn,
    ResidentPage,
    ResidentPatch,
    StaffDetailOut,
    StaffFilters,
    StaffPage,
    TeamDetailOut,
    TeamFilters,
    TeamPage,
    to_resident_data,
)

RESIDENTS = "residents"
HOUSEHOLDS = "households"
PLACES = "places"
INSTITUTIONS = "institutions"
STAFF = "staff"
TEAMS = "teams"
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": RESIDENTS,
        "description": "Residents (居民) under /api/registry/residents. Citizen IDs and phones are always "
        "masked; every read, search and change is audited; residents outside your scope answer 404.",
    },
    {"name": HOUSEHOLDS, "description": "Households (户) with at least one member you may see."},
    {"name": PLACES, "description": "City → district → sub-district/town → committee (居委/村委)."},
    {"name": INSTITUTIONS, "description": "Health institutions, care homes and functional communities."},
    {"name": STAFF, "description": "Health workers by institution and profession."},
    {"name": TEAMS, "description": "Family-doctor teams (家庭医生团队), members and committees served."},
]

router = Router(auth=tokens.api_auth())

NOT_FOUND = {"detail": "Not Found"}
MASTER_DATA_FORBIDDEN = {"detail": "your role cannot view master data"}
# Every operation can answer these besides its own responses.
COMMON = {401: Message, 403: Message, 422: FieldErrors}
RESIDENT_SORTS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "-id": ("-id",),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "birth_date": ("birth_date", "id"),
    "-birth_date": ("-birth_date", "-id"),
    "committee": ("committee__code", "id"),
    "-committee": ("-committee__code", "-id"),
    "updated_at": ("updated_at", "id"),
    "-updated_at": ("-updated_at", "-id"),
}

M = TypeVar("M", bound=Model)


def _page(queryset: QuerySet[M], paging: Paging) -> tuple[int, list[M]]:
    start = (paging.page - 1) * paging.page_size
    return queryset.count(), list(queryset[start : start + paging.page_size])


def _page_body(count: int, paging: Paging, items: list[Any]) -> dict[str, Any]:
    return {"count": count, "page": paging.page, "page_size": paging.page_size, "items": items}


def _field_errors(errors: list[tuple[str, str]]) -> dict[str, Any]:
    return {"detail": [{"field": field, "message": message} for field, message in errors]}


def _conflict(exc: services.DuplicateResidentError) -> dict[str, Any]:
    return {**_field_errors([(exc.field, exc.message)]), "existing_resident_id": exc.existing_resident_id}


def _unknown_parameters(request: HttpRequest, filters: Schema) -> Status[Any] | None:
    """422 for query parameters the list does not know. Ignoring them would answer a misspelt filter
    (or a probe like `committee__code__gt`) with the unfiltered list."""
    unknown = sorted(set(request.GET) - set(type(filters).model_fields))
    if not unknown:
        return None
    return Status(422, _field_errors([(name, "unknown query parameter") for name in unknown]))


def _record_denial(request: HttpRequest, action: Action, resource_type: str, resource_id: int) -> None:
    """Audit a refused access. Whether the resident exists only shows in the log, never in the answer."""
    exists = resource_type == "resident" and Resident.objects.filter(pk=resource_id).exists()
    record(
        request=request,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        resident_id=resource_id if exists else None,
        outcome=Outcome.DENIED,
    )


# Residents ---------------------------------------------------------------------------------------------


def _resident_detail_queryset(residents: QuerySet[Resident]) -> QuerySet[Resident]:
    return residents.select_related("committee", "residential_point", "household").prefetch_related(
        Prefetch(
            "key_population_declarations",
            queryset=KeyPopulationDeclaration.objects.order_by("valid_from", "id"),
        )
    )


def _resident_detail(resident: Resident, today: date) -> ResidentDetailOut:
    out = ResidentDetailOut.from_orm(resident)
    declarations = [
        (d.key_population, d.valid_from, d.valid_until) for d in resident.key_population_declarations.all()
    ]
    out.key_populations = sorted(key_populations(resident.birth_date, today, declarations))
    return out


def _filter_residents(
    residents: QuerySet[Resident], filters: ResidentFilters, today: date
) -> QuerySet[Resident]:
    if filters.q is not None and filters.is_citizen_id_search():
        residents = residents.filter(citizen_id=filters.q)
    elif filters.q is not None:
        residents = residents.filter(name__startswith=filters.q)
    if filters.committee_code:
        residents = residents.filter(committee__code=filters.committee_code)
    if filters.sub_district_code:
        residents = residents.filter(committee__parent__code=filters.sub_district_code)
    if filters.sex:
        residents = residents.filter(sex=filters.sex)
    if filters.age_min is not None or filters.age_max is not None:
        residents = residents.filter(age_between(today, filters.age_min or 0, filters.age_max))
    if filters.key_population:
        residents = residents.filter(in_key_population(filters.key_population, today))
    return residents.order_by(*RESIDENT_SORTS[filters.sort])


def _search_residents(request: HttpRequest, filters: ResidentFilters) -> Status[Any] | dict[str, Any]:
    if not access.can_list_residents(request.user):
        record(
            request=request,
            action=Action.SEARCH,
            resource_type="resident",
            outcome=Outcome.DENIED,
            detail={"query": filters.audit_detail()},
        )
        return Status(403, {"detail": "your role cannot list residents"})
    # A merged-away duplicate (merged_into set) lives on as its survivor: it is no longer listed.
    listable = access.residents_visible_to(request.user).filter(merged_into__isnull=True)
    residents = _filter_residents(listable, filters, timezone.localdate())
    count, rows = _page(residents.select_related("committee"), filters)
    record(
        request=request,
        action=Action.SEARCH,
        resource_type="resident",
        detail={
            "query": filters.audit_detail(),
            "count": count,
            "page": filters.page,
            "resident_ids": [row.pk for row in rows],
        },
    )
    return _page_body(count, filters, rows)


@router.get("/residents", response={200: ResidentPage, **COMMON}, tags=[RESIDENTS])
def list_residents(request: HttpRequest, filters: Query[ResidentFilters]) -> Any:
    """Residents you may see, filtered and sorted; one audit entry per request with the query and count.

    `q` takes a name prefix or a full citizen ID. To keep an ID out of URLs and logs, prefer
    `POST /residents/search` for ID lookups.
    """
    if unknown := _unknown_parameters(request, filters):
        return unknown
    return _search_residents(request, filters)


@router.post(
    "/residents/search",
    response={200: ResidentPage, **COMMON},
    tags=[RESIDENTS],
    auth=tokens.api_auth(tokens.READ),
)
def search_residents(request: HttpRequest, filters: ResidentFilters) -> Any:
    """The resident list with the filters in the body, so a citizen ID never appears in a URL."""
    return _search_residents(request, filters)


@router.get(
    "/residents/{resident_id}", response={200: ResidentDetailOut, 404: Message, **COMMON}, tags=[RESIDENTS]
)
def get_resident(request: HttpRequest, resident_id: int) -> Any:
    """One resident you may see (404 otherwise, as for one that does not exist)."""
    resident = (
        _resident_detail_queryset(access.residents_visible_to(request.user)).filter(pk=resident_id).first()
    )
    if resident is None:
        _record_denial(request, Action.READ, "resident", resident_id)
        return Status(404, NOT_FOUND)
    out = _resident_detail(resident, timezone.localdate())
    record(
        request=request,
        action=Action.READ,
        resource_type="resident",
        resource_id=resident.pk,
        resident_id=resident.pk,
    )
    return out


@router.post(
    "/residents",
    response={201: ResidentDetailOut, 409: Conflict, **COMMON},
    tags=[RESIDENTS],
)
def create_resident(request: HttpRequest, payload: ResidentIn) -> Any:
    """Register a resident in a committee you serve. 409 names the resident already holding the ID."""
    if not access.can_create_residents(request.user):
        return Status(403, {"detail": "your role cannot register residents"})
    try:
        resident = services.do_create_resident(
            request.user,
            to_resident_data(payload),
            request,
            committees=access.committees_assignable_by(request.user),
        )
    except services.RegistryValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except services.DuplicateResidentError as exc:
        return Status(409, _conflict(exc))
    created = _resident_detail_queryset(Resident.objects.all()).get(pk=resident.pk)
    return Status(201, _resident_detail(created, timezone.localdate()))


def _editable_resident(request: HttpRequest, resident_id: int, action: Action) -> Resident | Status[Any]:
    """The resident if the user may change it; otherwise the answer: 403 when they may at least see it
    (so its existence is no secret), 404 when they may not."""
    resident = access.residents_editable_by(request.user).filter(pk=resident_id).first()
    if resident is not None:
        return resident
    _record_denial(request, action, "resident", resident_id)
    if access.residents_visible_to(request.user).filter(pk=resident_id).exists():
        return Status(403, {"detail": "your role cannot change this resident"})
    return Status(404, NOT_FOUND)


@router.patch(
    "/residents/{resident_id}",
    response={200: ResidentDetailOut, 404: Message, 409: Conflict, **COMMON},
    tags=[RESIDENTS],
)
def update_resident(request: HttpRequest, resident_id: int, payload: ResidentPatch) -> Any:
    """Change the fields sent. The whole resulting record is validated (ID against birth date and sex)."""
    resident = _editable_resident(request, resident_id, Action.UPDATE)
    if isinstance(resident, Status):
        return resident
    try:
        services.do_update_resident(
            request.user,
            resident,
            to_resident_data(payload),
            request,
            committees=access.committees_assignable_by(request.user),
        )
    except services.RegistryValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    except services.DuplicateResidentError as exc:
        return Status(409, _conflict(exc))
    updated = _resident_detail_queryset(Resident.objects.all()).get(pk=resident_id)
    return _resident_detail(updated, timezone.localdate())


@router.post(
    "/residents/{resident_id}/key-populations",
    response={201: KeyPopulationDeclarationOut, 404: Message, **COMMON},
    tags=[RESIDENTS],
)
def declare_key_population(
    request: HttpRequest, resident_id: int, payload: KeyPopulationDeclarationIn
) -> Any:
    """Declare a key population (重点人群) that the data cannot show, such as a disability."""
    resident = _editable_resident(request, resident_id, Action.CREATE)
    if isinstance(resident, Status):
        return resident
    try:
        declaration = services.do_declare_key_population(
            request.user,
            resident,
            str(payload.key_population),
            valid_from=payload.valid_from,
            valid_until=payload.valid_until,
            note=payload.note,
            request=request,
        )
    except services.RegistryValidationError as exc:
        return Status(422, _field_errors(exc.errors))
    return Status(201, declaration)


# Households --------------------------------------------------------------------------------------------


@router.get("/households", response={200: HouseholdPage, **COMMON}, tags=[HOUSEHOLDS])
def list_households(request: HttpRequest, filters: Query[HouseholdFilters]) -> Any:
    """Households with at least one member you may see."""
    if unknown := _unknown_parameters(request, filters):
        return unknown
    query = filters.model_dump(exclude_none=True, exclude={"page", "page_size"})
    if not access.can_list_residents(request.user):
        record(
            request=request,
            action=Action.SEARCH,
            resource_type="household",
            outcome=Outcome.DENIED,
            detail={"query": query},
        )
        return Status(403, {"detail": "your role cannot list households"})
    households = access.households_visible_to(request.user).select_related("residential_point")
    if filters.code:
        households = households.filter(code__startswith=filters.code)
    if filters.committee_code:
        households = households.filter(residential_point__committee__code=filters.committee_code)
    if filters.residential_point_id is not None:
        households = households.filter(residential_point_id=filters.residential_point_id)
    count, rows = _page(households.order_by("code"), filters)
    record(
        request=request,
        action=Action.SEARCH,
        resource_type="household",
        detail={"query": query, "count": count, "page": filters.page, "household_ids": [h.pk for h in rows]},
    )
    return _page_body(count, filters, rows)


@router.get(
    "/households/{household_id}",
    response={200: HouseholdDetailOut, 404: Message, **COMMON},
    tags=[HOUSEHOLDS],
)
def get_household(request: HttpRequest, household_id: int) -> Any:
    """A household and the members you may see (IDs and phones masked)."""
    household = (
        access.households_visible_to(request.user)
        .select_related("residential_point")
        .filter(pk=household_id)
        .first()
    )
    if household is None:
        _record_denial(request, Action.READ, "household", household_id)
        return Status(404, NOT_FOUND)
    members = list(
        access.household_members_visible_to(request.user, household)
        .filter(merged_into__isnull=True)
        .select_related("committee")
        .order_by("id")
    )
    record(
        request=request,
        action=Action.READ,
        resource_type="household",
        resource_id=household.pk,
        detail={"resident_ids": [member.pk for member in members]},
    )
    return {
        "id": household.pk,
        "code": household.code,
        "residential_point": household.residential_point,
        "members": members,
    }


# Master data: places, institutions, staff, teams -------------------------------------------------------


def _master_data_denied(request: HttpRequest) -> Status[Any] | None:
    if access.can_view_master_data(request.user):
        return None
    return Status(403, MASTER_DATA_FORBIDDEN)


def _places() -> QuerySet[Place]:
    return Place.objects.annotate(child_count=Count("children"))


@router.get("/places", response={200: PlacePage, **COMMON}, tags=[PLACES])
def list_places(request: HttpRequest, filters: Query[PlaceFilters]) -> Any:
    """Places in code order, each with its parent and number of children, to build a tree level by level."""
    if unknown := _unknown_parameters(request, filters):
        return unknown
    if denied := _master_data_denied(request):
        return denied
    places = _places()
    if filters.level:
        places = places.filter(level=filters.level)
    if filters.parent_id is not None:
        places = places.filter(parent_id=filters.parent_id)
    if filters.parent_code:
        places = places.filter(parent__code=filters.parent_code)
    count, rows = _page(places.order_by("code"), filters)  # type: ignore[arg-type]
    return _page_body(count, filters, rows)  # type: ignore[arg-type]


@router.get("/places/{place_id}", response={200: PlaceDetailOut, 404: Message, **COMMON}, tags=[PLACES])
def get_place(request: HttpRequest, place_id: int) -> Any:
    """A place with its parent, children, and for a committee its centre and designated doctor."""
    if denied := _master_data_denied(request):
        return denied
    place = (
        _places()
        .select_related("parent", "responsible_centre", "designated_doctor")
        .prefetch_related(Prefetch("children", queryset=Place.objects.order_by("code")))
        .filter(pk=place_id)
        .first()
    )
    return place if place is not None else Status(404, NOT_FOUND)


def _within_place(place_id: int) -> Q:
    """An institution in the place or anywhere below it (the hierarchy has four levels)."""
    return (
        Q(place_id=place_id)
        | Q(place__parent_id=place_id)
        | Q(place__parent__parent_id=place_id)
        | Q(place__parent__parent__parent_id=place_id)
    )


@router.get("/institutions", response={200: InstitutionPage, **COMMON}, tags=[INSTITUTIONS])
def list_institutions(request: HttpRequest, filters: Query[InstitutionFilters]) -> Any:
    """Institutions by kind, place (including the places below it) or parent centre."""
    if unknown := _unknown_parameters(request, filters):
        return unknown
    if denied := _master_data_denied(request):
        return denied
    institutions = Institution.objects.select_related("place")
    if filters.kind:
        institutions = institutions.filter(kind=filters.kind)
    if filters.place_id is not None:
        institutions = institutions.filter(_within_place(filters.place_id))
    if filters.parent_id is not None:
        institutions = institutions.filter(parent_id=filters.parent_id)
    count, rows = _page(institutions.order_by("code"), filters)
    return _page_body(count, filters, rows)


@router.get(
    "/institutions/{institution_id}",
    response={200: InstitutionDetailOut, 404: Message, **COMMON},
    tags=[INSTITUTIONS],
)
def get_institution(request: HttpRequest, institution_id: int) -> Any:
    """An institution with its parent centre, its units and the medical consortia it belongs to."""
    if denied := _master_data_denied(request):
        return denied
    institution = (
        Institution.objects.select_related("place", "parent")
        .prefetch_related(
            Prefetch("units", queryset=Institution.objects.order_by("code")),
            "consortia",
        )
        .filter(pk=institution_id)
        .first()
    )
    return institution if institution is not None else Status(404, NOT_FOUND)


@router.get("/staff", response={200: StaffPage, **COMMON}, tags=[STAFF])
def list_staff(request: HttpRequest, filters: Query[StaffFilters]) -> Any:
    """Health workers by institution, profession and whether they are active (phones masked)."""
    if unknown := _unknown_parameters(request, filters):
        return unknown
    if denied := _master_data_denied(request):
        return denied
    staff = Staff.objects.select_related("institution")
    if filters.institution_id is not None:
        staff = staff.filter(institution_id=filters.institution_id)
    if filters.profession:
        staff = staff.filter(profession=filters.profession)
    if filters.active is not None:
        staff = staff.filter(active=filters.active)
    count, rows = _page(staff.order_by("code"), filters)
    return _page_body(count, filters, rows)


@router.get("/staff/{staff_id}", response={200: StaffDetailOut, 404: Message, **COMMON}, tags=[STAFF])
def get_staff(request: HttpRequest, staff_id: int) -> Any:
    """A health worker and the teams they belong to."""
    if denied := _master_data_denied(request):
        return denied
    member = (
        Staff.objects.select_related("institution")
        .prefetch_related(Prefetch("teams", queryset=Team.objects.order_by("name")))
        .filter(pk=staff_id)
        .first()
    )
    return member if member is not None else Status(404, NOT_FOUND)


@router.get("/teams", response={200: TeamPage, **COMMON}, tags=[TEAMS])
def list_teams(request: HttpRequest, filters: Query[TeamFilters]) -> Any:
    """Family-doctor teams by centre or by a committee they serve."""
    if unknown := _unknown_parameters(request, filters):
        return unknown
    if denied := _master_data_denied(request):
        return denied
    teams = Team.objects.select_related("centre", "lead")
    if filters.centre_id is not None:
        teams = teams.filter(centre_id=filters.centre_id)
    if filters.committee_code:
        teams = teams.filter(committees__code=filters.committee_code)
    count, rows = _page(teams.order_by("centre__code", "name", "id"), filters)
    return _page_body(count, filters, rows)


@router.get("/teams/{team_id}", response={200: TeamDetailOut, 404: Message, **COMMON}, tags=[TEAMS])
def get_team(request: HttpRequest, team_id: int) -> Any:
    """A team with its members (and their role in it) and the committees it serves."""
    if denied := _master_data_denied(request):
        return denied
    team = (
        Team.objects.select_related("centre", "lead")
        .prefetch_related(
            Prefetch(
                "teammembership_set",
                queryset=TeamMembership.objects.select_related("staff").order_by("team_role", "staff__code"),
            ),
            Prefetch("committees", queryset=Place.objects.order_by("code")),
        )
        .filter(pk=team_id)
        .first()
    )
    return team if team is not None else Status(404, NOT_FOUND)
