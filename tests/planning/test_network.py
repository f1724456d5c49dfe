"""Walking networks, snapping, multi-source distances and the greedy planner, on networks small enough
to reason about by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from jiayi.planning import network as nw


def line(n: int, step_m: float = 100.0) -> nw.StreetNetwork:
    """n nodes on a west-east street, `step_m` apart (lengths given, not measured)."""
    lon = np.linspace(121.4, 121.4 + 0.001 * (n - 1), n)
    lat = np.full(n, 31.2)
    u = np.arange(n - 1, dtype=np.int64)
    return nw.StreetNetwork(lon, lat, u, u + 1, np.full(n - 1, step_m))


def at_nodes(nodes: list[int], legs: list[float] | None = None) -> nw.Snap:
    return nw.Snap(
        np.asarray(nodes, dtype=np.int64), np.asarray(legs or [0.0] * len(nodes), dtype=np.float64)
    )


def test_walking_reach_at_the_default_speed_is_1125_metres() -> None:
    assert nw.walking_metres(nw.DEFAULT_SPEED_KMH, 15) == pytest.approx(1125.0)
    assert nw.walking_metres(6.0, 10) == pytest.approx(1000.0)


@pytest.mark.parametrize(("speed", "minutes"), [(0.1, 15), (12, 15), (4.5, 0), (4.5, 500)])
def test_an_implausible_speed_or_time_is_refused_by_name(speed: float, minutes: float) -> None:
    with pytest.raises(nw.NetworkError, match=r"walking speed|minutes"):
        nw.walking_metres(speed, minutes)


def test_distance_counts_the_street_and_both_snap_legs() -> None:
    net = line(6)  # nodes 0..5, 100 m apart
    places = at_nodes([5, 3, 0], [20.0, 0.0, 7.5])
    facility = at_nodes([1], [30.0])
    result = nw.access(net, places, facility, speed_kmh=6.0, minutes=10)  # reach 1,000 m
    assert result.metres.tolist() == pytest.approx([400 + 20 + 30, 200 + 30, 100 + 7.5 + 30])
    assert result.minutes.tolist() == pytest.approx([4.5, 2.3, 1.375])  # 100 m per minute at 6 km/h
    near = nw.access(net, places, facility, speed_kmh=6.0, minutes=4)  # reach 400 m
    assert near.covered.tolist() == [False, True, True]
    # Beyond the reach the search stops: the distance is not computed, only known to be too far.
    assert near.metres[0] == np.inf


def test_the_nearest_of_several_facilities_wins() -> None:
    net = line(10)
    result = nw.access(net, at_nodes([4, 9]), at_nodes([0, 8], [0.0, 50.0]), minutes=15)
    assert result.metres.tolist() == pytest.approx([400.0, 150.0])


def test_facilities_sharing_a_node_count_the_shorter_leg_not_the_sum() -> None:
    net = line(4)
    result = nw.access(net, at_nodes([3]), at_nodes([0, 0, 0], [40.0, 15.0, 25.0]))
    assert result.metres.tolist() == pytest.approx([315.0])


def test_multi_source_distances_equal_the_minimum_of_single_source_runs() -> None:
    net = nw.street_grid(121.40, 31.20, 121.43, 31.22, spacing_m=200, seed=3)
    graph = net.graph()
    rng = np.random.default_rng(5)
    facilities = at_nodes(rng.choice(net.node_count, 4, replace=False).tolist(), [0.0, 10.0, 25.0, 3.0])
    fast = nw.distance_to_nearest(graph, facilities)
    each = dijkstra(graph, directed=False, indices=facilities.node) + facilities.metres[:, np.newaxis]
    assert np.allclose(fast, each.min(axis=0), atol=1e-5)


def test_the_street_grid_is_connected_and_deterministic_per_seed() -> None:
    a = nw.street_grid(121.40, 31.20, 121.42, 31.21, spacing_m=150, seed=9)
    b = nw.street_grid(121.40, 31.20, 121.42, 31.21, spacing_m=150, seed=9)
    c = nw.street_grid(121.40, 31.20, 121.42, 31.21, spacing_m=150, seed=10)
    assert np.array_equal(a.edge_u, b.edge_u)
    assert np.array_equal(a.lon, b.lon)
    assert not np.array_equal(a.edge_u, c.edge_u)
    assert np.isfinite(dijkstra(a.graph(), directed=False, indices=0)).all()
    assert a.edge_m.min() == pytest.approx(150, rel=0.01)
    assert a.edge_m.max() == pytest.approx(150, rel=0.01)


def test_a_full_grid_routes_around_the_block_not_across_it() -> None:
    net = nw.street_grid(121.40, 31.20, 121.41, 31.21, spacing_m=100, missing_share=0.0)
    # Manhattan distance: from the south-west corner to a node three east and four north is 700 m.
    cols = round((net.lon.max() - net.lon.min()) / (net.lon[1] - net.lon[0])) + 1
    target = 4 * cols + 3
    dist = dijkstra(net.graph(), directed=False, indices=0)
    assert dist[target] == pytest.approx(700, rel=0.01)


def test_snapping_finds_the_nearest_node_and_its_distance() -> None:
    net = line(5)
    snapped = nw.snap(net, np.array([121.4021, 121.3990]), np.array([31.2, 31.2]))
    assert snapped.node.tolist() == [2, 0]
    metres_per_degree = nw.EARTH_RADIUS_M * np.pi / 180 * np.cos(np.radians(31.2))
    assert snapped.metres.tolist() == pytest.approx(
        [0.0001 * metres_per_degree, 0.001 * metres_per_degree], rel=0.01
    )


def test_ways_become_edges_and_fragments_are_dropped() -> None:
    coords = {
        1: (121.40, 31.20),
        2: (121.401, 31.20),
        3: (121.402, 31.20),
        7: (121.5, 31.3),
        8: (121.501, 31.3),
    }
    net = nw.network_from_ways(coords, [[1, 2, 3], [7, 8], [3, 99]]).largest_component()
    assert net.node_count == 3
    assert net.edge_count == 2
    assert net.edge_m.tolist() == pytest.approx([95.3, 95.3], abs=0.5)  # 0.001° of longitude at 31.2° N


def test_coverage_share_is_weighted_by_residents() -> None:
    covered = np.array([True, False, True])
    assert nw.coverage_share(covered) == pytest.approx(2 / 3)
    assert nw.coverage_share(covered, np.array([10.0, 30.0, 0.0])) == pytest.approx(0.25)
    assert nw.coverage_share(np.zeros(0, dtype=bool)) == 0.0


def test_the_planner_puts_the_first_site_where_most_uncovered_people_live() -> None:
    net = line(30)  # 2.9 km of street
    places = at_nodes([0, 1, 20, 21, 22, 28])
    weights = np.array([5.0, 5.0, 10.0, 10.0, 10.0, 2.0])
    facility = at_nodes([0])
    proposals = nw.propose_sites(
        net, places, weights, facility, 2, candidates=np.arange(30, dtype=np.int64), speed_kmh=6, minutes=3
    )  # reach 300 m
    first, second = proposals
    assert 19 <= first.node <= 23  # within 300 m of all of 20-22 (and not of 28 too unless it can)
    assert first.added_weight == 30.0
    assert second.added_weight == 2.0
    assert second.coverage_after == pytest.approx(1.0)
    assert first.coverage_after == pytest.approx(40 / 42)


def test_the_planner_stops_when_nothing_is_left_to_cover() -> None:
    net = line(5)
    proposals = nw.propose_sites(net, at_nodes([1, 2]), np.array([1.0, 1.0]), at_nodes([0]), 3)
    assert proposals == []


def test_greedy_sites_really_cover_what_they_claim() -> None:
    net = nw.street_grid(121.40, 31.20, 121.45, 31.23, spacing_m=150, seed=2)
    rng = np.random.default_rng(8)
    lon = rng.uniform(121.40, 121.45, 400)
    lat = rng.uniform(31.20, 31.23, 400)
    places = nw.snap(net, lon, lat)
    weights = rng.integers(1, 50, 400).astype(np.float64)
    facilities = nw.snap(net, np.array([121.41, 121.44]), np.array([31.21, 31.22]))
    proposals = nw.propose_sites(net, places, weights, facilities, 3)
    assert len(proposals) == 3
    shares = [p.coverage_after for p in proposals]
    assert shares == sorted(shares)
    # Opening the proposed stations gives exactly the coverage the planner promised.
    opened = nw.Snap(
        np.concatenate([facilities.node, [p.node for p in proposals]]),
        np.concatenate([facilities.metres, np.zeros(3)]),
    )
    after = nw.access(net, places, opened)
    assert nw.coverage_share(after.covered, weights) == pytest.approx(shares[-1])


def test_k_out_of_range_is_refused() -> None:
    with pytest.raises(nw.NetworkError, match="k: 0"):
        nw.propose_sites(line(3), at_nodes([1]), np.ones(1), at_nodes([0]), 0)
