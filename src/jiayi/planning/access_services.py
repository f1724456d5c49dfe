"""15-minute access for the district in the database: residents' buildings and the primary-care
facilities (centres, branch centres, stations) on a walking network, summed per sub-district."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, Q

from jiayi.planning import network as nw
from jiayi.registry.choices import InstitutionKind, PlaceLevel
from jiayi.registry.models import Institution, Place, ResidentialPoint

# Facilities that count as "a centre or station" within walking reach.
FACILITY_KINDS = (
    InstitutionKind.COMMUNITY_HEALTH_CENTRE,
    InstitutionKind.BRANCH_CENTRE,
    InstitutionKind.STATION,
    InstitutionKind.VILLAGE_CLINIC,
)
GRID_SPACING_M = 150.0
MAX_MEDIAN_SNAP_M = 1_000.0


@dataclass(frozen=True)
class FileAccess:
    """Coverage of an OSM file's own residential buildings by its own healthcare amenities."""

    source: str
    nodes: int
    edges: int
    buildings: int
    facilities: int
    covered: int
    speed_kmh: float
    minutes: float
    reach_m: float
    proposals: list[nw.Proposal]

    @property
    def share(self) -> float:
        return self.covered / self.buildings if self.buildings else 0.0


def osm_file_access(
    path: Path, *, speed_kmh: float | None = None, minutes: float = nw.DEFAULT_MINUTES, k: int = 0
) -> FileAccess:
    """15-minute access inside an OSM extract alone: its residential buildings (one weight each), its
    clinics, doctors and hospitals, its walking network; and k proposed sites when k > 0."""
    speed = walking_speed_kmh() if speed_kmh is None else speed_kmh
    extract = nw.read_osm_pbf(path)
    if extract.facilities.shape[0] == 0:
        raise nw.NetworkError(f"{path.name}: no clinic, doctors or hospital is mapped in the file")
    buildings = nw.snap(extract.network, extract.buildings[:, 0], extract.buildings[:, 1])
    facilities = nw.snap(extract.network, extract.facilities[:, 0], extract.facilities[:, 1])
    result = nw.access(extract.network, buildings, facilities, speed_kmh=speed, minutes=minutes)
    weights = np.ones(buildings.node.shape[0])
    proposals = (
        nw.propose_sites(extract.network, buildings, weights, facilities, k, speed_kmh=speed, minutes=minutes)
        if k > 0
        else []
    )
    return FileAccess(
        source=path.name,
        nodes=extract.network.node_count,
        edges=extract.network.edge_count,
        buildings=int(buildings.node.shape[0]),
        facilities=int(facilities.node.shape[0]),
        covered=int(result.covered.sum()),
        speed_kmh=speed,
        minutes=minutes,
        reach_m=result.reach_m,
        proposals=proposals,
    )


def walking_speed_kmh() -> float:
    """The configured walking speed (setting PLANNING_WALKING_SPEED_KMH), 4.5 km/h by default."""
    return float(getattr(settings, "PLANNING_WALKING_SPEED_KMH", nw.DEFAULT_SPEED_KMH))


@dataclass(frozen=True)
class AreaCoverage:
    code: str
    name: str
    residents: int
    covered: int

    @property
    def share(self) -> float:
        return self.covered / self.residents if self.residents else 0.0

    @property
    def percent(self) -> float:
        return round(100.0 * self.share, 1)


@dataclass
class DistrictAccess:
    """Coverage of the district and of each sub-district, and what was computed on."""

    speed_kmh: float
    minutes: float
    reach_m: float
    source: str
    nodes: int
    edges: int
    points: int
    facilities: int
    residents: int
    covered: int
    sub_districts: list[AreaCoverage] = field(default_factory=list)
    # Per residential point, for the map and the planner.
    point_lon: nw.FloatArray = field(default_factory=lambda: np.zeros(0))
    point_lat: nw.FloatArray = field(default_factory=lambda: np.zeros(0))
    point_weight: nw.FloatArray = field(default_factory=lambda: np.zeros(0))
    point_minutes: nw.FloatArray = field(default_factory=lambda: np.zeros(0))
    point_covered: np.ndarray[Any, np.dtype[np.bool_]] = field(
        default_factory=lambda: np.zeros(0, dtype=bool)
    )
    facility_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.covered / self.residents if self.residents else 0.0

    @property
    def percent(self) -> float:
        return round(100.0 * self.share, 1)

    @property
    def meets_target(self) -> bool:
        return self.share >= nw.COVERAGE_TARGET


@dataclass(frozen=True)
class _Inputs:
    network: nw.StreetNetwork
    source: str
    point_lon: nw.FloatArray
    point_lat: nw.FloatArray
    weights: nw.FloatArray
    sub_index: np.ndarray[Any, np.dtype[np.int64]]
    subs: list[Place]
    facilities: list[Institution]


