"""Walking networks (步行路网) and 15-minute access to primary care (15分钟社区生活圈).

Pure functions on arrays: a street network is nodes (lon/lat) and undirected edges with their length in
metres; places (residential points, facilities) are snapped to their nearest node, and walking distance
is the straight snap leg at each end plus the shortest path along the streets.

The default walking speed is 4.5 km/h (1.25 m/s): the comfortable gait speed measured for adults in
their sixties and seventies (Bohannon 1997, Age and Ageing 26:15-19, 1.27-1.36 m/s), slightly rounded
down because older residents are the main users of community health services. At that speed a 15-minute
walk covers 1,125 m of street, within the 800-1,200 m walking radius of Shanghai's 15-minute community
life circle planning guidance (上海市15分钟社区生活圈规划导则, 2016).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

DEFAULT_SPEED_KMH = 4.5
DEFAULT_MINUTES = 15.0
COVERAGE_TARGET = 0.90
EARTH_RADIUS_M = 6_371_008.8

# OSM highway values a pedestrian may use. Motorways and trunk roads are fenced or unsafe to walk along,
# construction and proposed ways do not exist yet.
WALKABLE_HIGHWAYS = frozenset(
    {
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "pedestrian",
        "footway",
        "path",
        "steps",
        "track",
        "cycleway",
        "road",
        "corridor",
    }
)
NOT_WALKABLE_ACCESS = frozenset({"no", "private"})

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class NetworkError(ValueError):
    """The street network cannot be built or used as asked (empty file, no facilities, bad speed)."""


def walking_metres(speed_kmh: float, minutes: float) -> float:
    """How far one walks in `minutes` at `speed_kmh`."""
    if not 0.5 <= speed_kmh <= 10:
        raise NetworkError(f"walking speed: {speed_kmh} km/h is outside 0.5-10 km/h")
    if not 0 < minutes <= 120:
        raise NetworkError(f"minutes: {minutes} is outside 0-120")
    return speed_kmh * 1000.0 / 60.0 * minutes


def haversine_m(lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray) -> FloatArray:
    """Great-circle distance in metres, element-wise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64)


