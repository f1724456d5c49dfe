"""Who accessed a resident's record: for the resident (PIPL art. 45) and their centre manager.

Rows show the accessing role, institution, action and time, never other residents' data or the
free-text detail of an entry. Reading the list is itself audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from jiayi import access
from jiayi.audit.models import Action, AuditEntry, Outcome
from jiayi.audit.services import record
from jiayi.registry.choices import Role
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
