"""Signing pages: a team's panel, a signing with its history and actions, the centre manager's load and
coverage overview, and the bulk panel transfer.

Scoped through jiayi.access like the API: a signing outside the user's teams or centre is a 404,
indistinguishable from a missing one, and audited as denied. Actions post htmx forms that call the
signing services and answer with the refreshed signing panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.registry.choices import InstitutionKind, KeyPopulation, PlaceLevel
from jiayi.registry.models import Institution, Place, Resident, Staff
from jiayi.registry.queries import age_between, in_key_population
from jiayi.signing import consent, rules, services
from jiayi.signing.choices import (
    OPEN_STATUSES,
    ConsentKind,
    PackageKind,
    SigningChannel,
    SigningStatus,
    TerminationReason,
)
from jiayi.signing.models import ServicePackage, Signing, SigningEvent
from jiayi.web.context import display_name
from jiayi.web.filters import AGE_BANDS, query_string
from jiayi.web.guards import page_guard
from jiayi.web.templatetags.jiayi_tags import lang_label

PAGE_SIZE = 25
MAX_EXPIRING_DAYS = 366


# Signing pages are for the clinical roles; anyone else gets the 404 a missing page gets.
signing_page = page_guard(access.can_view_signing_pages, audit_as="signing")
manager_page = page_guard(access.can_view_panel_load)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


# Panel -------------------------------------------------------------------------------------------------


def _key_population_choices() -> list[tuple[str, str]]:
    return [("", str(_("Any key population"))), *((kp.value, lang_label(kp.label)) for kp in KeyPopulation)]


def _status_choices() -> list[tuple[str, str]]:
    return [
        ("open", str(_("Pending and active"))),
        *((s.value, lang_label(s.label)) for s in SigningStatus),
        ("all", str(_("Any status"))),
    ]


class PanelFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False, choices=_status_choices)
    key_population = forms.ChoiceField(
        label=gettext_lazy("Key population"), required=False, choices=_key_population_choices
    )
    age_band = forms.ChoiceField(
        label=gettext_lazy("Age band"),
        required=False,
        choices=[("", gettext_lazy("Any age")), *((band, band) for band in AGE_BANDS)],
    )
    package = forms.ChoiceField(label=gettext_lazy("Package"), required=False)
    expiring_within = forms.IntegerField(
        label=gettext_lazy("Expiring within (days)"), required=False, min_value=0, max_value=MAX_EXPIRING_DAYS
    )
    mine = forms.BooleanField(label=gettext_lazy("Only my own signings"), required=False)

    def __init__(self, data: Any, *, user: Any) -> None:
        super().__init__(data)
        codes = (
            access.service_packages_visible_to(user).order_by("code").values_list("code", "name").distinct()
        )
        seen: dict[str, str] = {}
        for code, name in codes:
            seen.setdefault(code, f"{code} · {name}")
        package = self.fields["package"]
        assert isinstance(package, forms.ChoiceField)
        package.choices = [("", _("Any package")), *sorted(seen.items())]

    def filter(self, signings: QuerySet[Signing], user: Any) -> QuerySet[Signing]:
        if not self.is_valid():
            return signings.none()
        data = self.cleaned_data
        today = timezone.localdate()
        status = data["status"] or "open"
        if status == "open":
            signings = signings.filter(status__in=OPEN_STATUSES)
        elif status != "all":
            signings = signings.filter(status=status)
        people = Resident.objects.all()
        narrowed = False
        if data["key_population"]:
            people = people.filter(in_key_population(data["key_population"], today))
            narrowed = True
        if data["age_band"]:
            low, high = AGE_BANDS[data["age_band"]]
            people = people.filter(age_between(today, low, high))
            narrowed = True
        if narrowed:
            signings = signings.filter(resident__in=people)
        if data["package"]:
            signings = signings.filter(package__code=data["package"])
        if data["expiring_within"] is not None:
            signings = signings.filter(
                ends_on__gte=today, ends_on__lte=today + timedelta(days=data["expiring_within"])
            )
        if data["mine"]:
            account = access.account_of(user)
            staff_id = account.staff_id if account is not None else None
            signings = signings.filter(family_doctor_id=staff_id)
        return signings

    def url_params(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {
            name: ("1" if value is True else str(value))
            for name, value in self.cleaned_data.items()
            if value not in (None, "", False)
        }


@dataclass(frozen=True, slots=True)
class PanelRow:
    signing: Signing
    age: int
    expiring: bool


def _rows(signings: list[Signing]) -> list[PanelRow]:
    today = timezone.localdate()
    soon = today + timedelta(days=30)
    return [
        PanelRow(
            signing=s,
            age=s.resident.age_on(today),
            expiring=s.status == SigningStatus.ACTIVE and s.ends_on <= soon,
        )
        for s in signings
    ]


@login_required
@require_GET
def menu(request: HttpRequest) -> HttpResponse:
    """Where the "Signings" menu leads: a resident to online signing, staff to their panel."""
    if access.online_signing_resident(request.user) is not None:
        return redirect("signing:online")
    return panel(request)


@signing_page
@require_GET
def panel(request: HttpRequest) -> HttpResponse:
    """The signings of the user's teams (a manager: of the centre), filtered and paged."""
    form = PanelFilterForm(request.GET, user=request.user)
    signings = form.filter(access.signings_visible_to(request.user), request.user)
    signings = signings.select_related("resident", "family_doctor", "team", "package").order_by(
        "ends_on", "id"
    )
    page = Paginator(signings, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = _rows(list(page.object_list))
    record(
        request=request,
        action=Action.SEARCH,
        resource_type="signing",
        detail={
            "query": form.url_params(),
            "page": page.number,
            "count": page.paginator.count,
            "resident_ids": sorted({row.signing.resident_id for row in rows}),
        },
    )
    pending = access.signings_visible_to(request.user).filter(status=SigningStatus.PENDING).count()
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query_string": query_string(form.url_params()),
        "pending": pending,
        "can_view_load": access.can_view_panel_load(request.user),
    }
    template = "signing/_results.html" if _is_htmx(request) else "signing/panel.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# A signing and its actions -----------------------------------------------------------------------------


