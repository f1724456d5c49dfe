"""Who accessed a resident's record: for the resident (PIPL art. 45) and their centre manager.

Rows show the accessing role, institution, action and time, never other residents' data or the
free-text detail of an entry. Reading the list is itself audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jiayi import access
from jiayi.audit import break_glass as glass
from jiayi.audit.models import Action, AuditEntry, BreakGlass, Outcome, Review
from jiayi.audit.services import record
from jiayi.registry.choices import Role
from jiayi.registry.identity import mask_name
from jiayi.registry.models import Resident

PAGE_SIZE = 50
# Login bookkeeping and purge markers never carry a resident; listed here for clarity of intent.
_SHOWN_ACTIONS = [
    Action.READ,
    Action.SEARCH,
    Action.CREATE,
    Action.UPDATE,
    Action.DELETE,
    Action.EXPORT,
    Action.REVEAL,
    Action.GENERATE,
    Action.BREAK_GLASS,
]


@dataclass(frozen=True, slots=True)
class AccessRow:
    at: datetime
    role: str
    institution: str
    action: str
    outcome: str
    denied: bool


def _institution_name(entry: AuditEntry) -> str:
    account = getattr(entry.actor, "account", None) if entry.actor is not None else None
    if account is None:
        return ""
    institution = account.institution or (account.staff.institution if account.staff else None)
    return institution.name if institution is not None else ""


def _rows(entries: QuerySet[AuditEntry]) -> list[AccessRow]:
    rows = []
    for entry in entries:
        role = Role(entry.actor_role).label if entry.actor_role in Role.values else entry.actor_role
        rows.append(
            AccessRow(
                at=entry.at,
                role=str(role),
                institution=_institution_name(entry),
                action=str(Action(entry.action).label),
                outcome=str(Outcome(entry.outcome).label),
                denied=entry.outcome == Outcome.DENIED,
            )
        )
    return rows


def _render(request: HttpRequest, resident: Resident, *, own: bool) -> HttpResponse:
    entries = (
        AuditEntry.objects.filter(resident_id=resident.pk, action__in=_SHOWN_ACTIONS)
        .select_related("actor__account__institution", "actor__account__staff__institution")
        .order_by("-id")
    )
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    # Rows first: this read is audited too, and shows up on the next visit, not in this page's count.
    rows = _rows(page.object_list)  # type: ignore[arg-type]
    record(
        request=request,
        action=Action.READ,
        resource_type="access_log",
        resource_id=resident.pk,
        resident_id=resident.pk,
    )
    return render(
        request,
        "audit/access_log.html",
        {"resident": resident, "own": own, "page": page, "rows": rows},
    )


@login_required
def my_access_log(request: HttpRequest) -> HttpResponse:
    resident = access.own_access_log(request.user)
    if resident is None:
        raise Http404
    return _render(request, resident, own=True)


@login_required
def resident_access_log(request: HttpRequest, pk: int) -> HttpResponse:
    resident = access.access_logs_visible_to(request.user).filter(pk=pk).first()
    if resident is None:
        record(
            request=request,
            action=Action.READ,
            outcome=Outcome.DENIED,
            resource_type="access_log",
            resource_id=pk,
        )
        raise Http404
    return _render(request, resident, own=False)


# Break-glass (紧急访问) -----------------------------------------------------------------------------------

REVIEW_PAGE_SIZE = 50


def _mask(grants: Any) -> None:
    """Names in these lists are masked like every other list of residents."""
    for grant in grants:
        grant.masked_name = mask_name(grant.resident.name)


def _break_glass_page(
    request: HttpRequest,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    own: list[BreakGlass] = []
    if access.can_break_glass(user) and isinstance(user, User):
        own = list(
            BreakGlass.objects.filter(user=user).select_related("resident").order_by("-started_at")[:20]
        )
    queue = None
    if access.can_review_break_glass(user):
        grants = (
            access.break_glass_reviewable_by(user)
            .select_related("resident", "user__account__staff", "reviewed_by")
            .order_by("review", "-started_at")
        )
        queue = Paginator(grants, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
        _mask(queue.object_list)
    _mask(own)
    return render(
        request,
        "audit/break_glass.html",
        {
            "can_open": access.can_break_glass(user),
            "own": own,
            "queue": queue,
            "errors": errors or {},
            "values": values or {},
            "hours": int(glass.window().total_seconds() // 3600),
            "now": timezone.now(),
            "pending": Review.PENDING,
        },
        status=status,
    )


@login_required
def break_glass(request: HttpRequest) -> HttpResponse:
    """Clinicians open an out-of-scope record here with a reason; the centre manager reviews."""
    if not access.can_open_break_glass_page(request.user):
        raise Http404
    if request.method != "POST":
        return _break_glass_page(request)
    values = {"identifier": request.POST.get("identifier", ""), "reason": request.POST.get("reason", "")}
    try:
        grant = glass.open_break_glass(
            request=request, user=request.user, identifier=values["identifier"], reason=values["reason"]
        )
    except glass.BreakGlassError as error:
        # The identifier is not echoed back: it may be a citizen ID.
        return _break_glass_page(
            request, errors={error.field: error.message}, values={"reason": values["reason"]}, status=400
        )
    return redirect(reverse("records:account", args=[grant.resident_id]))


@login_required
@require_POST
def review_break_glass(request: HttpRequest, pk: int) -> HttpResponse:
    grant = access.break_glass_reviewable_by(request.user).filter(pk=pk).first()
    if grant is None:
        record(
            request=request,
            action=Action.REVIEW,
            outcome=Outcome.DENIED,
            resource_type="break_glass",
            resource_id=pk,
        )
        raise Http404
    try:
        glass.review_break_glass(
            request=request,
            user=request.user,
            grant=grant,
            decision=request.POST.get("decision", ""),
            note=request.POST.get("note", ""),
        )
    except glass.BreakGlassError as error:
        return _break_glass_page(request, errors={"review": error.message}, status=400)
    return redirect(reverse("audit:break_glass"))


# A resident's copy of their own data (PIPL art. 45) ----------------------------------------------------


@login_required
def my_data_download(request: HttpRequest) -> HttpResponse:
    """The resident's whole health account as a FHIR R4 Bundle file. The citizen ID and phone stay masked
    as in every other response: the file may be forwarded, and the resident knows both."""
    from jiayi.records import fhir_out

    resident = access.own_access_log(request.user)
    if resident is None:
        raise Http404
    with transaction.atomic():
        bundle = fhir_out.patient_everything(resident)
        record(
            request=request,
            action=Action.EXPORT,
            resource_type="health_account",
            resource_id=resident.pk,
            resident_id=resident.pk,
            purpose="own data download",
            detail={"format": "fhir", "entries": len(bundle.get("entry", []))},
        )
    response = JsonResponse(bundle, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = (
        f'attachment; filename="jiayi-my-health-record-{timezone.now():%Y%m%d}.json"'
    )
    response["Cache-Control"] = "no-store"
    return response