@dataclass(frozen=True)
class StreetNetwork:
    """An undirected walking network: node coordinates and edges with lengths in metres."""

    lon: FloatArray
    lat: FloatArray
    edge_u: IntArray
    edge_v: IntArray
    edge_m: FloatArray

    @property
    def node_count(self) -> int:
        return int(self.lon.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.edge_u.shape[0])

    def graph(self) -> csr_matrix:
        """The symmetric adjacency matrix (both directions of each street), shortest parallel edge kept."""
        n = self.node_count
        rows = np.concatenate([self.edge_u, self.edge_v])
        cols = np.concatenate([self.edge_v, self.edge_u])
        data = np.concatenate([self.edge_m, self.edge_m])
        order = np.lexsort((data, cols, rows))
        rows, cols, data = rows[order], cols[order], data[order]
        first = np.ones(rows.shape[0], dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        return coo_matrix((data[first], (rows[first], cols[first])), shape=(n, n)).tocsr()

    def projected(self, lon: FloatArray, lat: FloatArray) -> FloatArray:
        """Local equirectangular metres around the network's mean latitude: accurate to well under
        a percent across a district, which is all nearest-node snapping needs."""
        lat0 = math.radians(float(np.mean(self.lat))) if self.node_count else 0.0
        x = np.radians(lon) * EARTH_RADIUS_M * math.cos(lat0)
        y = np.radians(lat) * EARTH_RADIUS_M
        return np.column_stack([x, y])

    def largest_component(self) -> StreetNetwork:
        """The network restricted to its largest connected part, renumbered: isolated fragments (a
        courtyard path, an unconnected platform) would otherwise attract snaps they cannot route from."""
        if self.node_count == 0:
            return self
        _, labels = connected_components(self.graph(), directed=False)
        keep_label = int(np.bincount(labels).argmax())
        keep = labels == keep_label
        new_index = np.full(self.node_count, -1, dtype=np.int64)
        new_index[keep] = np.arange(int(keep.sum()), dtype=np.int64)
        edge_keep = keep[self.edge_u]
        return StreetNetwork(
            lon=self.lon[keep],
            lat=self.lat[keep],
            edge_u=new_index[self.edge_u[edge_keep]],
            edge_v=new_index[self.edge_v[edge_keep]],
            edge_m=self.edge_m[edge_keep],
        )


def network_from_ways(
    node_lonlat: dict[int, tuple[float, float]], ways: Iterable[Sequence[int]]
) -> StreetNetwork:
    """Build a network from OSM-style ways (sequences of node ids) and the nodes' coordinates."""
    index: dict[int, int] = {}
    lons: list[float] = []
    lats: list[float] = []
    us: list[int] = []
    vs: list[int] = []
    for way in ways:
        previous = -1
        for osm_id in way:
            if osm_id not in node_lonlat:
                previous = -1
                continue
            i = index.get(osm_id)
            if i is None:
                i = index[osm_id] = len(lons)
                lon, lat = node_lonlat[osm_id]
                lons.append(lon)
                lats.append(lat)
            if previous >= 0 and previous != i:
                us.append(previous)
                vs.append(i)
            previous = i
    lon_a = np.asarray(lons, dtype=np.float64)
    lat_a = np.asarray(lats, dtype=np.float64)
    u = np.asarray(us, dtype=np.int64)
    v = np.asarray(vs, dtype=np.int64)
    lengths = haversine_m(lon_a[u], lat_a[u], lon_a[v], lat_a[v]) if u.size else np.zeros(0)
    return StreetNetwork(lon_a, lat_a, u, v, np.asarray(lengths, dtype=np.float64))


@dataclass(frozen=True)
class OsmExtract:
    """What a PBF file gives the access analysis: the walking network and tagged places."""

    network: StreetNetwork
    buildings: FloatArray  # (n, 2) lon, lat of residential building centroids
    facilities: FloatArray  # (m, 2) lon, lat of healthcare amenities
    facility_names: list[str]


RESIDENTIAL_BUILDINGS = frozenset(
    {"residential", "apartments", "house", "detached", "semidetached_house", "terrace", "dormitory", "yes"}
)
HEALTHCARE_AMENITIES = frozenset({"clinic", "doctors", "hospital"})


def _walkable(highway: str | None, foot: str | None, access_tag: str | None) -> bool:
    if highway is None:
        return False
    if foot in ("yes", "designated"):
        return True
    return (
        highway in WALKABLE_HIGHWAYS
        and foot not in NOT_WALKABLE_ACCESS
        and access_tag not in NOT_WALKABLE_ACCESS
    )


def _is_healthcare(tags: Any) -> bool:
    return tags.get("amenity") in HEALTHCARE_AMENITIES or tags.get("healthcare") in HEALTHCARE_AMENITIES


def read_osm_pbf(path: Path | str) -> OsmExtract:
    """Read the walking network, residential buildings and healthcare facilities from an OSM PBF file
    with pyosmium. Buildings and facilities mapped as areas are placed at the mean of their outline's
    nodes, which is inside or very near any compact building."""
    import osmium  # a compiled reader: imported here so the rest of the module works without it

    source = Path(path)
    if not source.is_file():
        raise NetworkError(f"OSM file: {source} does not exist")
    node_lonlat: dict[int, tuple[float, float]] = {}
    ways: list[list[int]] = []
    buildings: list[tuple[float, float]] = []
    facilities: list[tuple[float, float]] = []
    names: list[str] = []
    try:
        processor = osmium.FileProcessor(str(source)).with_locations()
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                if _is_healthcare(obj.tags):
                    facilities.append((obj.location.lon, obj.location.lat))
                    names.append(obj.tags.get("name") or "")
                continue
            if not isinstance(obj, osmium.osm.Way):
                continue
            tags = obj.tags
            points = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if not points:
                continue
            if _walkable(tags.get("highway"), tags.get("foot"), tags.get("access")):
                for ref, lon, lat in points:
                    node_lonlat[ref] = (lon, lat)
                ways.append([p[0] for p in points])
                continue
            centre = (
                float(np.mean([p[1] for p in points])),
                float(np.mean([p[2] for p in points])),
            )
            if tags.get("building") in RESIDENTIAL_BUILDINGS:
                buildings.append(centre)
            elif _is_healthcare(tags):
                facilities.append(centre)
                names.append(tags.get("name") or "")
    except RuntimeError as exc:  # pyosmium reports unreadable files this way
        raise NetworkError(f"OSM file: {source} cannot be read ({exc})") from exc
    network = network_from_ways(node_lonlat, ways).largest_component()
    if network.node_count == 0:
        raise NetworkError(f"OSM file: {source} holds no walkable ways")
    return OsmExtract(
        network=network,
        buildings=np.asarray(buildings, dtype=np.float64).reshape(-1, 2),
        facilities=np.asarray(facilities, dtype=np.float64).reshape(-1, 2),
        facility_names=names,
    )


def street_grid(
    west: float,
    south: float,
    east: float,
    north: float,
    *,
    spacing_m: float = 150.0,
    missing_share: float = 0.12,
    seed: int = 0,
) -> StreetNetwork:
    """A synthetic street grid over a bounding box: blocks of `spacing_m`, with a seeded share of street
    segments missing (walls, rail lines, gated compounds) so that network distance differs from the
    straight line as it does in a real city. Only the largest connected part is kept."""
    if east <= west or north <= south:
        raise NetworkError("street grid: the bounding box is empty")
    if spacing_m <= 0:
        raise NetworkError("street grid: spacing must be positive")
    lat_mid = math.radians((south + north) / 2)
    dlat = spacing_m / (EARTH_RADIUS_M * math.pi / 180)
    dlon = dlat / math.cos(lat_mid)
    cols = max(2, math.ceil((east - west) / dlon) + 1)
    rows = max(2, math.ceil((north - south) / dlat) + 1)
    gx, gy = np.meshgrid(np.arange(cols), np.arange(rows))
    lon = west + gx.ravel().astype(np.float64) * dlon
    lat = south + gy.ravel().astype(np.float64) * dlat
    ids = np.arange(rows * cols, dtype=np.int64).reshape(rows, cols)
    u = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    v = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    rng = np.random.default_rng(seed)
    keep = rng.random(u.shape[0]) >= missing_share
    u, v = u[keep], v[keep]
    lengths = haversine_m(lon[u], lat[u], lon[v], lat[v])
    return StreetNetwork(lon, lat, u, v, lengths).largest_component()


@dataclass(frozen=True)
class Snap:
    """Each place's nearest network node and the straight distance to it."""

    node: IntArray
    metres: FloatArray


def snap(network: StreetNetwork, lon: FloatArray, lat: FloatArray) -> Snap:
    """Snap places to their nearest network node (a k-d tree on local metres)."""
    if network.node_count == 0:
        raise NetworkError("the street network has no nodes")
    tree = cKDTree(network.projected(network.lon, network.lat))
    if lon.shape[0] == 0:
        return Snap(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    metres, node = tree.query(network.projected(lon, lat))
    return Snap(np.asarray(node, dtype=np.int64), np.asarray(metres, dtype=np.float64))


def distance_to_nearest(graph: csr_matrix, facilities: Snap, *, limit_m: float = np.inf) -> FloatArray:
    """Network distance in metres from every node to its nearest facility, counting the facility's own
    snap leg: one Dijkstra run from a virtual source joined to each facility's node by that leg.
    Nodes farther than `limit_m` (or unreachable) get infinity."""
    n = graph.shape[0]
    if facilities.node.shape[0] == 0:
        return np.full(n, np.inf)
    # One edge per node, the shortest leg: a sparse matrix would add up the legs of facilities sharing
    # a node. A tiny positive weight stands for a zero leg: csgraph may read stored zeros as "no edge".
    nodes = np.unique(facilities.node)
    legs = np.full(nodes.shape[0], np.inf)
    np.minimum.at(legs, np.searchsorted(nodes, facilities.node), facilities.metres)
    legs = np.maximum(legs, 1e-6)
    source = coo_matrix((legs, (np.full(nodes.shape[0], n), nodes)), shape=(n + 1, n + 1)).tocsr()
    padded = coo_matrix(graph)
    extended = coo_matrix((padded.data, (padded.row, padded.col)), shape=(n + 1, n + 1)).tocsr() + source
    dist = dijkstra(extended, directed=True, indices=n, limit=limit_m)
    return np.asarray(dist[:n], dtype=np.float64)


@dataclass(frozen=True)
class AccessResult:
    """Walking distance from each place to its nearest facility and whether it is within reach."""

    metres: FloatArray
    minutes: FloatArray
    covered: NDArray[np.bool_]
    reach_m: float


def access(
    network: StreetNetwork,
    places: Snap,
    facilities: Snap,
    *,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    minutes: float = DEFAULT_MINUTES,
    graph: csr_matrix | None = None,
) -> AccessResult:
    """Walking distance and time from each place to the nearest facility, and whether it is within
    `minutes`. Distances beyond the reach are not computed exactly (reported as infinity)."""
    reach = walking_metres(speed_kmh, minutes)
    g = network.graph() if graph is None else graph
    node_dist = distance_to_nearest(g, facilities, limit_m=reach)
    metres = node_dist[places.node] + places.metres
    walk_minutes = metres / (speed_kmh * 1000.0 / 60.0)
    return AccessResult(metres=metres, minutes=walk_minutes, covered=metres <= reach, reach_m=reach)


def coverage_share(covered: NDArray[np.bool_], weights: FloatArray | None = None) -> float:
    """The weighted share of places within reach (weights: residents per place)."""
    w = np.ones(covered.shape[0]) if weights is None else weights
    total = float(w.sum())
    return float(w[covered].sum()) / total if total > 0 else 0.0


@dataclass(frozen=True)
class Proposal:
    """A proposed new station site and what it adds."""

    node: int
    lon: float
    lat: float
    added_weight: float
    coverage_after: float

    @property
    def percent_after(self) -> float:
        return round(100.0 * self.coverage_after, 1)


def _reachable_places(graph: csr_matrix, candidates: IntArray, places: Snap, reach: float) -> csr_matrix:
    """A sparse candidate x place matrix of ones where the place is within reach of the candidate: the
    street distance to the place's node plus its own snap leg. Sparse because each candidate reaches a
    small neighbourhood; a dense matrix would be candidates x places (400 x 100k) floats."""
    to_nodes = dijkstra(graph, directed=False, indices=candidates, limit=reach)
    rows, cols = np.nonzero(np.isfinite(to_nodes))
    # Stored as distance + 1 so that a candidate's own node (distance 0) is not a dropped zero.
    near = csr_matrix((to_nodes[rows, cols] + 1.0, (rows, cols)), shape=to_nodes.shape)
    per_place = near[:, places.node].tocsr()
    per_place.data = (per_place.data - 1.0 + places.metres[per_place.indices] <= reach).astype(np.float64)
    per_place.eliminate_zeros()
    return per_place


def propose_sites(
    network: StreetNetwork,
    places: Snap,
    weights: FloatArray,
    facilities: Snap,
    k: int,
    *,
    candidates: IntArray | None = None,
    speed_kmh: float = DEFAULT_SPEED_KMH,
    minutes: float = DEFAULT_MINUTES,
    max_candidates: int = 400,
) -> list[Proposal]:
    """Greedy maximum coverage (贪心最大覆盖): k new station sites, each the candidate node that brings
    the most still-uncovered residents within reach. Greedy is within 1 - 1/e of the optimum for
    this submodular objective (Nemhauser, Wolsey and Fisher 1978).

    Candidates default to the nodes that uncovered places snap to (a station opens where people
    live), thinned evenly to `max_candidates` so the distance matrix stays small."""
    if k < 1 or k > 50:
        raise NetworkError(f"k: {k} is outside 1-50")
    graph = network.graph()
    reach = walking_metres(speed_kmh, minutes)
    covered = access(network, places, facilities, speed_kmh=speed_kmh, minutes=minutes, graph=graph).covered
    total = float(weights.sum())
    if candidates is None:
        candidates = np.unique(places.node[~covered])
    if candidates.shape[0] > max_candidates:
        pick = np.linspace(0, candidates.shape[0] - 1, max_candidates).round().astype(np.int64)
        candidates = candidates[np.unique(pick)]
    proposals: list[Proposal] = []
    if candidates.shape[0] == 0:
        return proposals
    # Places already within reach of a facility add nothing: only the others enter the matrix.
    open_places = np.flatnonzero(~covered)
    reachable = _reachable_places(
        graph, candidates, Snap(places.node[open_places], places.metres[open_places]), reach
    )
    open_weights = weights[open_places]
    gained = np.zeros(open_places.shape[0], dtype=bool)
    covered_weight = float(weights[covered].sum())
    for _ in range(k):
        gains = reachable @ np.where(gained, 0.0, open_weights)
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        gained[reachable.indices[reachable.indptr[best] : reachable.indptr[best + 1]]] = True
        covered_weight += float(gains[best])
        node = int(candidates[best])
        proposals.append(
            Proposal(
                node=node,
                lon=float(network.lon[node]),
                lat=float(network.lat[node]),
                added_weight=float(gains[best]),
                coverage_after=covered_weight / total if total else 0.0,
            )
        )
    return proposals
