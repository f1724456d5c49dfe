"""Kulldorff's prospective space-time permutation scan statistic.

Kulldorff, Heffernan, Hartman, Assunção and Mostashari (2005), A space-time permutation scan statistic
for disease outbreak detection, PLoS Medicine 2(3):e59. Cylinders are circles of neighbouring units
(around each unit, growing to a maximum share of units) over the last 1..`max_days` days; the expected
count of a unit on a day is its total times the day's total over the grand total, so no population is
needed. The likelihood ratio is Kulldorff's Poisson one (1997, Commun Stat Theory Methods 26:1481);
its significance comes from Monte Carlo replicates that shuffle the days of the cases.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from jiayi.surveillance.detectors._common import FloatArray, IntArray, check_counts, check_positive_int

CLUSTER_COLUMNS = ("units", "start", "end", "days", "observed", "expected", "llr", "p_value")


def poisson_llr(c: npt.ArrayLike, expected: npt.ArrayLike, total: npt.ArrayLike) -> FloatArray:
    """Kulldorff's log-likelihood ratio for `c` cases inside a window expecting `expected` of `total`.

    c·ln(c/E) + (C - c)·ln((C - c)/(C - E)) when c > E, else 0 (only excesses count).
    """
    cases = np.asarray(c, dtype=np.float64)
    mean = np.asarray(expected, dtype=np.float64)
    grand = np.asarray(total, dtype=np.float64)
    outside = grand - cases
    with np.errstate(divide="ignore", invalid="ignore"):
        inside_term = np.where(cases > 0, cases * np.log(cases / mean), 0.0)
        outside_term = np.where(outside > 0, outside * np.log(outside / (grand - mean)), 0.0)
        llr = np.where(cases > mean, inside_term + outside_term, 0.0)
    return np.asarray(llr, dtype=np.float64)


def space_time_permutation_scan(
    counts_by_unit_and_day: pd.DataFrame,
    coordinates: pd.DataFrame,
    *,
    max_days: int = 7,
    max_share: float = 0.5,
    n_replicates: int = 999,
    rng: np.random.Generator | int | None = None,
    max_clusters: int = 10,
) -> pd.DataFrame:
    """Scan the last days of a units × days table of counts for space-time clusters (Kulldorff 2005).

    `counts_by_unit_and_day` has one row per day (consecutive dates, the last row being today) and one
    column per unit (a community, a clinic); the whole table is the study period that defines expected
    counts. `coordinates` is indexed by unit with projected `x` and `y` columns (kilometres, say).
    Circles are centred on each unit and grow over its nearest units up to `max_share` of all units;
    each is combined with the last 1..`max_days` days. `rng` (a numpy Generator or a seed) drives the
    `n_replicates` Monte Carlo shuffles of case days, so results are reproducible.

    Returns one row per cluster: the most likely cluster and then further clusters that share no unit
    with a higher one, with `units` (tuple of unit labels), `start` and `end` dates, `days`,
    `observed`, `expected`, `llr` and `p_value` (rank of the cluster's LLR among the replicates'
    maxima, as SaTScan reports secondary clusters). Empty when no window has more cases than expected.
    """
    table, units, dates = _check_table(counts_by_unit_and_day)
    points = _check_coordinates(coordinates, units)
    max_days = check_positive_int(max_days, "max_days")
    if not 0.0 < max_share <= 1.0:
        raise ValueError(f"max_share must lie in (0, 1], got {max_share}")
    n_replicates = check_positive_int(n_replicates, "n_replicates", minimum=0)
    max_clusters = check_positive_int(max_clusters, "max_clusters")
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    n_days, n_units = table.shape
    depth = min(max_days, n_days)
    circle = max(1, int(np.floor(max_share * n_units)))
    distance = np.hypot(
        points[:, 0][:, np.newaxis] - points[:, 0], points[:, 1][:, np.newaxis] - points[:, 1]
    )
    neighbours = np.argsort(distance, axis=1, kind="stable")[:, :circle]  # (centres, circle size)

    unit_totals = table.sum(axis=0)
    day_totals = table.sum(axis=1)
    grand = float(table.sum())
    empty = pd.DataFrame(columns=list(CLUSTER_COLUMNS))
    if grand == 0:
        return empty
    recent_days = day_totals[::-1][:depth]  # today first
    expected_unit = unit_totals[:, np.newaxis] * np.cumsum(recent_days)[np.newaxis, :] / grand
    expected = np.cumsum(expected_unit[neighbours], axis=1)  # (centres, circle size, days back)

    observed = _window_counts(table[::-1][:depth].T, neighbours)
    llr = poisson_llr(observed, expected, grand)

    maxima = _replicate_maxima(table, neighbours, expected, grand, depth, n_replicates, generator)

    order = np.argsort(-llr, axis=None, kind="stable")
    taken = np.zeros(n_units, dtype=np.bool_)
    clusters: list[dict[str, object]] = []
    for flat in order:
        centre, size, back = np.unravel_index(flat, llr.shape)
        value = float(llr[centre, size, back])
        if value <= 0 or len(clusters) >= max_clusters:
            break
        members = neighbours[centre, : size + 1]
        if taken[members].any():
            continue
        taken[members] = True
        p_value = (1 + int(np.sum(maxima >= value))) / (n_replicates + 1)
        clusters.append(
            {
                "units": tuple(units[members]),
                "start": dates[n_days - 1 - back],
                "end": dates[n_days - 1],
                "days": int(back) + 1,
                "observed": int(observed[centre, size, back]),
                "expected": float(expected[centre, size, back]),
                "llr": value,
                "p_value": p_value,
            }
        )
    if not clusters:
        return empty
    return pd.DataFrame(clusters, columns=list(CLUSTER_COLUMNS))


def _window_counts(recent_by_unit: FloatArray, neighbours: IntArray) -> FloatArray:
    """Cases in each cylinder: (units × days back, today first) → (centres, circle size, days back)."""
    by_unit = np.cumsum(recent_by_unit, axis=1)
    return np.asarray(np.cumsum(by_unit[neighbours], axis=1), dtype=np.float64)


def _replicate_maxima(
    table: FloatArray,
    neighbours: IntArray,
    expected: FloatArray,
    grand: float,
    depth: int,
    n_replicates: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Largest LLR of each replicate in which the cases' days are shuffled (margins kept)."""
    n_units = table.shape[1]
    case_units = np.repeat(np.arange(n_units), table.sum(axis=0).astype(np.int64))
    recent_totals = table[::-1][:depth].sum(axis=1).astype(np.int64)
    recent_days = np.repeat(np.arange(depth), recent_totals)
    n_recent = len(recent_days)
    maxima = np.zeros(n_replicates)
    for replicate in range(n_replicates):
        # Shuffling the days of all cases and looking at the recent ones only is the same as drawing,
        # in random order, which cases receive the recent days.
        chosen = rng.choice(len(case_units), size=n_recent, replace=False, shuffle=True)
        cells = np.bincount(case_units[chosen] * depth + recent_days, minlength=n_units * depth).reshape(
            n_units, depth
        )
        observed = _window_counts(cells.astype(np.float64), neighbours)
        maxima[replicate] = float(np.max(poisson_llr(observed, expected, grand), initial=0.0))
    return maxima


def _check_table(frame: object) -> tuple[FloatArray, npt.NDArray[np.object_], pd.DatetimeIndex]:
    name = "counts_by_unit_and_day"
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame (days × units)")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValueError(f"{name} must be indexed by date")
    if not (frame.index.is_monotonic_increasing and frame.index.is_unique):
        raise ValueError(f"{name} must have a strictly increasing index (one row per day)")
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise ValueError(f"{name} must have at least one day and one unit")
    values = check_counts(frame.to_numpy(dtype=np.float64, na_value=np.nan), name)
    return values, np.asarray(frame.columns, dtype=object), pd.DatetimeIndex(frame.index)


def _check_coordinates(coordinates: object, units: npt.NDArray[np.object_]) -> FloatArray:
    name = "coordinates"
    if not isinstance(coordinates, pd.DataFrame) or not {"x", "y"} <= set(coordinates.columns):
        raise ValueError(f"{name} must be a DataFrame indexed by unit with columns 'x' and 'y'")
    missing = [unit for unit in units if unit not in coordinates.index]
    if missing:
        raise ValueError(f"{name} lacks units {missing[:5]}")
    points = coordinates.loc[list(units), ["x", "y"]].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name} must be finite numbers")
    return points