def _signing_or_404(request: HttpRequest, pk: int, action: Action = Action.READ) -> Signing:
    events = SigningEvent.objects.select_related(
        "actor__account__staff", "actor__account__resident"
    ).order_by("at", "id")
    signing = (
        access.signings_visible_to(request.user)
        .select_related(
            "resident__committee",
            "family_doctor",
            "team",
            "centre",
            "district_hospital",
            "municipal_hospital",
            "specialist",
            "package",
            "consent",
            "previous",
        )
        .prefetch_related(Prefetch("events", queryset=events), "successors")
        .filter(pk=pk)
        .first()
    )
    if signing is None:
        resident_id = Signing.objects.filter(pk=pk).values_list("resident_id", flat=True).first()
        record(
            request=request,
            action=action,
            resource_type="signing",
            resource_id=pk,
            resident_id=resident_id,
            outcome=Outcome.DENIED,
        )
        raise Http404
    return signing


def _doctor_choices(request: HttpRequest, signing: Signing) -> list[Staff]:
    return list(
        access.family_doctors_assignable_by(request.user)
        .filter(is_registered_gp=True, active=True)
        .exclude(pk=signing.family_doctor_id)
        .order_by("name", "code")
    )


@dataclass(frozen=True, slots=True)
class EventRow:
    event: SigningEvent
    actor_name: str


def _events(signing: Signing) -> list[EventRow]:
    """The signing's events with the name of who made each change (a staff member's or resident's)."""
    return [
        EventRow(event, display_name(event.actor, access.account_of(event.actor)) if event.actor else "")
        for event in signing.events.all()
    ]


