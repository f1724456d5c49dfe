"""Page views: thin, role-aware, and scoped through jiayi.access.

Every page that shows a resident's personal data appends one audit entry per request; a resident or
household outside the user's scope is a 404, indistinguishable from a missing one, and audited as denied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.registry import services
from jiayi.registry.choices import (
    HOSPITAL_KINDS,
    InstitutionKind,
    KeyPopulation,
    PlaceLevel,
    Profession,
    Role,
)
from jiayi.registry.models import (
    Account,
    Household,
    Institution,
    MedicalConsortium,
    Place,
    Resident,
    Staff,
    Team,
    TeamMembership,
)
from jiayi.registry.population import active_declarations, derived_key_populations
from jiayi.signing.choices import OPEN_STATUSES
from jiayi.signing.models import Signing
from jiayi.web import stats
from jiayi.web.filters import (
    AGE_BANDS,
    PAGE_SIZE,
    HouseholdSearchForm,
    ResidentSearchForm,
    query_string,
)
from jiayi.web.forms import ResidentForm

View = Callable[..., HttpResponse]


def today() -> date:
    """The one place pages read the clock, so every age and key population on a page agrees."""
    return timezone.localdate()


def is_htmx(request: HttpRequest) -> bool:
    """An htmx partial request; a history restore wants the whole page back."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def people_page(resource_type: str) -> Callable[[View], View]:
    """Lists and pages of people are for the clinical roles. Anyone else gets the 404 a missing page
    gets (so the route reveals nothing), audited as denied."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not access.can_list_residents(request.user):
                record(
                    request=request,
                    action=Action.READ,
                    resource_type=resource_type,
                    resource_id=kwargs.get("pk", ""),
                    outcome=Outcome.DENIED,
                )
                raise Http404
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


def master_data_page(view: View) -> View:
    """Places, institutions, staff and teams: for every staff role, not for residents."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not access.can_view_master_data(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def partial_or_page(
    request: HttpRequest, page_template: str, partial_template: str, context: dict[str, Any]
) -> HttpResponse:
    template = partial_template if is_htmx(request) else page_template
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# ---------------------------------------------------------------------------------------------- people


@dataclass(frozen=True, slots=True)
class ResidentRow:
    """A resident as a row of a list: the record plus what the page derives from it."""

    resident: Resident
    age: int
    key_populations: list[KeyPopulation]


def key_populations_of(resident: Resident, on: date) -> list[KeyPopulation]:
    """Derived and declared key populations, in the order KeyPopulation lists them. Expects the
    declarations to be prefetched."""
    declared = active_declarations(
        (
            (declaration.key_population, declaration.valid_from, declaration.valid_until)
            for declaration in resident.key_population_declarations.all()
        ),
        on,
    )
    found = derived_key_populations(resident.birth_date, on) | declared
    return [key_population for key_population in KeyPopulation if key_population in found]


def resident_rows(residents: Iterable[Resident], on: date) -> list[ResidentRow]:
    return [
        ResidentRow(
            resident=resident, age=resident.age_on(on), key_populations=key_populations_of(resident, on)
        )
        for resident in residents
    ]


def _listable_residents(user: Any) -> QuerySet[Resident]:
    return (
        access.residents_visible_to(user)
        # A resident merged into another is listed once, under the survivor.
        .filter(merged_into__isnull=True)
        .select_related("committee", "household")
        .prefetch_related("key_population_declarations")
    )


