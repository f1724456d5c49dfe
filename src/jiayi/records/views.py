"""Health-account pages: a resident's timeline (filtered by type and source), blood-pressure and glucose
trends, latest values, problems and medicines, each entry with its source; and the same account for the
resident themself at /me/health/, in plain language.

Scoped through jiayi.access: a resident outside the user's scope answers 404 like one that does not
exist, and is audited as denied. Every view of an account is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.records.choices import MedicationStatus, ObservationCode
from jiayi.records.models import (
    ClinicalEntry,
    Condition,
    ElderlyExam,
    Encounter,
    Medication,
    Observation,
    SchoolHealthCheck,
)
from jiayi.registry.models import Resident
from jiayi.web.templatetags.jiayi_tags import lang_label

TIMELINE_LIMIT = 300  # most recent entries shown; the FHIR export carries the whole account
LATEST_CODES = (
    ObservationCode.SYSTOLIC_BP,
    ObservationCode.DIASTOLIC_BP,
    ObservationCode.FASTING_GLUCOSE,
    ObservationCode.RANDOM_GLUCOSE,
    ObservationCode.HBA1C,
    ObservationCode.WEIGHT,
    ObservationCode.BMI,
    ObservationCode.HEART_RATE,
)
TREND_CODES = (
    ObservationCode.SYSTOLIC_BP,
    ObservationCode.DIASTOLIC_BP,
    ObservationCode.FASTING_GLUCOSE,
    ObservationCode.RANDOM_GLUCOSE,
)
KINDS: dict[str, Any] = {
    "encounter": gettext_lazy("Visits"),
    "condition": gettext_lazy("Diagnoses"),
    "observation": gettext_lazy("Measurements"),
    "medication": gettext_lazy("Medicines"),
    "exam": gettext_lazy("65+ health checks"),
    "school": gettext_lazy("School checks"),
}
# Plain-language names for the resident's own page.
PLAIN_NAMES: dict[str, Any] = {
    ObservationCode.SYSTOLIC_BP: gettext_lazy("Blood pressure, upper number"),
    ObservationCode.DIASTOLIC_BP: gettext_lazy("Blood pressure, lower number"),
    ObservationCode.FASTING_GLUCOSE: gettext_lazy("Blood sugar before breakfast"),
    ObservationCode.RANDOM_GLUCOSE: gettext_lazy("Blood sugar"),
    ObservationCode.HBA1C: gettext_lazy("Average blood sugar (HbA1c)"),
    ObservationCode.WEIGHT: gettext_lazy("Weight"),
    ObservationCode.BMI: gettext_lazy("Body mass index"),
    ObservationCode.HEART_RATE: gettext_lazy("Pulse"),
}


# UCUM codes as people write them: the stored unit stays UCUM, the page shows the familiar spelling.
DISPLAY_UNITS = {"mm[Hg]": "mmHg", "Cel": "°C", "kg/m2": "kg/m²"}


def display_unit(unit: str) -> str:
    return DISPLAY_UNITS.get(unit, unit)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    when: datetime | date
    kind: str
    kind_label: str
    title: str
    detail: str
    source: str


def _source(entry: ClinicalEntry) -> str:
    return f"{entry.institution.name} · {entry.source_system}"


def _label(choice: Any) -> str:
    """A "中文 English" choice label in the page's language."""
    return lang_label(choice)


def _observation_name(code: str, plain: bool) -> str:
    if plain and code in PLAIN_NAMES:
        return str(PLAIN_NAMES[code])
    return _label(ObservationCode(code).label)