def _detail_context(
    request: HttpRequest, signing: Signing, error: str = "", done: str = ""
) -> dict[str, Any]:
    editable = access.signings_editable_by(request.user).filter(pk=signing.pk).exists()
    active = signing.status == SigningStatus.ACTIVE
    successor = next(iter(signing.successors.all()), None)
    return {
        "signing": signing,
        "resident": signing.resident,
        "events": _events(signing),
        "successor": successor,
        "can_confirm": editable and signing.status == SigningStatus.PENDING,
        "can_terminate": editable and active,
        "can_switch_now": editable and active and successor is None,
        # Renewal opens a month before the end; earlier the buttons would only be refused.
        "can_renew": editable
        and signing.status in (SigningStatus.ACTIVE, SigningStatus.EXPIRED)
        and successor is None
        and rules.renewal_due(signing.ends_on, timezone.localdate()),
        "termination_reasons": [(r.value, lang_label(r.label)) for r in TerminationReason],
        "doctors": _doctor_choices(request, signing) if editable else [],
        "error": error,
        "done": done,
    }


@signing_page
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    signing = _signing_or_404(request, pk)
    record(
        request=request,
        action=Action.READ,
        resource_type="signing",
        resource_id=signing.pk,
        resident_id=signing.resident_id,
    )
    return render(request, "signing/detail.html", _detail_context(request, signing))


def _answer(request: HttpRequest, signing: Signing, error: str = "", done: str = "") -> HttpResponse:
    """The refreshed signing panel (htmx) or the whole page; a refused change answers 422."""
    fresh = _signing_or_404(request, signing.pk)
    context = _detail_context(request, fresh, error=error, done=done)
    template = "signing/_signing.html" if _is_htmx(request) else "signing/detail.html"
    response = render(request, template, context, status=422 if error else 200)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _errors(exc: services.SigningValidationError) -> str:
    return "; ".join(message for _name, message in exc.errors)


def _redirect_to(request: HttpRequest, signing: Signing) -> HttpResponse:
    """To the signing that continues this one: htmx follows HX-Redirect, a plain form a 303."""
    target = reverse("signing:detail", args=[signing.pk])
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    response = HttpResponse(status=303)
    response["Location"] = target
    return response


