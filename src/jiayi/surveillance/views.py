"""The CDC officer's early-warning page: units on a map, a unit's series with thresholds and alarms,
and the open alerts with their workflow actions. Centre managers read their own centre's units; every
other role gets the 404 a missing page gets."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from jiayi import access
from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place
from jiayi.surveillance import rules, services
from jiayi.surveillance.models import Alert, AlertState, DailyCount, Syndrome

View = Callable[..., HttpResponse]

# Buttons offered for each next state, in the order an officer usually takes them.
ACTION_ORDER = ("assigned", "verified", "dismissed", "response", "closed")


def surveillance_page(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not access.can_view_surveillance(request.user):
            raise Http404
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return wrapper


def _alerts(request: HttpRequest) -> Any:
    return (
        access.alerts_visible_to(request.user)
        .select_related("rule", "assignee")
        .prefetch_related("units", "events__actor")
    )


def _alert_context(alert: Alert, request: HttpRequest, error: str = "") -> dict[str, Any]:
    allowed = rules.TRANSITIONS.get(alert.state, frozenset())
    return {
        "alert": alert,
        "actions": [
            (state, AlertState(state).label, state in rules.NOTE_REQUIRED)
            for state in ACTION_ORDER
            if state in allowed
        ],
        "can_manage": access.can_manage_alerts(request.user),
        "error": error,
    }


@surveillance_page
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    units = access.reporting_units_visible_to(request.user)
    open_alerts = [_alert_context(a, request) for a in _alerts(request).filter(state__in=rules.OPEN_STATES)]
    recent = _alerts(request).exclude(state__in=rules.OPEN_STATES)[:10]
    codes = DailyCount.objects.filter(unit__in=units).values_list("code", flat=True).distinct().order_by()
    first_alert = open_alerts[0]["alert"] if open_alerts else None
    first_unit = first_alert.units.first() if first_alert else units.first()
    return render(
        request,
        "surveillance/index.html",
        {
            "units": units,
            "codes": [(code, Syndrome(code).label) for code in sorted(set(codes))],
            "selected_unit": first_unit.pk if first_unit else None,
            "selected_code": first_alert.code if first_alert else "fever",
            "open_alerts": open_alerts,
            "recent_alerts": recent,
            "can_manage": access.can_manage_alerts(request.user),
        },
    )


@surveillance_page
@require_GET
def map_data(request: HttpRequest) -> HttpResponse:
    """Units with their open alerts, over the district's sub-district and committee boundaries."""
    units = access.reporting_units_visible_to(request.user).annotate(
        open_alerts=Count("alerts", filter=Q(alerts__state__in=rules.OPEN_STATES), distinct=True)
    )
    places = Place.objects.filter(
        level__in=[PlaceLevel.SUB_DISTRICT, PlaceLevel.COMMITTEE], boundary__isnull=False
    ).only("code", "name", "level", "boundary")
    features = [
        {
            "type": "Feature",
            "properties": {"name": place.code, "label": place.name, "level": place.level},
            "geometry": place.boundary,
        }
        for place in places
    ]
    return JsonResponse(
        {
            "geojson": {"type": "FeatureCollection", "features": features},
            "units": [
                {
                    "id": unit.pk,
                    "code": unit.code,
                    "name": unit.name,
                    "kind": unit.kind,
                    "kind_label": str(unit.get_kind_display()),
                    "lat": unit.lat,
                    "lon": unit.lon,
                    "open_alerts": unit.open_alerts,
                }
                for unit in units
            ],
        }
    )


@surveillance_page
@require_GET
def series_data(request: HttpRequest) -> HttpResponse:
    # Units go by id on the page: their codes are long digit strings that look like personal numbers.
    unit_id = request.GET.get("unit", "")
    unit = (
        access.reporting_units_visible_to(request.user).filter(pk=int(unit_id)).first()
        if unit_id.isdigit()
        else None
    )
    code = request.GET.get("code", "")
    if unit is None or code not in Syndrome.values:
        raise Http404
    data = services.series_points(unit, code, as_of=timezone.localdate(), days=120)
    data["name"] = unit.name
    return JsonResponse(data)


@surveillance_page
@require_POST
def alert_transition(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alerts(request).filter(pk=pk).first()
    if alert is None or not access.can_manage_alerts(request.user):
        raise Http404
    error = ""
    try:
        services.do_transition(
            alert,
            request.POST.get("to", ""),
            actor=cast(User, request.user),
            note=request.POST.get("note", ""),
            request=request,
        )
    except services.TransitionError:
        error = _("That step is not possible in the alert's current state, or it needs a note.")
    if request.headers.get("HX-Request") != "true":
        return redirect("surveillance:index")
    alert = _alerts(request).get(pk=pk)
    return render(request, "surveillance/_alert.html", _alert_context(alert, request, error))
