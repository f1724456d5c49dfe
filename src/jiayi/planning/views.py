"""The planning pages: the street health portrait and 15-minute access with proposed station sites.

District analysts and centre managers only; everyone else gets the 404 a missing page gets. The pages
show aggregates with small cells suppressed; the maps load their data from the JSON routes beside
them because the CSP forbids inline scripts."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from jiayi import access
from jiayi.audit.services import record
from jiayi.planning import access_services, network, portrait
from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place

View = Callable[..., HttpResponse]
MAX_K = 10


def planning_page(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not access.can_view_planning(request.user):
            raise Http404
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return wrapper


def portrait_for(request: HttpRequest) -> portrait.Portrait:
    """The portrait the request asks for: sub-districts, or the committees of `?area=<code>`."""
    committees = access.planning_committees_visible_to(request.user)
    code = request.GET.get("area", "")
    parent = None
    if code:
        parent = Place.objects.filter(
            code=code, level=PlaceLevel.SUB_DISTRICT, pk__in=committees.values("parent_id")
        ).first()
        if parent is None:
            raise Http404
    year_text = request.GET.get("year", "")
    year = int(year_text) if year_text.isdigit() and 2000 <= int(year_text) <= 2100 else None
    result = portrait.build_portrait(
        committees,
        threshold=access.small_cell_threshold(request.user),
        parent=parent,
        year=year,
        on=timezone.localdate(),
    )
    record(
        request=request,
        action="read",
        resource_type="planning.portrait",
        resource_id=code or "district",
        purpose="street health portrait (aggregates)",
    )
    return result


@planning_page
@require_GET
def portrait_page(request: HttpRequest) -> HttpResponse:
    result = portrait_for(request)
    return render(
        request,
        "planning/portrait.html",
        {
            "portrait": result,
            "ranking": result.prevalence_ranking(),
            "groups": [(k, label) for k, (label, _) in portrait.CHRONIC_GROUPS.items()],
            "bands": [b[0] for b in portrait.INDEX_BANDS],
            "area": request.GET.get("area", ""),
        },
    )


@planning_page
@require_GET
def portrait_map(request: HttpRequest) -> HttpResponse:
    """Boundaries of the shown areas with their figures, for the choropleth."""
    result = portrait_for(request)
    codes = [a.code for a in result.areas]
    boundaries = dict(Place.objects.filter(code__in=codes).values_list("code", "boundary"))
    features = [
        {"type": "Feature", "properties": {"name": code}, "geometry": boundaries[code]}
        for code in codes
        if boundaries.get(code)
    ]
    return JsonResponse(
        {
            "geojson": {"type": "FeatureCollection", "features": features},
            "areas": [a.as_dict() for a in result.areas],
            "drill": result.parent is None,
        }
    )


def _int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    text = request.GET.get(name, "")
    return max(low, min(high, int(text))) if text.isdigit() else default


@planning_page
@require_GET
def access_page(request: HttpRequest) -> HttpResponse:
    k = _int_param(request, "k", 3, 1, MAX_K)
    current, proposals = access_services.propose_stations(k)
    return render(
        request,
        "planning/access.html",
        {
            "result": current,
            "proposals": proposals,
            "k": k,
            "target": network.COVERAGE_TARGET,
            "can_plan": access.can_plan_stations(request.user),
        },
    )


@planning_page
@require_GET
def access_map(request: HttpRequest) -> HttpResponse:
    """Residential points (covered or not), facilities, proposed sites and sub-district boundaries."""
    k = _int_param(request, "k", 3, 1, MAX_K)
    current, proposals = access_services.propose_stations(k)
    places = Place.objects.filter(level=PlaceLevel.SUB_DISTRICT, boundary__isnull=False)
    # Points carry no resident counts: a building's count could single a household out.
    return JsonResponse(
        {
            "geojson": {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"name": p.name}, "geometry": p.boundary}
                    for p in places
                ],
            },
            "points": [
                [round(float(lon), 6), round(float(lat), 6), bool(ok)]
                for lon, lat, ok in zip(
                    current.point_lon, current.point_lat, current.point_covered, strict=True
                )
            ],
            "facilities": current.facility_rows,
            "proposals": [
                {"rank": i + 1, "lon": p.lon, "lat": p.lat, "coverage_after": round(p.coverage_after, 4)}
                for i, p in enumerate(proposals)
            ],
        }
    )