def timeline(
    resident: Resident,
    kind: str = "",
    source: str = "",
    *,
    plain: bool = False,
    conditions: Sequence[Condition] | None = None,
) -> list[TimelineEntry]:
    """The account's entries, newest first, each naming its source. `conditions`, when given, are all
    the resident's diagnoses newest first (as the page's problem list already holds them), saving a query."""
    entries: list[TimelineEntry] = []

    def scoped(queryset: Any) -> Any:
        queryset = queryset.filter(resident=resident).select_related("institution")
        return queryset.filter(source_system=source) if source else queryset

    if kind in ("", "encounter"):
        for visit in scoped(Encounter.objects).order_by("-start")[:TIMELINE_LIMIT]:
            title = _label(visit.get_type_display())
            entries.append(
                TimelineEntry(
                    visit.start, "encounter", str(KINDS["encounter"]), title, visit.department, _source(visit)
                )
            )
    if kind in ("", "condition"):
        if conditions is None:
            conditions = list(scoped(Condition.objects).order_by("-onset_date")[:TIMELINE_LIMIT])
        for condition in [c for c in conditions if not source or c.source_system == source][:TIMELINE_LIMIT]:
            when = condition.onset_date or condition.recorded_date or condition.received_at.date()
            title = f"{condition.display or condition.code} ({condition.code})"
            status = _label(condition.get_clinical_status_display())
            entries.append(
                TimelineEntry(when, "condition", str(KINDS["condition"]), title, status, _source(condition))
            )
    if kind in ("", "observation"):
        for reading in scoped(Observation.objects).order_by("-effective_at")[:TIMELINE_LIMIT]:
            title = (
                f"{_observation_name(reading.code, plain)}: {reading.value:g} {display_unit(reading.unit)}"
            )
            method = _label(reading.get_method_display())
            entries.append(
                TimelineEntry(
                    reading.effective_at,
                    "observation",
                    str(KINDS["observation"]),
                    title,
                    method,
                    _source(reading),
                )
            )
    if kind in ("", "medication"):
        for medicine in scoped(Medication.objects).order_by("-effective_start", "-authored_at")[
            :TIMELINE_LIMIT
        ]:
            when = medicine.authored_at or medicine.effective_start or medicine.received_at
            status = _label(medicine.get_status_display())
            entries.append(
                TimelineEntry(
                    when,
                    "medication",
                    str(KINDS["medication"]),
                    medicine.medication_text,
                    f"{medicine.dosage_text} · {status}".strip(" ·"),
                    _source(medicine),
                )
            )
    if kind in ("", "exam"):
        for exam in scoped(ElderlyExam.objects).order_by("-exam_date")[:TIMELINE_LIMIT]:
            state = _("complete") if exam.is_complete else _("incomplete")
            entries.append(
                TimelineEntry(
                    exam.exam_date, "exam", str(KINDS["exam"]), _("Yearly health check"), state, _source(exam)
                )
            )
    if kind in ("", "school"):
        for check in scoped(SchoolHealthCheck.objects).order_by("-check_date")[:TIMELINE_LIMIT]:
            entries.append(
                TimelineEntry(
                    check.check_date,
                    "school",
                    str(KINDS["school"]),
                    _label(check.get_kind_display()),
                    check.grade,
                    _source(check),
                )
            )

    def moment(entry: TimelineEntry) -> datetime:
        if isinstance(entry.when, datetime):
            return entry.when
        return timezone.make_aware(datetime.combine(entry.when, datetime.min.time()))

    entries.sort(key=moment, reverse=True)
    return entries[:TIMELINE_LIMIT]


def latest_values(resident: Resident, *, plain: bool = False) -> list[dict[str, Any]]:
    """The newest reading of each of LATEST_CODES, in that order: one query (a window over the
    resident's readings of those codes, served by the (resident, code, effective_at) index)."""
    newest = (
        Observation.objects.filter(resident=resident, code__in=[c.value for c in LATEST_CODES])
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("code")], order_by=[F("effective_at").desc(), F("id").desc()]
            )
        )
        .filter(rank=1)
        .select_related("institution")
    )
    by_code = {reading.code: reading for reading in newest}
    latest = []
    for code in LATEST_CODES:
        reading = by_code.get(code.value)
        if reading is not None:
            latest.append(
                {
                    "name": _observation_name(code, plain),
                    "reading": reading,
                    "unit": display_unit(reading.unit),
                    "source": _source(reading),
                }
            )
    return latest


ENTRY_MODELS: tuple[type[ClinicalEntry], ...] = (
    Encounter,
    Condition,
    Observation,
    Medication,
    ElderlyExam,
    SchoolHealthCheck,
)