@people_page("resident")
@require_http_methods(["GET", "POST"])
def residents(request: HttpRequest) -> HttpResponse:
    """Residents in the user's scope, searched and paged. A citizen-ID search is posted, never put in a
    URL (E5); other searches redirect to a GET URL that can be bookmarked and paged."""
    on = today()
    data = request.POST if request.method == "POST" else request.GET
    form = ResidentSearchForm(data, user=request.user)
    base_url = reverse("web:residents")
    if request.method == "POST" and not form.is_citizen_id_search() and not is_htmx(request):
        return redirect(f"{base_url}?{query_string(form.url_params())}")
    found = form.filter(_listable_residents(request.user), on).order_by(
        "committee__code", "household__code", "id"
    )
    page = Paginator(found, PAGE_SIZE).get_page(data.get("page"))
    record(
        request=request,
        action=Action.SEARCH if form.has_filters() else Action.READ,
        resource_type="resident",
        detail={**form.audit_detail(), "page": page.number, "count": page.paginator.count},
    )
    params = form.url_params()
    context = {
        "form": form,
        "page": page,
        "rows": resident_rows(page.object_list, on),
        "query_string": query_string(params),
        "citizen_id_search": form.is_citizen_id_search(),
        "can_create": access.can_create_residents(request.user),
    }
    response = partial_or_page(request, "web/residents/list.html", "web/residents/_results.html", context)
    if request.method == "POST":
        # The address bar follows the search, except that a citizen ID never enters it.
        response["HX-Push-Url"] = (
            "false" if form.is_citizen_id_search() else f"{base_url}?{query_string(params)}".rstrip("?")
        )
    return response


def visible_resident_or_404(request: HttpRequest, pk: int) -> Resident:
    resident = (
        access.residents_visible_to(request.user)
        .select_related(
            "committee__parent",
            "committee__responsible_centre",
            "committee__designated_doctor",
            "residential_point",
            "household__residential_point",
        )
        .prefetch_related("key_population_declarations")
        .filter(pk=pk)
        .first()
    )
    if resident is None:
        # The same answer whether the record exists or not; the denied entry lets the resident and
        # the auditors see the attempt.
        record(
            request=request,
            action=Action.READ,
            resource_type="resident",
            resource_id=pk,
            resident_id=pk,
            outcome=Outcome.DENIED,
        )
        raise Http404
    return resident


def _signing_links(request: HttpRequest, resident: Resident) -> dict[str, Any]:
    """The resident's open signing, when the user may open it, or a counter-signing link for a team
    member when the resident has none (家庭医生签约 at the counter, on the resident's behalf)."""
    open_signing = (
        access.signings_visible_to(request.user)
        .filter(resident=resident, status__in=OPEN_STATUSES)
        .select_related("family_doctor")
        .first()
        if access.can_view_signing_pages(request.user)
        else None
    )
    can_counter_sign = (
        open_signing is None
        and not Signing.objects.filter(resident=resident, status__in=OPEN_STATUSES).exists()
        and access.residents_signable_by(request.user).filter(pk=resident.pk).exists()
    )
    return {"open_signing": open_signing, "can_counter_sign": can_counter_sign}


def resident_context(request: HttpRequest, resident: Resident, on: date) -> dict[str, Any]:
    """What the resident page and a resident's own home page show."""
    members: list[ResidentRow] = []
    linkable: set[int] = set()
    if resident.household is not None:
        shown = (
            access.household_members_visible_to(request.user, resident.household)
            .filter(merged_into__isnull=True)
            .select_related("committee")
            .prefetch_related("key_population_declarations")
            .order_by("id")
        )
        members = resident_rows(shown, on)
        linkable = set(
            access.residents_visible_to(request.user)
            .filter(household=resident.household)
            .values_list("pk", flat=True)
        )
    declarations = sorted(
        resident.key_population_declarations.all(), key=lambda declaration: declaration.valid_from
    )
    merged_into_id = resident.merged_into_id
    merged_into_visible = (
        merged_into_id is not None
        and access.residents_visible_to(request.user).filter(pk=merged_into_id).exists()
    )
    return {
        "resident": resident,
        "merged_into_id": merged_into_id,
        "merged_into_visible": merged_into_visible,
        "age": resident.age_on(on),
        "derived_key_populations": [
            kp for kp in KeyPopulation if kp in derived_key_populations(resident.birth_date, on)
        ],
        "declarations": declarations,
        "active_key_populations": key_populations_of(resident, on),
        "members": members,
        "linkable_member_ids": linkable,
        "can_edit": access.residents_editable_by(request.user).filter(pk=resident.pk).exists(),
        **_signing_links(request, resident),
        "today": on,
    }


