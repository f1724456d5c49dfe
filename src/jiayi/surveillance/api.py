"""The surveillance REST API: sentinel counts, case reports and lab results in bulk, series, alerts and
their workflow.

Units and alerts outside the user's scope answer 404, like ones that do not exist; only CDC officers
submit counts and move alerts on. A rejected batch of counts writes nothing and names every bad row
and field.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status

from jiayi import access
from jiayi.registry import tokens
from jiayi.registry.schemas import Message
from jiayi.surveillance import services
from jiayi.surveillance.models import Alert, AlertState, Syndrome

SURVEILLANCE = "surveillance"
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": SURVEILLANCE,
        "description": "Infectious-disease early warning (传染病监测预警) under /api/surveillance: daily "
        "sentinel counts (a changed count is a new revision), series with detector thresholds, and "
        "alerts with their workflow signal → assigned → verified/dismissed → response → closed.",
    }
]

router = Router(auth=tokens.api_auth(), tags=[SURVEILLANCE])
NOT_FOUND = {"detail": "Not Found"}


class CountsIn(Schema):
    # Rows stay loose here so that every problem is reported by row and field, not one pydantic error.
    rows: list[dict[str, Any]]


class RowErrorOut(Schema):
    row: int
    field: str
    message: str


class RowErrors(Schema):
    detail: list[RowErrorOut]


class IngestOut(Schema):
    created: int
    revised: int
    unchanged: int
    redetected: list[list[str]]


class PointOut(Schema):
    date: date
    count: int
    expected: float | None
    threshold: float | None
    alarm: bool


class SeriesOut(Schema):
    unit: str
    code: str
    detector: str | None
    points: list[PointOut]


class SeriesFilters(Schema):
    unit: str
    code: Syndrome
    detector: str | None = None
    days: int = 180
    as_of: date | None = None


class EventOut(Schema):
    from_state: str
    to_state: str
    actor: str | None
    at: Any
    note: str


class AlertOut(Schema):
    id: int
    rule: str
    rule_kind: str
    code: str
    state: str
    opened_on: date
    units: list[str]
    assignee: str | None


class AlertDetailOut(AlertOut):
    events: list[EventOut]
    snapshot: dict[str, Any]


class AlertFilters(Schema):
    state: AlertState | None = None


class TransitionIn(Schema):
    to: AlertState
    note: str = ""
    assignee_id: int | None = None


class FieldErrorOut(Schema):
    field: str
    message: str


class TransitionErrors(Schema):
    detail: list[FieldErrorOut]


def alert_out(alert: Alert, *, detail: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": alert.pk,
        "rule": alert.rule.name,
        "rule_kind": alert.rule.kind,
        "code": alert.code,
        "state": alert.state,
        "opened_on": alert.opened_on,
        "units": [unit.code for unit in alert.units.all()],
        "assignee": alert.assignee.get_username() if alert.assignee else None,
    }
    if detail:
        data["events"] = [
            {
                "from_state": event.from_state,
                "to_state": event.to_state,
                "actor": event.actor.get_username() if event.actor else None,
                "at": event.at,
                "note": event.note,
            }
            for event in alert.events.select_related("actor")
        ]
        data["snapshot"] = alert.snapshot
    return data


def _alerts(request: HttpRequest) -> Any:
    return access.alerts_visible_to(request.user).select_related("rule", "assignee").prefetch_related("units")


@router.post("/counts", response={201: IngestOut, 404: Message, 422: RowErrors})
def post_counts(request: HttpRequest, payload: CountsIn) -> Any:
    if not access.can_ingest_surveillance(request.user):
        return Status(404, NOT_FOUND)
    rows, errors = services.check_count_rows(payload.rows, timezone.localdate())
    if errors:
        return Status(422, {"detail": [vars(error) for error in errors]})
    result = services.do_ingest_counts(rows, actor=cast(User, request.user), request=request)
    return Status(
        201,
        {
            "created": result.created,
            "revised": result.revised,
            "unchanged": result.unchanged,
            "redetected": [list(pair) for pair in result.redetected],
        },
    )


class CreatedOut(Schema):
    created: int
    ids: list[int]


@router.post("/cases", response={201: CreatedOut, 404: Message, 422: RowErrors})
def post_cases(request: HttpRequest, payload: CountsIn) -> Any:
    """Case reports {code, onset_date, reported_on, place, unit?, citizen_id?}, all or none."""
    if not access.can_ingest_surveillance(request.user):
        return Status(404, NOT_FOUND)
    rows, errors = services.check_case_rows(payload.rows, timezone.localdate())
    if errors:
        return Status(422, {"detail": [vars(error) for error in errors]})
    ids = services.do_ingest_cases(rows, actor=cast(User, request.user), request=request)
    return Status(201, {"created": len(ids), "ids": ids})


@router.post("/lab-results", response={201: CreatedOut, 404: Message, 422: RowErrors})
def post_lab_results(request: HttpRequest, payload: CountsIn) -> Any:
    """Lab results {unit, sampled_on, pathogen, outcome, case?}, all or none."""
    if not access.can_ingest_surveillance(request.user):
        return Status(404, NOT_FOUND)
    rows, errors = services.check_lab_rows(payload.rows, timezone.localdate())
    if errors:
        return Status(422, {"detail": [vars(error) for error in errors]})
    ids = services.do_ingest_lab_results(rows, actor=cast(User, request.user), request=request)
    return Status(201, {"created": len(ids), "ids": ids})


@router.get("/series", response={200: SeriesOut, 404: Message, 422: TransitionErrors})
def get_series(request: HttpRequest, filters: Query[SeriesFilters]) -> Any:
    unit = access.reporting_units_visible_to(request.user).filter(code=filters.unit).first()
    if unit is None:
        return Status(404, NOT_FOUND)
    if not 7 <= filters.days <= 3660:
        return Status(422, {"detail": [{"field": "days", "message": "between 7 and 3660"}]})
    return services.series_points(
        unit,
        filters.code,
        as_of=filters.as_of or timezone.localdate(),
        days=filters.days,
        detector=filters.detector,
    )


@router.get("/alerts", response={200: list[AlertOut]})
def list_alerts(request: HttpRequest, filters: Query[AlertFilters]) -> Any:
    alerts = _alerts(request)
    if filters.state is not None:
        alerts = alerts.filter(state=filters.state)
    return [alert_out(alert) for alert in alerts[:500]]


@router.get("/alerts/{alert_id}", response={200: AlertDetailOut, 404: Message})
def get_alert(request: HttpRequest, alert_id: int) -> Any:
    alert = _alerts(request).filter(pk=alert_id).first()
    if alert is None:
        return Status(404, NOT_FOUND)
    return alert_out(alert, detail=True)


@router.post(
    "/alerts/{alert_id}/transition",
    response={200: AlertDetailOut, 403: Message, 404: Message, 422: TransitionErrors},
)
def transition_alert(request: HttpRequest, alert_id: int, payload: TransitionIn) -> Any:
    alert = _alerts(request).filter(pk=alert_id).first()
    if alert is None:
        return Status(404, NOT_FOUND)
    if not access.can_manage_alerts(request.user):
        return Status(403, {"detail": "Centre managers follow alerts; CDC officers act on them."})
    assignee = None
    if payload.assignee_id is not None:
        assignee = User.objects.filter(pk=payload.assignee_id).first()
        if assignee is None:
            return Status(422, {"detail": [{"field": "assignee_id", "message": "no such user"}]})
    try:
        moved = services.do_transition(
            alert,
            payload.to,
            actor=cast(User, request.user),
            note=payload.note,
            assignee=assignee,
            request=request,
        )
    except services.TransitionError as exc:
        return Status(422, {"detail": [{"field": "to", "message": str(exc)}]})
    return alert_out(_alerts(request).get(pk=moved.pk), detail=True)
