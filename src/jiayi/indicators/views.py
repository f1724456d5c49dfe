"""The indicator boards (指标看板): a board per level with status colours and the "how is this computed"
panel, ranked units, the monthly trend and a sub-district map as JSON for the charts, the residents
behind a figure for the clinical roles, and an Excel export. Every role without access gets a 404."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from jiayi import access
from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.indicators import board, catalogue, engine, export
from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place

View = Callable[..., HttpResponse]
LEVEL_LABELS = {
    "district": "区 District",
    "street": "街道/镇 Sub-district",
    "centre": "社区卫生服务中心 Centre",
    "team": "团队 Team",
    "doctor": "家庭医生 Family doctor",
    "hospital": "医院 Hospital",
}
PAGE_SIZE = 50


def indicators_page(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not access.can_view_indicators(request.user):
            raise Http404
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return wrapper


def _params(request: HttpRequest) -> tuple[date, str, str]:
    """(as_of, level, period) from the query string, falling back to today, the district, the year."""
    text = request.GET.get("as_of", "")
    try:
        as_of = date.fromisoformat(text) if text else timezone.localdate()
    except ValueError:
        as_of = timezone.localdate()
    level = request.GET.get("level", "")
    if level not in catalogue.LEVELS:
        level = "district"
    period = request.GET.get("period", "year")
    if period not in engine.PERIODS:
        period = "year"
    return as_of, level, period


def _code(request: HttpRequest) -> catalogue.Indicator:
    code = request.GET.get("code", "")
    if code not in catalogue.BY_CODE:
        raise Http404
    return catalogue.BY_CODE[code]


def _int(request: HttpRequest, name: str) -> int | None:
    text = request.GET.get(name, "")
    return int(text) if text.isdigit() else None


@indicators_page
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    as_of, level, period = _params(request)
    rows = board.scoped_rows(request.user, as_of, level, period)
    units = sorted({(row["unit_id"], row["unit_name"]) for row in rows}, key=lambda u: (u[1], u[0]))
    unit_id = _int(request, "unit")
    if unit_id not in {u[0] for u in units}:
        unit_id = units[0][0] if units else None
    selected = board.board_rows(request.user, rows, unit_id)
    first_code = selected[0].indicator.code if selected else catalogue.INDICATORS[0].code
    return render(
        request,
        "indicators/index.html",
        {
            "as_of": as_of,
            "level": level,
            "period": period,
            "levels": [(key, LEVEL_LABELS[key]) for key in catalogue.LEVELS],
            "periods": [("year", "年度累计 Year to date"), ("quarter", "季度累计 Quarter to date")],
            "units": units,
            "unit_id": unit_id,
            "rows": selected,
            "first_code": first_code,
            "can_drill": access.can_list_indicator_residents(request.user),
        },
    )


@indicators_page
@require_GET
def ranking_data(request: HttpRequest) -> HttpResponse:
    """One indicator for every unit the user may see at the level, best first."""
    as_of, level, period = _params(request)
    indicator = _code(request)
    if level not in indicator.levels:
        return JsonResponse({"code": indicator.code, "units": [], "target": None})
    rows = [
        board.shown(request.user, r)
        for r in board.scoped_rows(request.user, as_of, level, period, [indicator.code])
    ]
    rows.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0), r["unit_name"]))
    target = rows[0]["target"] if rows else indicator.target_for(None, as_of.year)
    return JsonResponse(
        {
            "code": indicator.code,
            "name": indicator.name_zh,
            "unit": indicator.unit,
            "target": target,
            "units": [
                {
                    "id": r["unit_id"],
                    "name": r["unit_name"],
                    "value": r["value"],
                    "numerator": r["numerator"],
                    "denominator": r["denominator"],
                    "status": board.status(indicator, r["value"], r["target"]),
                }
                for r in rows
            ],
        }
    )


@indicators_page
@require_GET
def trend_data(request: HttpRequest) -> HttpResponse:
    as_of, level, _period = _params(request)
    indicator = _code(request)
    unit_id = _int(request, "unit")
    if unit_id is None or level not in indicator.levels:
        raise Http404
    points = board.trend(request.user, indicator.code, level, unit_id, as_of)
    return JsonResponse(
        {
            "code": indicator.code,
            "unit": indicator.unit,
            "target": indicator.target_for(None, as_of.year),
            "points": points,
        }
    )


@indicators_page
@require_GET
def map_data(request: HttpRequest) -> HttpResponse:
    """Sub-district values over their boundaries (GeoJSON features named by place code)."""
    as_of, _level, period = _params(request)
    indicator = _code(request)
    if "street" not in indicator.levels:
        raise Http404
    rows = {
        r["unit_id"]: board.shown(request.user, r)
        for r in board.scoped_rows(request.user, as_of, "street", period, [indicator.code])
    }
    streets = Place.objects.filter(level=PlaceLevel.SUB_DISTRICT).only(
        "id", "code", "name", "boundary", "centroid_lat", "centroid_lon"
    )
    features = []
    values = []
    for street in streets:
        row = rows.get(street.pk)
        value = row["value"] if row else None
        values.append(
            {
                "code": street.code,
                "name": street.name,
                "value": value,
                "lat": street.centroid_lat,
                "lon": street.centroid_lon,
            }
        )
        if street.boundary:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"name": street.code, "label": street.name},
                    "geometry": street.boundary,
                }
            )
    return JsonResponse(
        {
            "code": indicator.code,
            "unit": indicator.unit,
            "target": indicator.target_for(None, as_of.year),
            "geojson": {"type": "FeatureCollection", "features": features},
            "streets": values,
        }
    )


@indicators_page
@require_GET
def residents(request: HttpRequest) -> HttpResponse:
    """The residents behind one figure, masked, for the clinical roles; analysts get a 404."""
    if not access.can_list_indicator_residents(request.user):
        raise Http404
    as_of, level, period = _params(request)
    indicator = _code(request)
    unit_id = _int(request, "unit")
    side = request.GET.get("side", "numerator")
    if (
        unit_id is None
        or side not in ("numerator", "denominator")
        or indicator.numerator.source != "resident"
    ):
        raise Http404
    allowed = access.indicator_units_visible_to(request.user, level)
    if allowed is not None and unit_id not in allowed:
        raise Http404
    found = board.residents_behind(
        request.user, indicator, side, level, unit_id, as_of, period
    ).select_related("committee")
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    record(
        request=request,
        action=Action.READ,
        resource_type="indicator_residents",
        resource_id=indicator.code,
        purpose="indicator drill-down",
        detail={
            "level": level,
            "unit": unit_id,
            "side": side,
            "as_of": as_of.isoformat(),
            "count": page.paginator.count,
        },
    )
    return render(
        request,
        "indicators/residents.html",
        {
            "indicator": indicator,
            "side": side,
            "level": level,
            "level_label": LEVEL_LABELS[level],
            "unit_id": unit_id,
            "as_of": as_of,
            "period": period,
            "page": page,
        },
    )


@indicators_page
@require_GET
def export_xlsx(request: HttpRequest) -> HttpResponse:
    as_of, level, period = _params(request)
    rows = [board.shown(request.user, r) for r in board.scoped_rows(request.user, as_of, level, period)]
    record(
        request=request,
        action=Action.EXPORT,
        resource_type="indicators",
        detail={"level": level, "period": period, "as_of": as_of.isoformat(), "rows": len(rows)},
    )
    response = HttpResponse(
        export.xlsx_bytes(rows),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="indicators-{level}-{period}-{as_of.isoformat()}.xlsx"'
    )
    return response