@login_required
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One resident's page. Follows the policy alone, so a resident can open their own record."""
    resident = visible_resident_or_404(request, pk)
    record(
        request=request,
        action=Action.READ,
        resource_type="resident",
        resource_id=resident.pk,
        resident_id=resident.pk,
    )
    return render(request, "web/residents/detail.html", resident_context(request, resident, today()))


def _render_resident_form(
    request: HttpRequest, form: ResidentForm, resident: Resident | None, *, status: int = 200
) -> HttpResponse:
    return render(request, "web/residents/form.html", {"form": form, "resident": resident}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def resident_create(request: HttpRequest) -> HttpResponse:
    """Register a resident through the registry's one write path."""
    if not access.can_create_residents(request.user):
        record(request=request, action=Action.CREATE, resource_type="resident", outcome=Outcome.DENIED)
        raise Http404
    form = ResidentForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            resident = services.do_create_resident(
                request.user,
                form.resident_data(),
                request,
                committees=access.committees_assignable_by(request.user),
            )
        except services.RegistryValidationError as exc:
            form.add_service_errors(exc.errors)
        except services.DuplicateResidentError as exc:
            form.add_duplicate_error(exc)
        else:
            messages.success(request, _("Resident registered."))
            return redirect("web:resident", pk=resident.pk)
    elif request.method == "POST":
        form.check_with_registry(today=today(), committees=access.committees_assignable_by(request.user))
    return _render_resident_form(request, form, None, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def resident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a resident's registry data. Each request leaves one audit entry: the update, or the
    read of the record the form shows."""
    resident = access.residents_editable_by(request.user).select_related("household").filter(pk=pk).first()
    if resident is None:
        record(
            request=request,
            action=Action.UPDATE if request.method == "POST" else Action.READ,
            resource_type="resident",
            resource_id=pk,
            resident_id=pk,
            outcome=Outcome.DENIED,
        )
        raise Http404
    form = ResidentForm(
        request.POST if request.method == "POST" else None, user=request.user, instance=resident
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.do_update_resident(
                request.user,
                resident,
                form.resident_data(),
                request,
                committees=access.committees_assignable_by(request.user),
            )
        except services.RegistryValidationError as exc:
            form.add_service_errors(exc.errors)
        except services.DuplicateResidentError as exc:
            form.add_duplicate_error(exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("web:resident", pk=resident.pk)
    elif request.method == "POST":
        form.check_with_registry(today=today(), committees=access.committees_assignable_by(request.user))
    record(
        request=request,
        action=Action.READ,
        resource_type="resident",
        resource_id=resident.pk,
        resident_id=resident.pk,
        detail={"form": "edit"},
    )
    return _render_resident_form(request, form, resident, status=400 if form.errors else 200)


@dataclass(frozen=True, slots=True)
class HouseholdRow:
    household: Household
    head: Resident | None
    members_shown: int


@people_page("household")
def households(request: HttpRequest) -> HttpResponse:
    """Households with at least one member in scope; only members in scope are named or counted."""
    form = HouseholdSearchForm(request.GET, user=request.user)
    found = form.filter(access.households_visible_to(request.user)).select_related(
        "residential_point__committee"
    )
    page = Paginator(found.order_by("code"), PAGE_SIZE).get_page(request.GET.get("page"))
    members_by_household: dict[int, list[Resident]] = defaultdict(list)
    members = access.residents_visible_to(request.user).filter(
        household__in=[household.pk for household in page.object_list]
    )
    for member in members.order_by("id"):
        if member.household_id is not None:
            members_by_household[member.household_id].append(member)
    rows = [
        HouseholdRow(
            household=household,
            head=next((m for m in members_by_household[household.pk] if m.relationship == "head"), None),
            members_shown=len(members_by_household[household.pk]),
        )
        for household in page.object_list
    ]
    record(
        request=request,
        action=Action.SEARCH if form.has_filters() else Action.READ,
        resource_type="household",
        detail={**form.url_params(), "page": page.number, "count": page.paginator.count},
    )
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query_string": query_string(form.url_params()),
    }
    return partial_or_page(request, "web/households/list.html", "web/households/_results.html", context)


@people_page("household")
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = (
        access.households_visible_to(request.user)
        .select_related("residential_point__committee__parent")
        .filter(pk=pk)
        .first()
    )
    if household is None:
        record(
            request=request,
            action=Action.READ,
            resource_type="household",
            resource_id=pk,
            outcome=Outcome.DENIED,
        )
        raise Http404
    on = today()
    members = resident_rows(
        access.household_members_visible_to(request.user, household)
        .select_related("committee")
        .prefetch_related("key_population_declarations")
        .order_by("id"),
        on,
    )
    record(
        request=request,
        action=Action.READ,
        resource_type="household",
        resource_id=household.pk,
        detail={"residents": [row.resident.pk for row in members]},
    )
    return render(request, "web/households/detail.html", {"household": household, "members": members})


# ------------------------------------------------------------------------------------------------ home


def _counts_by_committee(
    residents: QuerySet[Resident], committees: list[Place], on: date
) -> list[dict[str, Any]]:
    counts = stats.population_by(residents, "committee", on)
    return [
        {"committee": committee, "counts": counts.get(committee.pk, stats.PopulationCounts())}
        for committee in committees
    ]


def _clinician_home(request: HttpRequest, account: Account, on: date) -> dict[str, Any]:
    visible = access.residents_visible_to(request.user)
    teams = (
        Team.objects.filter(members=account.staff_id) if account.staff_id is not None else Team.objects.none()
    )
    teams = teams.select_related("centre", "lead").prefetch_related("committees").distinct()
    committees = list(access.committees_in_scope(request.user).select_related("parent").order_by("code"))
    return {
        "teams": teams,
        "totals": stats.population_counts(visible, on),
        "committee_rows": _counts_by_committee(visible, committees, on),
        "form": ResidentSearchForm(None, user=request.user),
    }


def _manager_home(request: HttpRequest, account: Account, on: date) -> dict[str, Any]:
    centre = access.centre_of(account)
    visible = access.residents_visible_to(request.user)
    if centre is None:
        return {"centre": None}
    teams = list(Team.objects.filter(centre=centre).select_related("lead").order_by("name"))
    by_team = stats.residents_by(visible, "committee__teams")
    committees = list(access.committees_in_scope(request.user).select_related("parent").order_by("code"))
    return {
        "centre": centre,
        "units": centre.units.order_by("code"),
        "team_rows": [{"team": team, "residents": by_team.get(team.pk, 0)} for team in teams],
        "totals": stats.population_counts(visible, on),
        "committee_rows": _counts_by_committee(visible, committees, on),
        "form": ResidentSearchForm(None, user=request.user),
    }


def _aggregates_home(request: HttpRequest, account: Account, on: date) -> dict[str, Any]:
    population = access.residents_for_statistics(request.user)
    by_kind = dict(
        Institution.objects.order_by().values_list("kind").annotate(n=Count("id")).values_list("kind", "n")
    )
    return {
        "institution_kinds": [
            {"kind": kind, "count": by_kind[kind.value]} for kind in InstitutionKind if kind.value in by_kind
        ],
        "band_names": list(AGE_BANDS),
        "band_rows": stats.age_bands_by_sub_district(population, on),
        "population_total": population.count(),
        "threshold": access.small_cell_threshold(request.user),
    }


def _desk_home(request: HttpRequest, account: Account, on: date) -> dict[str, Any]:
    institution = account.institution
    consortia: list[MedicalConsortium] = []
    if institution is not None:
        consortia = list(
            MedicalConsortium.objects.filter(Q(lead=institution) | Q(members=institution))
            .select_related("lead")
            .prefetch_related(Prefetch("members", queryset=Institution.objects.order_by("code")))
            .distinct()
        )
    return {"institution": institution, "consortia": consortia}


def _administrator_home(request: HttpRequest, account: Account, on: date) -> dict[str, Any]:
    places = dict(Place.objects.order_by().values_list("level").annotate(n=Count("id")))
    return {
        "place_counts": [{"level": level, "count": places.get(level.value, 0)} for level in PlaceLevel],
        "master_counts": [
            {"label": "institutions", "count": Institution.objects.count()},
            {"label": "staff", "count": Staff.objects.count()},
            {"label": "teams", "count": Team.objects.count()},
            {"label": "households", "count": Household.objects.count()},
            {"label": "residents", "count": Resident.objects.count()},
            {"label": "accounts", "count": Account.objects.count()},
        ],
    }


def _resident_home(request: HttpRequest, account: Account, on: date) -> dict[str, Any]:
    if account.resident_id is None:
        return {"resident": None}
    resident = visible_resident_or_404(request, account.resident_id)
    record(
        request=request,
        action=Action.READ,
        resource_type="resident",
        resource_id=resident.pk,
        resident_id=resident.pk,
    )
    return resident_context(request, resident, on)


_HOMES: dict[str, tuple[str, Callable[[HttpRequest, Account, date], dict[str, Any]]]] = {
    Role.FAMILY_DOCTOR: ("clinician", _clinician_home),
    Role.TEAM_MEMBER: ("clinician", _clinician_home),
    Role.CENTRE_MANAGER: ("manager", _manager_home),
    Role.DISTRICT_ANALYST: ("aggregates", _aggregates_home),
    Role.CDC_OFFICER: ("aggregates", _aggregates_home),
    Role.REFERRAL_DESK: ("desk", _desk_home),
    Role.ADMINISTRATOR: ("administrator", _administrator_home),
    Role.RESIDENT: ("resident", _resident_home),
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    account = access.account_of(request.user)
    if account is None or account.role not in _HOMES:
        return render(request, "web/home/no_account.html", {})
    name, build = _HOMES[account.role]
    return render(request, f"web/home/{name}.html", build(request, account, today()))


# ----------------------------------------------------------------------------------------- master data


@master_data_page
def places(request: HttpRequest) -> HttpResponse:
    """The district → sub-district → committee tree with each committee's population."""
    all_places = list(
        Place.objects.filter(
            level__in=[PlaceLevel.DISTRICT, PlaceLevel.SUB_DISTRICT, PlaceLevel.COMMITTEE]
        ).order_by("code")
    )
    counts = stats.residents_by(access.residents_for_statistics(request.user), "committee")
    children: dict[int | None, list[Place]] = defaultdict(list)
    for place in all_places:
        children[place.parent_id].append(place)
    districts = [place for place in all_places if place.level == PlaceLevel.DISTRICT]
    tree = [
        {
            "district": district,
            "total": sum(counts.get(c.pk, 0) for sub in children[district.pk] for c in children[sub.pk]),
            "sub_districts": [
                {
                    "place": sub,
                    "total": sum(counts.get(c.pk, 0) for c in children[sub.pk]),
                    "committees": [{"place": c, "residents": counts.get(c.pk, 0)} for c in children[sub.pk]],
                }
                for sub in children[district.pk]
            ],
        }
        for district in districts
    ]
    return render(
        request,
        "web/places/list.html",
        {"tree": tree, "threshold": access.small_cell_threshold(request.user)},
    )


@master_data_page
def place_detail(request: HttpRequest, pk: int) -> HttpResponse:
    place = get_object_or_404(
        Place.objects.select_related(
            "parent__parent", "responsible_centre", "designated_doctor__institution"
        ),
        pk=pk,
    )
    population = access.residents_for_statistics(request.user)
    on = today()
    children = list(place.children.order_by("code"))
    if place.level == PlaceLevel.COMMITTEE:
        place_population = population.filter(committee=place)
    elif place.level == PlaceLevel.SUB_DISTRICT:
        place_population = population.filter(committee__parent=place)
    else:
        place_population = population.filter(
            Q(committee__parent__parent=place) | Q(committee__parent=place) | Q(committee=place)
        )
    child_field = "committee" if place.level == PlaceLevel.SUB_DISTRICT else "committee__parent"
    by_child = stats.residents_by(place_population, child_field)
    ancestors: list[Place] = []
    cursor = place.parent
    while cursor is not None and len(ancestors) < 4:
        ancestors.insert(0, cursor)
        cursor = cursor.parent if cursor.parent_id else None
    return render(
        request,
        "web/places/detail.html",
        {
            "place": place,
            "ancestors": ancestors,
            "counts": stats.population_counts(place_population, on),
            "child_rows": [{"place": child, "residents": by_child.get(child.pk, 0)} for child in children],
            "teams": place.teams.select_related("centre", "lead").order_by("name"),
            "institutions": place.institutions.order_by("code"),
            "threshold": access.small_cell_threshold(request.user),
            "is_committee": place.level == PlaceLevel.COMMITTEE,
        },
    )


@master_data_page
def institutions(request: HttpRequest) -> HttpResponse:
    by_kind: dict[str, list[Institution]] = defaultdict(list)
    for institution in Institution.objects.select_related("place", "parent").order_by("code"):
        by_kind[institution.kind].append(institution)
    groups = [
        {"kind": kind, "institutions": by_kind[kind.value]} for kind in InstitutionKind if by_kind[kind.value]
    ]
    return render(request, "web/institutions/list.html", {"groups": groups})


@master_data_page
def institution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    institution = get_object_or_404(Institution.objects.select_related("place", "parent"), pk=pk)
    staff_counts = (
        institution.staff.filter(active=True)
        .order_by()
        .values_list("profession")
        .annotate(n=Count("id"))
        .order_by("-n", "profession")
    )
    consortia = (
        MedicalConsortium.objects.filter(Q(lead=institution) | Q(members=institution))
        .select_related("lead")
        .distinct()
    )
    return render(
        request,
        "web/institutions/detail.html",
        {
            "institution": institution,
            "units": institution.units.select_related("place").order_by("code"),
            "staff_counts": [
                {"profession": Profession(profession).label, "count": count}
                for profession, count in staff_counts
            ],
            "teams": institution.teams.select_related("lead").order_by("name"),
            "served_committees": institution.served_committees.select_related("parent").order_by("code"),
            "consortia": consortia,
            "is_hospital": institution.kind in HOSPITAL_KINDS,
        },
    )


@master_data_page
def teams(request: HttpRequest) -> HttpResponse:
    all_teams = list(
        Team.objects.select_related("centre", "lead")
        .annotate(
            member_count=Count("members", distinct=True),
            committee_count=Count("committees", distinct=True),
        )
        .order_by("centre__code", "name")
    )
    panel = stats.residents_by(access.residents_for_statistics(request.user), "committee__teams")
    account = access.account_of(request.user)
    own_team_ids: set[int] = set()
    if account is not None and account.staff_id is not None:
        own_team_ids = set(
            TeamMembership.objects.filter(staff=account.staff_id).values_list("team_id", flat=True)
        )
    by_centre: dict[Institution, list[dict[str, Any]]] = defaultdict(list)
    for team in all_teams:
        by_centre[team.centre].append(
            {"team": team, "panel": panel.get(team.pk, 0), "own": team.pk in own_team_ids}
        )
    return render(
        request,
        "web/teams/list.html",
        {
            "groups": [{"centre": centre, "rows": rows} for centre, rows in by_centre.items()],
            "threshold": access.small_cell_threshold(request.user),
        },
    )


@master_data_page
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team.objects.select_related("centre", "lead"), pk=pk)
    memberships = (
        TeamMembership.objects.filter(team=team)
        .select_related("staff")
        .order_by("team_role", "staff__profession", "staff__code")
    )
    committees = list(team.committees.select_related("parent").order_by("code"))
    by_committee = stats.residents_by(
        access.residents_for_statistics(request.user).filter(committee__in=committees), "committee"
    )
    return render(
        request,
        "web/teams/detail.html",
        {
            "team": team,
            "memberships": memberships,
            "committee_rows": [
                {"place": committee, "residents": by_committee.get(committee.pk, 0)}
                for committee in committees
            ],
            "panel_size": sum(by_committee.values()),
            "threshold": access.small_cell_threshold(request.user),
        },
    )