@signing_page
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Confirm, decline, terminate, renew, switch doctor at renewal or now, through the signing services."""
    signing = _signing_or_404(request, pk, Action.UPDATE)
    if not access.signings_editable_by(request.user).filter(pk=pk).exists():
        raise Http404
    post = request.POST
    try:
        if action == "confirm":
            services.do_confirm_signing(request.user, signing, request)
            done = _("The signing is confirmed.")
        elif action == "decline":
            services.do_decline_signing(request.user, signing, post.get("reason", ""), request)
            done = _("The signing is declined.")
        elif action == "terminate":
            services.do_terminate_signing(
                request.user,
                signing,
                post.get("reason", ""),
                note=post.get("note", ""),
                request=request,
            )
            done = _("The signing is terminated.")
        elif action == "switch_now":
            doctor = _pick_by_id(_doctor_choices(request, signing), post.get("family_doctor"))
            if doctor is None:
                return _answer(request, signing, error=_("Choose a family doctor of your centre."))
            new = services.do_switch_doctor(
                request.user, signing, doctor, post.get("reason", ""), request=request
            )
            return _redirect_to(request, new)
        elif action in ("renew", "switch"):
            doctor = None
            if action == "switch":
                doctor = _pick_by_id(_doctor_choices(request, signing), post.get("family_doctor"))
                if doctor is None:
                    return _answer(request, signing, error=_("Choose a family doctor of your centre."))
            new = services.do_renew_signing(
                request.user,
                signing,
                family_doctor=doctor,
                switch_reason=post.get("switch_reason", ""),
                request=request,
            )
            return _redirect_to(request, new)
        else:
            raise Http404
    except services.SigningValidationError as exc:
        return _answer(request, signing, error=_errors(exc))
    except (services.SigningStateError, services.SigningConflict) as exc:
        return _answer(request, signing, error=str(exc))
    return _answer(request, signing, done=done)


# The centre manager's overview -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoctorLoad:
    doctor: Staff
    team_name: str
    active: int
    pending: int
    capacity: int

    @property
    def over(self) -> bool:
        return self.active > self.capacity

    @property
    def percent(self) -> int:
        return round(100 * self.active / self.capacity) if self.capacity else 0


@dataclass(frozen=True, slots=True)
class CommitteeCoverage:
    committee: Place
    residents: int
    signed: int

    @property
    def percent(self) -> float:
        return round(100 * self.signed / self.residents, 1) if self.residents else 0.0


def doctor_loads(user: Any) -> list[DoctorLoad]:
    signings = access.signings_visible_to(user)
    counts: dict[tuple[int, str], int] = {
        (row["family_doctor"], row["status"]): row["n"]
        for row in signings.filter(status__in=OPEN_STATUSES)
        .values("family_doctor", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    loads = []
    doctors = access.family_doctors_of_centre(user).order_by("name", "code")
    for doctor in doctors:
        team = services.team_of(doctor)
        loads.append(
            DoctorLoad(
                doctor=doctor,
                team_name=team.name if team is not None else "–",
                active=counts.get((doctor.pk, SigningStatus.ACTIVE), 0),
                pending=counts.get((doctor.pk, SigningStatus.PENDING), 0),
                capacity=team.panel_capacity if team is not None else 0,
            )
        )
    return loads


def committee_coverage(user: Any) -> list[CommitteeCoverage]:
    """Signed 常住 residents / 常住 residents per committee the centre is responsible for."""
    committees = access.committees_in_scope(user).filter(level=PlaceLevel.COMMITTEE).order_by("code")
    living = Q(residents__is_resident=True, residents__date_of_death__isnull=True)
    signed = living & Q(residents__signings__status__in=OPEN_STATUSES)
    rows = committees.annotate(
        n_residents=Count("residents", filter=living, distinct=True),
        n_signed=Count("residents", filter=signed, distinct=True),
    )
    return [CommitteeCoverage(c, c.n_residents, c.n_signed) for c in rows]


@manager_page
@require_GET
def centre(request: HttpRequest) -> HttpResponse:
    loads = doctor_loads(request.user)
    coverage = committee_coverage(request.user)
    residents = sum(c.residents for c in coverage)
    signed = sum(c.signed for c in coverage)
    record(request=request, action=Action.READ, resource_type="signing_load")
    return render(
        request,
        "signing/centre.html",
        {
            "loads": loads,
            "over": [load for load in loads if load.over],
            "coverage": coverage,
            "total_residents": residents,
            "total_signed": signed,
            "total_percent": round(100 * signed / residents, 1) if residents else 0.0,
        },
    )


@manager_page
@require_http_methods(["GET", "POST"])
def transfer(request: HttpRequest) -> HttpResponse:
    """Move a departing doctor's panel to colleagues: preview first, then apply the same choice."""
    doctors = list(access.family_doctors_of_centre(request.user).order_by("name", "code"))
    by_id = {d.pk: d for d in doctors}
    context: dict[str, Any] = {"doctors": doctors, "from_id": None, "to_ids": []}
    if request.method == "POST":
        from_raw = request.POST.get("from_doctor", "")
        to_raw = request.POST.getlist("to_doctors")
        from_doctor = by_id.get(int(from_raw)) if from_raw.isdigit() else None
        to_doctors = [by_id[int(v)] for v in to_raw if v.isdigit() and int(v) in by_id]
        context.update(from_id=from_doctor.pk if from_doctor else None, to_ids=[d.pk for d in to_doctors])
        if from_doctor is None:
            context["error"] = _("Choose the departing family doctor.")
        else:
            apply = request.POST.get("apply") == "1"
            try:
                plan = services.do_transfer_panel(
                    request.user, from_doctor, to_doctors, preview=not apply, request=request
                )
            except services.SigningValidationError as exc:
                context["error"] = _errors(exc)
            else:
                per_doctor = {d.pk: 0 for d in to_doctors}
                for assignment in plan.assignments:
                    per_doctor[assignment.to_doctor_id] += 1
                context["plan"] = plan
                context["receivers"] = [
                    {
                        "doctor": d,
                        "taking": per_doctor[d.pk],
                        "panel": plan.panel_sizes[d.pk],
                        "over": d.pk in plan.over_capacity,
                    }
                    for d in to_doctors
                ]
                context["from_doctor"] = from_doctor
    template = "signing/_transfer_result.html" if _is_htmx(request) else "signing/transfer.html"
    return render(request, template, context)


