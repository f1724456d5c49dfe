"""Issuing reports: checking a request, generating the files with progress, keeping them in the archive."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.indicators import engine
from jiayi.registry.choices import InstitutionKind, PlaceLevel
from jiayi.registry.models import Institution, Place
from jiayi.reports import content, data, writers
from jiayi.reports.kinds import ReportKind, reference_date, reports_due
from jiayi.reports.models import IssuedReport, ReportFile, ReportStatus

FieldError = tuple[str, str]
EARLIEST_YEAR = 2015


class ReportRequestError(ValueError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors))
        self.errors = list(errors)


def check_request(
    *,
    kind: str,
    year: int,
    quarter: int | None,
    formats: Sequence[str],
    budget: str | Decimal | None,
    today: date,
) -> tuple[ReportKind, Decimal | None, list[str]]:
    """The request's kind, budget and formats, or every problem with it named by field."""
    errors: list[FieldError] = []
    try:
        report_kind = ReportKind(kind)
    except ValueError:
        errors.append(("kind", f"unknown report kind {kind!r}"))
        report_kind = ReportKind.SIGNING_ANALYSIS
    if not EARLIEST_YEAR <= year <= today.year:
        errors.append(("year", f"must be between {EARLIEST_YEAR} and {today.year}"))
    if report_kind == ReportKind.QUARTERLY_BRIEFING:
        if quarter not in (1, 2, 3, 4):
            errors.append(("quarter", "a quarterly briefing needs a quarter from 1 to 4"))
        elif year == today.year and (quarter - 1) * 3 + 1 > today.month:
            errors.append(("quarter", "that quarter has not started yet"))
    elif quarter is not None:
        errors.append(("quarter", "only the quarterly briefing has a quarter"))
    chosen = list(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in writers.FORMATS]
    if unknown:
        errors.append(("formats", f"unknown format {unknown[0]!r}; choose from {', '.join(writers.FORMATS)}"))
    if not chosen:
        errors.append(("formats", "choose at least one of pdf, docx, xlsx"))
    amount: Decimal | None = None
    if budget not in (None, ""):
        try:
            amount = Decimal(str(budget)).quantize(Decimal("0.01"))
        except InvalidOperation:
            errors.append(("budget", "must be an amount in yuan, e.g. 1200000.00"))
        else:
            if amount < 0 or amount >= Decimal("1e12"):
                errors.append(("budget", "must be between 0 and 999,999,999,999.99"))
            elif report_kind != ReportKind.COMPREHENSIVE_EVALUATION:
                errors.append(("budget", "only the comprehensive evaluation allocates funding"))
    if errors:
        raise ReportRequestError(errors)
    return report_kind, amount, chosen


def scope_of(level: str, unit_id: int) -> data.Scope:
    if level == "district":
        place = Place.objects.filter(pk=unit_id, level=PlaceLevel.DISTRICT).first()
        if place is None:
            raise ReportRequestError([("scope", f"no district {unit_id}")])
        return data.district_scope(place)
    if level == "centre":
        centre = Institution.objects.filter(pk=unit_id, kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE).first()
        if centre is None:
            raise ReportRequestError([("scope", f"no community health centre {unit_id}")])
        return data.centre_scope(centre)
    raise ReportRequestError([("scope", f"level must be district or centre, got {level!r}")])


def do_request_report(
    actor: Any,
    *,
    kind: str,
    year: int,
    quarter: int | None,
    scope: data.Scope,
    formats: Sequence[str],
    budget: str | Decimal | None = None,
    request: HttpRequest | None = None,
    today: date | None = None,
) -> IssuedReport:
    """Record a report request in the archive, queued; generation runs in a background task."""
    today = today or timezone.localdate()
    report_kind, amount, chosen = check_request(
        kind=kind, year=year, quarter=quarter, formats=formats, budget=budget, today=today
    )
    if report_kind == ReportKind.COMPREHENSIVE_EVALUATION and scope.level != "district":
        raise ReportRequestError([("scope", "the comprehensive evaluation compares a district's centres")])
    with transaction.atomic():
        report = IssuedReport.objects.create(
            kind=report_kind,
            year=year,
            quarter=quarter,
            scope_level=scope.level,
            scope_id=scope.unit_id,
            scope_name=scope.name,
            as_of=reference_date(year, quarter, today),
            formats=chosen,
            budget=amount,
            steps_total=_steps(scope, report_kind, chosen),
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            requested_at=timezone.now(),
        )
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="report",
            resource_id=report.pk,
            detail={"kind": report_kind.value, "year": year, "quarter": quarter, "scope": scope.level},
        )
    return report


