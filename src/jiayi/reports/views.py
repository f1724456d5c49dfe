"""Report pages: request a report, follow its generation, download its files from the archive."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.reports import services, tasks, writers
from jiayi.reports.kinds import KINDS, ReportKind, due_on
from jiayi.reports.models import IssuedReport, ReportStatus
from jiayi.web.guards import page_guard

# Report pages are for analysts and centre managers; anyone else gets a 404.
report_page = page_guard(access.can_issue_reports, audit_as="report", audit_id_from=None, no_store=False)


def _report_or_404(request: HttpRequest, pk: int) -> IssuedReport:
    report = access.issued_reports_visible_to(request.user).filter(pk=pk).first()
    if report is None:
        record(
            request=request,
            action=Action.READ,
            resource_type="report",
            resource_id=pk,
            outcome=Outcome.DENIED,
        )
        raise Http404
    return report


def _int_or_none(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _kinds() -> list[dict[str, Any]]:
    year = timezone.localdate().year - 1
    return [
        {
            "value": kind.value,
            "title": KINDS[kind].title,
            "due": KINDS[kind].due,
            "due_on": due_on(kind, year, 4),
        }
        for kind in ReportKind
    ]


@report_page
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """Request a report for a scope and period; below, the archive of issued reports."""
    scopes = access.report_scopes_of(request.user)
    today = timezone.localdate()
    errors: list[str] = []
    if request.method == "POST":
        post = request.POST
        scope_key = post.get("scope", "")
        chosen = next((s for s in scopes if f"{s[0]}:{s[1]}" == scope_key), None)
        year = _int_or_none(post.get("year"))
        if chosen is None:
            errors.append(_("Choose a scope you may report on."))
        elif year is None:
            errors.append(_("year: enter a year, e.g. 2025"))
        else:
            try:
                with transaction.atomic():
                    report = services.do_request_report(
                        request.user,
                        kind=post.get("kind", ""),
                        year=year,
                        quarter=_int_or_none(post.get("quarter")),
                        scope=services.scope_of(chosen[0], chosen[1]),
                        formats=post.getlist("formats"),
                        budget=post.get("budget") or None,
                        request=request,
                    )
                    report_id = report.pk
                    transaction.on_commit(lambda: tasks.generate_report.enqueue(report_id))
            except services.ReportRequestError as exc:
                errors += [f"{name}: {message}" for name, message in exc.errors]
            else:
                return redirect("reports:detail", pk=report.pk)
    reports = access.issued_reports_visible_to(request.user).select_related("requested_by")[:50]
    return render(
        request,
        "reports/index.html",
        {
            "kinds": _kinds(),
            "scopes": [{"key": f"{lvl}:{pk}", "name": name, "level": lvl} for lvl, pk, name in scopes],
            "years": list(range(today.year, today.year - 6, -1)),
            "formats": writers.FORMATS,
            "reports": reports,
            "errors": errors,
            "posted": request.POST if request.method == "POST" else None,
        },
        status=422 if errors else 200,
    )


@report_page
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report_or_404(request, pk)
    record(request=request, action=Action.READ, resource_type="report", resource_id=report.pk)
    return render(request, "reports/detail.html", {"report": report, "files": report.files.defer("content")})


@report_page
@require_GET
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment the detail page polls while the report is being generated."""
    report = _report_or_404(request, pk)
    response = render(
        request, "reports/_progress.html", {"report": report, "files": report.files.defer("content")}
    )
    if report.status in (ReportStatus.DONE, ReportStatus.FAILED):
        response["HX-Trigger"] = "report-finished"
    return response


@report_page
@require_GET
def download(request: HttpRequest, pk: int, file_format: str) -> HttpResponse:
    report = _report_or_404(request, pk)
    file = report.files.filter(file_format=file_format).first()
    if file is None:
        raise Http404
    record(
        request=request,
        action=Action.EXPORT,
        resource_type="report",
        resource_id=report.pk,
        detail={"format": file_format, "sha256": file.sha256},
    )
    response = HttpResponse(bytes(file.content), content_type=writers.CONTENT_TYPES[file_format])
    quarter = f"-Q{report.quarter}" if report.quarter else ""
    name = f"{report.kind}-{report.year}{quarter}-{report.pk}.{file_format}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