# Online and counter signing ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoctorChoice:
    doctor: Staff
    team_name: str
    panel: int
    capacity: int

    @property
    def full(self) -> bool:
        return self.panel >= self.capacity


def _centres_near(resident: Resident) -> list[Institution]:
    """The district's community health centres, the resident's own responsible centre first, then by
    distance from the resident's committee."""
    district = services.district_of(resident)
    centres = list(
        Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE, place__parent=district)
    )
    committee = resident.committee
    own = committee.responsible_centre_id if committee is not None else None
    lat = committee.centroid_lat if committee is not None and committee.centroid_lat is not None else 0.0
    lon = committee.centroid_lon if committee is not None and committee.centroid_lon is not None else 0.0
    centres.sort(key=lambda c: (c.pk != own, ((c.lat or 0.0) - lat) ** 2 + ((c.lon or 0.0) - lon) ** 2))
    return centres


def _doctor_choices_at(doctors: QuerySet[Staff]) -> list[DoctorChoice]:
    doctors = doctors.filter(is_registered_gp=True, active=True).order_by("name", "code")
    panels = dict(
        Signing.objects.filter(family_doctor__in=doctors, status__in=OPEN_STATUSES)
        .values_list("family_doctor")
        .annotate(n=Count("id"))
        .order_by()
    )
    choices = []
    for doctor in doctors:
        team = services.team_of(doctor)
        if team is None:
            continue
        choices.append(DoctorChoice(doctor, team.name, panels.get(doctor.pk, 0), team.panel_capacity))
    return choices


def _packages_for(resident: Resident) -> list[ServicePackage]:
    """This year's packages a resident can sign alone, online or at the counter."""
    district = services.district_of(resident)
    return list(
        ServicePackage.objects.filter(
            district=district,
            year=timezone.localdate().year,
            active=True,
            kind__in=[PackageKind.BASIC, PackageKind.EXTENDED],
        ).order_by("price", "code")
    )


def _hospitals(kinds: list[str]) -> list[Institution]:
    return list(Institution.objects.filter(kind__in=kinds).order_by("name"))


def _pick_by_id(items: list[Any], raw: str | None) -> Any:
    if not raw or not raw.isdigit():
        return None
    return next((item for item in items if item.pk == int(raw)), None)


