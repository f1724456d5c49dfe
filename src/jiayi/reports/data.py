"""Reading what a report needs from the database: indicator rows from the engine for the report's scope
and its sub-units, centre scores for the comprehensive evaluation, and the period's activity counts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Avg
from django.utils import timezone

from jiayi.feedback.models import Answer
from jiayi.feedback.services import to_percent
from jiayi.indicators import engine
from jiayi.registry.choices import InstitutionKind, PlaceLevel
from jiayi.registry.models import Institution, Place, Staff, Team
from jiayi.reports import evaluation
from jiayi.reports.content import ReportInputs
from jiayi.reports.kinds import KINDS, ReportKind, period_end

Compute = Callable[..., list[dict[str, Any]]]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Scope:
    """Whom a report is about: a district (for the health commission) or one centre (for its manager)."""

    level: str  # "district" or "centre"
    unit_id: int
    name: str

    @property
    def sub_levels(self) -> tuple[str, ...]:
        return ("street", "centre") if self.level == "district" else ("team", "doctor")


def district_scope(place: Place) -> Scope:
    return Scope("district", place.pk, place.name)


def centre_scope(centre: Institution) -> Scope:
    return Scope("centre", centre.pk, centre.name)


def _sub_unit_ids(scope: Scope, level: str) -> set[int]:
    if level == "street":
        return set(
            Place.objects.filter(parent_id=scope.unit_id, level=PlaceLevel.SUB_DISTRICT).values_list(
                "id", flat=True
            )
        )
    if level == "centre":
        return set(centres_of_district(scope.unit_id).values_list("id", flat=True))
    if level == "team":
        return set(Team.objects.filter(centre_id=scope.unit_id).values_list("id", flat=True))
    if level == "doctor":
        return set(
            Staff.objects.filter(teams__centre_id=scope.unit_id).values_list("id", flat=True).distinct()
        )
    raise ValueError(f"level: no sub-units of a {scope.level} at level {level!r}")


def centres_of_district(district_id: int) -> Any:
    return Institution.objects.filter(
        kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE, place__parent_id=district_id
    ).order_by("name")


def _period(kind: ReportKind) -> str:
    return "quarter" if kind == ReportKind.QUARTERLY_BRIEFING else "year"


def indicator_rows(
    scope: Scope,
    kind: ReportKind,
    as_of: date,
    *,
    compute: Compute = engine.compute,
    progress: Progress | None = None,
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The scope's own rows and, per sub-level, the rows of the units inside the scope."""
    spec = KINDS[kind]
    codes = sorted(set(spec.codes) | set(spec.breakdown_codes) | set(_scheme_codes(kind)))
    period = _period(kind)
    if progress:
        progress(f"indicators: {scope.level}")
    own = [
        row
        for row in compute(as_of, level=scope.level, codes=codes, period=period)
        if row["unit_id"] == scope.unit_id
    ]
    breakdowns: dict[str, list[dict[str, Any]]] = {}
    for level in scope.sub_levels:
        if progress:
            progress(f"indicators: {level}")
        inside = _sub_unit_ids(scope, level)
        wanted = set(spec.breakdown_codes) | (set(_scheme_codes(kind)) if level == "centre" else set())
        breakdowns[level] = [
            row
            for row in compute(as_of, level=level, codes=sorted(wanted), period=period)
            if row["unit_id"] in inside
        ]
    return own, breakdowns


def _scheme_codes(kind: ReportKind) -> list[str]:
    if kind != ReportKind.COMPREHENSIVE_EVALUATION:
        return []
    return [item.code for item in evaluation.DEFAULT_SCHEME.items if item.code != evaluation.SATISFACTION]


def satisfaction_by_centre(year: int) -> dict[int, float]:
    """Each centre's satisfaction in the year's surveys (all answers pooled), as a fraction of full marks."""
    rows = (
        Answer.objects.filter(response__survey__year=year)
        .values("response__centre_id")
        .annotate(mean=Avg("score"))
    )
    return {
        row["response__centre_id"]: to_percent(row["mean"]) / 100 for row in rows if row["mean"] is not None
    }


def centre_scores(
    centre_rows: Sequence[Mapping[str, Any]],
    names: Mapping[int, str],
    satisfaction: Mapping[int, float],
    scheme: evaluation.Scheme = evaluation.DEFAULT_SCHEME,
) -> list[evaluation.CentreScore]:
    values: dict[int, dict[str, float | None]] = {centre_id: {} for centre_id in names}
    for row in centre_rows:
        values.setdefault(int(row["unit_id"]), {})[str(row["code"])] = row.get("value")
    for centre_id in values:
        values[centre_id][evaluation.SATISFACTION] = satisfaction.get(centre_id)
    return evaluation.score_centres(scheme, values, names)


def activity(scope: Scope, start: date, end: date) -> dict[str, int]:
    """What the services did in the period, for the quarterly briefing."""
    from jiayi.care.models import Contact, FollowUp
    from jiayi.signing.models import Signing
    from jiayi.surveillance.models import Alert

    tz = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tz)
    until = datetime.combine(end + timedelta(days=1), time.min, tz)
    if scope.level == "district":
        residents = {"resident__committee__parent__parent_id": scope.unit_id}
    else:
        residents = {"resident__committee__responsible_centre_id": scope.unit_id}
    counts = {
        "新签约居民": Signing.objects.filter(
            starts_on__range=(start, end), status__in=("active", "expired"), **residents
        ).count(),
        "完成慢病随访人次": FollowUp.objects.filter(
            performed_on__range=(start, end), status="done", **residents
        ).count(),
        "主动联系签约居民人次": Contact.objects.filter(at__gte=since, at__lt=until, **residents).count(),
    }
    if scope.level == "district":
        counts["传染病预警信号"] = Alert.objects.filter(opened_on__range=(start, end)).count()
    return counts


def period_start(year: int, quarter: int | None) -> date:
    return date(year, 1, 1) if quarter is None else date(year, 3 * quarter - 2, 1)


def gather(
    kind: ReportKind,
    scope: Scope,
    year: int,
    quarter: int | None,
    as_of: date,
    *,
    budget: Decimal | None = None,
    compute: Compute = engine.compute,
    progress: Progress | None = None,
) -> ReportInputs:
    own, breakdowns = indicator_rows(scope, kind, as_of, compute=compute, progress=progress)
    scores: list[evaluation.CentreScore] = []
    funding: dict[int, Decimal] = {}
    if kind == ReportKind.COMPREHENSIVE_EVALUATION and scope.level == "district":
        if progress:
            progress("evaluation")
        names = dict(centres_of_district(scope.unit_id).values_list("id", "name"))
        scores = centre_scores(breakdowns.get("centre", []), names, satisfaction_by_centre(year))
        if budget is not None:
            funding = evaluation.allocate_funding(budget, scores)
            for score in scores:
                score.funding = funding[score.centre_id]
    counts: dict[str, int] = {}
    if kind == ReportKind.QUARTERLY_BRIEFING:
        counts = activity(scope, period_start(year, quarter), min(period_end(year, quarter), as_of))
    return ReportInputs(
        kind=kind,
        scope_level=scope.level,
        scope_name=scope.name,
        year=year,
        quarter=quarter,
        as_of=as_of,
        headline=own,
        breakdowns=breakdowns,
        scores=scores,
        budget=budget,
        funding=funding,
        activity=counts,
    )