def _sources(resident: Resident) -> list[str]:
    """The systems the account's entries came from: one UNION query. The models' default ordering is
    cleared, or DISTINCT would be taken over the ordering columns too."""
    first, *rest = (
        model._default_manager.filter(resident=resident).order_by().values_list("source_system", flat=True)
        for model in ENTRY_MODELS
    )
    return sorted(set(first.union(*rest)))


def _account_context(resident: Resident, request: HttpRequest, *, plain: bool) -> dict[str, Any]:
    kind = request.GET.get("type", "")
    kind = kind if kind in KINDS else ""
    sources = _sources(resident)
    source = request.GET.get("source", "")
    source = source if source in sources else ""
    problems = list(
        Condition.objects.filter(resident=resident).select_related("institution").order_by("-onset_date")
    )
    return {
        "resident": resident,
        "entries": timeline(resident, kind, source, plain=plain, conditions=problems),
        "kinds": list(KINDS.items()),
        "kind": kind,
        "sources": sources,
        "source": source,
        "latest": latest_values(resident, plain=plain),
        "problems": problems,
        "medicines": Medication.objects.filter(resident=resident)
        .select_related("institution")
        .order_by("status", "-effective_start"),
        "active_status": MedicationStatus.ACTIVE.value,
        "plain": plain,
    }


def _resident_or_404(request: HttpRequest, pk: int, detail: dict[str, Any]) -> Resident:
    resident = access.health_accounts_visible_to(request.user).filter(pk=pk).first()
    if resident is None:
        record(
            request=request,
            action=Action.READ,
            resource_type="health_account",
            resource_id=pk,
            # Whether the resident exists shows in the log only, never in the answer.
            resident_id=pk if Resident.objects.filter(pk=pk).exists() else None,
            outcome=Outcome.DENIED,
            detail=detail,
        )
        raise Http404
    return resident


@login_required
@require_GET
def account(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _resident_or_404(request, pk, {"page": "account"})
    context = _account_context(resident, request, plain=False)
    record(
        request=request,
        action=Action.READ,
        resource_type="health_account",
        resource_id=resident.pk,
        resident_id=resident.pk,
        detail={"page": "account", "type": context["kind"], "source": context["source"]},
    )
    context["series_url"] = reverse("records:series", args=[resident.pk])
    return render(request, "records/account.html", context)


def _series(resident: Resident) -> dict[str, list[list[Any]]]:
    """Readings for the trend charts, oldest first: [ISO time, value] per code."""
    series: dict[str, list[list[Any]]] = {str(code.value): [] for code in TREND_CODES}
    readings = (
        Observation.objects.filter(resident=resident, code__in=[c.value for c in TREND_CODES])
        .order_by("effective_at", "id")
        .values_list("code", "effective_at", "value")
    )
    for code, when, value in readings:
        series[code].append([timezone.localtime(when).isoformat(), value])
    return series


@login_required
@require_GET
def series(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _resident_or_404(request, pk, {"page": "series"})
    record(
        request=request,
        action=Action.READ,
        resource_type="health_account",
        resource_id=resident.pk,
        resident_id=resident.pk,
        detail={"page": "series"},
    )
    return JsonResponse(_series(resident))


def _own_or_404(request: HttpRequest, page: str) -> Resident:
    resident = access.own_health_account(request.user)
    if resident is None:
        record(
            request=request,
            action=Action.READ,
            resource_type="health_account",
            outcome=Outcome.DENIED,
            detail={"page": page},
        )
        raise Http404
    record(
        request=request,
        action=Action.READ,
        resource_type="health_account",
        resource_id=resident.pk,
        resident_id=resident.pk,
        detail={"page": page},
    )
    return resident


@login_required
@require_GET
def me(request: HttpRequest) -> HttpResponse:
    resident = _own_or_404(request, "me")
    context = _account_context(resident, request, plain=True)
    context["series_url"] = reverse("records:my_series")
    return render(request, "records/me.html", context)


@login_required
@require_GET
def my_series(request: HttpRequest) -> HttpResponse:
    return JsonResponse(_series(_own_or_404(request, "my series")))