def district_grid() -> nw.StreetNetwork:
    """The synthetic street grid over the district's bounding box (its boundary, else its buildings)."""
    district = Place.objects.filter(level=PlaceLevel.DISTRICT).order_by("code").first()
    ring: list[list[float]] = []
    if district is not None and isinstance(district.boundary, dict):
        coords = district.boundary.get("coordinates") or []
        ring = coords[0] if coords else []
    if ring:
        lons = [float(p[0]) for p in ring]
        lats = [float(p[1]) for p in ring]
    else:
        pts = list(ResidentialPoint.objects.values_list("lon", "lat"))
        if not pts:
            raise nw.NetworkError("the district has no boundary and no residential points")
        lons = [p[0] for p in pts]
        lats = [p[1] for p in pts]
    seed = int(district.code) % (2**31) if district is not None and district.code.isdigit() else 0
    return nw.street_grid(min(lons), min(lats), max(lons), max(lats), spacing_m=GRID_SPACING_M, seed=seed)


def _inputs(osm: Path | None) -> _Inputs:
    if osm is not None:
        network = nw.read_osm_pbf(osm).network
        source = osm.name
    else:
        network = district_grid()
        source = "grid"
    subs = list(Place.objects.filter(level=PlaceLevel.SUB_DISTRICT).order_by("code"))
    sub_pos = {s.pk: i for i, s in enumerate(subs)}
    living = Q(residents__date_of_death__isnull=True, residents__is_resident=True)
    rows = list(
        ResidentialPoint.objects.annotate(n=Count("residents", filter=living))
        .filter(n__gt=0)
        .order_by("id")
        .values_list("lon", "lat", "n", "committee__parent_id")
    )
    facilities = list(
        Institution.objects.filter(
            kind__in=FACILITY_KINDS, lat__isnull=False, lon__isnull=False, closed_on__isnull=True
        ).order_by("code")
    )
    return _Inputs(
        network=network,
        source=source,
        point_lon=np.asarray([r[0] for r in rows], dtype=np.float64),
        point_lat=np.asarray([r[1] for r in rows], dtype=np.float64),
        weights=np.asarray([r[2] for r in rows], dtype=np.float64),
        sub_index=np.asarray([sub_pos.get(r[3] or 0, -1) for r in rows], dtype=np.int64),
        subs=subs,
        facilities=facilities,
    )


def _snap_points(data: _Inputs) -> nw.Snap:
    points = nw.snap(data.network, data.point_lon, data.point_lat)
    if points.metres.size and float(np.median(points.metres)) > MAX_MEDIAN_SNAP_M:
        # Typically an OSM file of another city: every building would be "beyond reach".
        raise nw.NetworkError(
            f"{data.source}: the district's residential points lie a median "
            f"{float(np.median(points.metres)):.0f} m from the street network; is it this district's map?"
        )
    return points


def _facility_snap(network: nw.StreetNetwork, facilities: list[Institution]) -> nw.Snap:
    lon = np.asarray([f.lon for f in facilities], dtype=np.float64)
    lat = np.asarray([f.lat for f in facilities], dtype=np.float64)
    return nw.snap(network, lon, lat)


def district_access(
    *, osm: Path | None = None, speed_kmh: float | None = None, minutes: float = nw.DEFAULT_MINUTES
) -> DistrictAccess:
    """Coverage of the district's residents by a 15-minute (or `minutes`) walk to primary care."""
    speed = walking_speed_kmh() if speed_kmh is None else speed_kmh
    return _compute(_inputs(osm), speed, minutes)


def _compute(data: _Inputs, speed: float, minutes: float) -> DistrictAccess:
    reach = nw.walking_metres(speed, minutes)
    points = _snap_points(data)
    result = nw.access(
        data.network, points, _facility_snap(data.network, data.facilities), speed_kmh=speed, minutes=minutes
    )
    weights = data.weights
    subs = [
        AreaCoverage(
            code=sub.code,
            name=sub.name,
            residents=int(weights[data.sub_index == i].sum()),
            covered=int(weights[(data.sub_index == i) & result.covered].sum()),
        )
        for i, sub in enumerate(data.subs)
    ]
    return DistrictAccess(
        speed_kmh=speed,
        minutes=minutes,
        reach_m=reach,
        source=data.source,
        nodes=data.network.node_count,
        edges=data.network.edge_count,
        points=int(weights.shape[0]),
        facilities=len(data.facilities),
        residents=int(weights.sum()),
        covered=int(weights[result.covered].sum()),
        sub_districts=subs,
        point_lon=data.point_lon,
        point_lat=data.point_lat,
        point_weight=weights,
        point_minutes=result.minutes,
        point_covered=result.covered,
        facility_rows=[
            {
                "name": f.name,
                "kind": f.kind,
                "kind_label": str(f.get_kind_display()),
                "lon": f.lon,
                "lat": f.lat,
            }
            for f in data.facilities
        ],
    )


def propose_stations(
    k: int,
    *,
    osm: Path | None = None,
    speed_kmh: float | None = None,
    minutes: float = nw.DEFAULT_MINUTES,
) -> tuple[DistrictAccess, list[nw.Proposal]]:
    """The district's coverage now and k new station sites that add the most residents within reach."""
    speed = walking_speed_kmh() if speed_kmh is None else speed_kmh
    data = _inputs(osm)
    current = _compute(data, speed, minutes)
    points = _snap_points(data)
    proposals = nw.propose_sites(
        data.network,
        points,
        data.weights,
        _facility_snap(data.network, data.facilities),
        k,
        speed_kmh=speed,
        minutes=minutes,
    )
    return current, proposals