def _steps(scope: data.Scope, kind: ReportKind, formats: Sequence[str]) -> int:
    evaluation_step = 1 if kind == ReportKind.COMPREHENSIVE_EVALUATION else 0
    return 1 + len(scope.sub_levels) + evaluation_step + len(formats)


StepCallback = Callable[[int, int, str], None]  # (steps done, steps in all, stage)


def _progress(report: IssuedReport, stage: str, on_step: StepCallback | None) -> None:
    """Advance the progress bar; written outside any transaction so the page sees it at once."""
    report.steps_done = min(report.steps_done + 1, report.steps_total)
    report.stage = stage[:60]
    IssuedReport.objects.filter(pk=report.pk).update(steps_done=report.steps_done, stage=report.stage)
    if on_step is not None:
        on_step(report.steps_done, report.steps_total, report.stage)


def generate(
    report_id: int, *, compute: data.Compute = engine.compute, on_step: StepCallback | None = None
) -> IssuedReport:
    """Build the report's content and write each requested file; on any failure the report is marked
    failed with the reason and no file of it is kept."""
    report = IssuedReport.objects.get(pk=report_id)
    if report.status == ReportStatus.DONE:
        return report  # a retried task must not issue the same report twice
    IssuedReport.objects.filter(pk=report.pk).update(status=ReportStatus.RUNNING, steps_done=0, stage="")
    report.steps_done = 0
    try:
        scope = data.Scope(report.scope_level, report.scope_id, report.scope_name)
        inputs = data.gather(
            ReportKind(report.kind),
            scope,
            report.year,
            report.quarter,
            report.as_of,
            budget=report.budget,
            compute=compute,
            progress=lambda stage: _progress(report, stage, on_step),
        )
        built = content.build_report(inputs)
        files: list[ReportFile] = []
        for file_format in report.formats:
            body = writers.write(built, file_format)
            files.append(
                ReportFile(
                    report=report,
                    file_format=file_format,
                    content=body,
                    size=len(body),
                    sha256=hashlib.sha256(body).hexdigest(),
                )
            )
            _progress(report, f"file: {file_format}", on_step)
        with transaction.atomic():
            ReportFile.objects.filter(report=report).delete()
            ReportFile.objects.bulk_create(files)
            IssuedReport.objects.filter(pk=report.pk).update(
                status=ReportStatus.DONE,
                steps_done=report.steps_total,
                stage="",
                finished_at=timezone.now(),
                error="",
            )
    except Exception as exc:
        IssuedReport.objects.filter(pk=report.pk).update(
            status=ReportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:300], finished_at=timezone.now()
        )
        raise
    report.refresh_from_db()
    return report


def do_issue_due_reports(today: date | None = None) -> list[IssuedReport]:
    """Queue every report due today for every district that has not got it yet (issued, or on its way);
    for a daily scheduler. Returns the reports queued."""
    today = today or timezone.localdate()
    queued: list[IssuedReport] = []
    for district in Place.objects.filter(level=PlaceLevel.DISTRICT).order_by("code"):
        scope = data.district_scope(district)
        for kind, year, quarter in reports_due(today):
            exists = IssuedReport.objects.filter(
                kind=kind,
                year=year,
                quarter=quarter,
                scope_level=scope.level,
                scope_id=scope.unit_id,
                status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING, ReportStatus.DONE),
            ).exists()
            if not exists:
                queued.append(
                    do_request_report(
                        None,
                        kind=kind,
                        year=year,
                        quarter=quarter,
                        scope=scope,
                        formats=list(writers.FORMATS),
                        today=today,
                    )
                )
    return queued
