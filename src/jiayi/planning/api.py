"""The planning REST API: the street health portrait and 15-minute access with proposed sites.

District analysts and centre managers only; other roles get 404, as for a route that does not exist.
Every figure is an aggregate with small cells suppressed."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status

from jiayi import access
from jiayi.audit.services import record
from jiayi.planning import access_services, network, portrait
from jiayi.registry import tokens
from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place
from jiayi.registry.schemas import Message

PLANNING = "planning"
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": PLANNING,
        "description": "District planning (区域规划) under /api/planning: the street health portrait "
        "(健康画像) per sub-district or per committee of one, with small cells suppressed, and 15-minute "
        "walking access to primary care with proposed new station sites (greedy maximum coverage).",
    }
]

router = Router(auth=tokens.api_auth(), tags=[PLANNING])
NOT_FOUND = {"detail": "Not Found"}


class FieldErrorOut(Schema):
    field: str
    message: str


class FieldErrors(Schema):
    detail: list[FieldErrorOut]


class PortraitFilters(Schema):
    area: str = ""
    year: int | None = None


class CellOut(Schema):
    count: int | None
    display: str
    rate: float | None


class AreaOut(Schema):
    code: str
    name: str
    population: CellOut
    aged_65: CellOut
    assessed: CellOut
    index_mean: float | None
    index_bands: dict[str, CellOut]
    conditions: dict[str, CellOut]
    risks: dict[str, CellOut]
    classes: dict[str, CellOut]
    lifestyle: dict[str, CellOut]


class RankOut(Schema):
    group: str
    label: str
    cell: CellOut


class PortraitOut(Schema):
    year: int | None
    level: str
    threshold: int
    areas: list[AreaOut]
    ranking: list[RankOut]


class AccessFilters(Schema):
    minutes: float = network.DEFAULT_MINUTES
    speed_kmh: float | None = None
    k: int = 0


class CoverageOut(Schema):
    code: str
    name: str
    residents: int
    covered: int
    share: float


class ProposalOut(Schema):
    rank: int
    lon: float
    lat: float
    added_residents: int
    coverage_after: float


class AccessOut(Schema):
    speed_kmh: float
    minutes: float
    reach_m: float
    network: str
    nodes: int
    facilities: int
    residents: int
    covered: int
    share: float
    target: float
    meets_target: bool
    sub_districts: list[CoverageOut]
    proposals: list[ProposalOut]


@router.get("/portrait", response={200: PortraitOut, 404: Message, 422: FieldErrors})
def get_portrait(request: HttpRequest, filters: Query[PortraitFilters]) -> Any:
    if not access.can_view_planning(request.user):
        return Status(404, NOT_FOUND)
    if filters.year is not None and not 2000 <= filters.year <= 2100:
        return Status(422, {"detail": [{"field": "year", "message": "between 2000 and 2100"}]})
    committees = access.planning_committees_visible_to(request.user)
    parent = None
    if filters.area:
        parent = Place.objects.filter(
            code=filters.area, level=PlaceLevel.SUB_DISTRICT, pk__in=committees.values("parent_id")
        ).first()
        if parent is None:
            return Status(404, NOT_FOUND)
    result = portrait.build_portrait(
        committees,
        threshold=access.small_cell_threshold(request.user),
        parent=parent,
        year=filters.year,
        on=timezone.localdate(),
    )
    record(
        request=request,
        action="read",
        resource_type="planning.portrait",
        resource_id=filters.area or "district",
        purpose="street health portrait (aggregates)",
    )
    return {
        "year": result.year,
        "level": result.level,
        "threshold": result.threshold,
        "areas": [a.as_dict() for a in result.areas],
        "ranking": [
            {"group": key, "label": label, "cell": c.as_dict()}
            for key, label, c in result.prevalence_ranking()
        ],
    }


@router.get("/access", response={200: AccessOut, 404: Message, 422: FieldErrors})
def get_access(request: HttpRequest, filters: Query[AccessFilters]) -> Any:
    if not access.can_view_planning(request.user):
        return Status(404, NOT_FOUND)
    if not 0 <= filters.k <= 10:
        return Status(422, {"detail": [{"field": "k", "message": "between 0 and 10"}]})
    speed = filters.speed_kmh if filters.speed_kmh is not None else access_services.walking_speed_kmh()
    try:
        network.walking_metres(speed, filters.minutes)
    except network.NetworkError as exc:
        field = "speed_kmh" if str(exc).startswith("walking speed") else "minutes"
        return Status(422, {"detail": [{"field": field, "message": str(exc)}]})
    if filters.k:
        result, proposals = access_services.propose_stations(
            filters.k, speed_kmh=speed, minutes=filters.minutes
        )
    else:
        result, proposals = access_services.district_access(speed_kmh=speed, minutes=filters.minutes), []
    return {
        "speed_kmh": result.speed_kmh,
        "minutes": result.minutes,
        "reach_m": round(result.reach_m, 1),
        "network": result.source,
        "nodes": result.nodes,
        "facilities": result.facilities,
        "residents": result.residents,
        "covered": result.covered,
        "share": round(result.share, 4),
        "target": network.COVERAGE_TARGET,
        "meets_target": result.meets_target,
        "sub_districts": [
            {
                "code": s.code,
                "name": s.name,
                "residents": s.residents,
                "covered": s.covered,
                "share": round(s.share, 4),
            }
            for s in result.sub_districts
        ],
        "proposals": [
            {
                "rank": i + 1,
                "lon": round(p.lon, 6),
                "lat": round(p.lat, 6),
                "added_residents": int(p.added_weight),
                "coverage_after": round(p.coverage_after, 4),
            }
            for i, p in enumerate(proposals)
        ],
    }