def _signing_form(
    request: HttpRequest,
    resident: Resident,
    doctors: list[DoctorChoice],
    *,
    channel: str,
    template: str,
    extra: dict[str, Any],
) -> HttpResponse:
    """Show the signing form, or on POST record both consents and create the pending signing."""
    packages = _packages_for(resident)
    district_hospitals = _hospitals(
        [InstitutionKind.DISTRICT_HOSPITAL, InstitutionKind.REGIONAL_MEDICAL_CENTRE]
    )
    municipal_hospitals = _hospitals([InstitutionKind.MUNICIPAL_HOSPITAL])
    context: dict[str, Any] = {
        "resident": resident,
        "doctors": doctors,
        "packages": packages,
        "district_hospitals": district_hospitals,
        "municipal_hospitals": municipal_hospitals,
        "texts": consent.TEXTS,
        "open_signing": services.open_signing_of(resident),
        "errors": [],
        "chosen": request.POST if request.method == "POST" else {},
        **extra,
    }
    if request.method != "POST" or context["open_signing"] is not None:
        return render(request, template, context)
    post = request.POST
    doctor_id = post.get("family_doctor", "")
    chosen = next((c for c in doctors if doctor_id.isdigit() and c.doctor.pk == int(doctor_id)), None)
    package = _pick_by_id(packages, post.get("package"))
    errors: list[str] = []
    if chosen is None:
        errors.append(_("Choose a family doctor."))
    if package is None:
        errors.append(_("Choose a service package."))
    if post.get("accept_signing") != "1" or post.get("accept_sensitive") != "1":
        errors.append(_("Both consents must be read and accepted to sign."))
    if errors or chosen is None or package is None:
        context["errors"] = errors
        return render(request, template, context, status=422)
    terms = services.SigningTerms(
        family_doctor=chosen.doctor,
        package=package,
        channel=channel,
        district_hospital=_pick_by_id(district_hospitals, post.get("district_hospital")),
        municipal_hospital=_pick_by_id(municipal_hospitals, post.get("municipal_hospital")),
    )
    try:
        with transaction.atomic():
            given = None
            for text in consent.TEXTS:
                recorded = services.do_record_consent(
                    request.user, resident, kind=text.kind, text_version=text.version, request=request
                )
                if text.kind == ConsentKind.SIGNING:
                    given = recorded
            signing = services.do_create_signing(
                request.user, resident, terms, consent=given, request=request
            )
    except services.SigningValidationError as exc:
        context["errors"] = [message for _name, message in exc.errors]
        return render(request, template, context, status=422)
    except services.SigningConflict as exc:
        context["errors"] = [str(exc)]
        return render(request, template, context, status=409)
    context["open_signing"] = signing
    context["just_signed"] = True
    return render(request, template, context)


def _last_declined(resident: Resident) -> SigningEvent | None:
    """The team's answer to the resident's latest application when it was a refusal, so the resident
    reads the reason where they apply again (the same text goes out as a message)."""
    latest = SigningEvent.objects.filter(signing__resident=resident).order_by("-at", "-id").first()
    if latest is None or latest.to_status != SigningStatus.DECLINED:
        return None
    return latest


@login_required
@require_http_methods(["GET", "POST"])
def online(request: HttpRequest) -> HttpResponse:
    """A resident signs online: doctor at a nearby centre, optional hospitals, package, consents."""
    resident = access.online_signing_resident(request.user)
    if resident is None:
        raise Http404
    centres = _centres_near(resident)
    centre = _pick_by_id(centres, request.POST.get("centre") or request.GET.get("centre"))
    centre = centre or (centres[0] if centres else None)
    doctors = (
        _doctor_choices_at(Staff.objects.filter(Q(institution=centre) | Q(institution__parent=centre)))
        if centre is not None
        else []
    )
    response = _signing_form(
        request,
        resident,
        doctors,
        channel=SigningChannel.ONLINE,
        template="signing/online.html",
        extra={"centres": centres, "centre": centre, "declined": _last_declined(resident)},
    )
    response["Cache-Control"] = "no-store"
    return response


@signing_page
@require_http_methods(["GET", "POST"])
def counter(request: HttpRequest, pk: int) -> HttpResponse:
    """A team member signs a resident at the counter, recording the same consents on their behalf."""
    resident = access.residents_signable_by(request.user).select_related("committee").filter(pk=pk).first()
    if resident is None:
        record(
            request=request,
            action=Action.CREATE,
            resource_type="signing",
            resident_id=None,
            detail={"resident": pk},
            outcome=Outcome.DENIED,
        )
        raise Http404
    doctors = _doctor_choices_at(access.family_doctors_assignable_by(request.user))
    return _signing_form(
        request, resident, doctors, channel=SigningChannel.COUNTER, template="signing/counter.html", extra={}
    )
