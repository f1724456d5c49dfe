"""Kulldorff's Poisson likelihood ratio and the prospective space-time permutation scan (Kulldorff 2005)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiayi.surveillance.detectors import poisson_llr, space_time_permutation_scan


def grid(n_side: int = 6) -> pd.DataFrame:
    """Units on a square grid 1 km apart."""
    units = [f"unit-{i:02d}" for i in range(n_side * n_side)]
    return pd.DataFrame(
        {"x": [i % n_side for i in range(n_side**2)], "y": [i // n_side for i in range(n_side**2)]},
        index=units,
        dtype=float,
    )


def background(coordinates: pd.DataFrame, days: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-03-01", periods=days, freq="D")
    return pd.DataFrame(rng.poisson(1.5, (days, len(coordinates))), index=index, columns=coordinates.index)


def test_it_computes_kulldorffs_likelihood_ratio() -> None:
    # Kulldorff's Poisson LLR check value, as listed with R surveillance's test values in the project's
    # reference data: c = 106 cases in a window expecting 62.13 of 552 → 14.782.
    assert float(poisson_llr(106, 62.13, 552)) == pytest.approx(14.782, abs=5e-4)


def test_it_counts_only_excess() -> None:
    assert float(poisson_llr(50, 62.13, 552)) == 0.0
    assert float(poisson_llr(0, 1.0, 10)) == 0.0
    assert float(poisson_llr(10, 2.0, 10)) == pytest.approx(10 * np.log(10 / 2))


@settings(max_examples=100)
@given(
    total=st.integers(1, 2000),
    share=st.floats(0.01, 0.99),
    counts=st.tuples(st.integers(0, 2000), st.integers(0, 2000)).map(sorted),
)
def test_it_grows_with_cases_above_expectation(total: int, share: float, counts: list[int]) -> None:
    expected = share * total
    low, high = (min(c, total) for c in counts)
    llr_low, llr_high = float(poisson_llr(low, expected, total)), float(poisson_llr(high, expected, total))
    assert llr_low >= 0
    assert llr_high >= llr_low - 1e-9


def test_it_finds_an_injected_cluster() -> None:
    coordinates = grid()
    table = background(coordinates, 60, seed=1)
    hot = ["unit-14", "unit-08", "unit-13", "unit-15", "unit-20"]  # unit-14 and its four neighbours
    table.loc[table.index[-3:], hot] += 5
    clusters = space_time_permutation_scan(table, coordinates, max_days=7, n_replicates=199, rng=5)
    top = clusters.iloc[0]
    assert set(top.units) == set(hot)
    assert top.end == table.index[-1]
    assert top.start >= table.index[-4]
    assert top.observed > top.expected
    assert top.p_value == pytest.approx(1 / 200)
    assert list(clusters.columns) == [
        "units",
        "start",
        "end",
        "days",
        "observed",
        "expected",
        "llr",
        "p_value",
    ]
    # Secondary clusters never share a unit with a higher one.
    seen: set[str] = set()
    for units in clusters.units:
        assert not seen & set(units)
        seen |= set(units)


def test_it_gives_calibrated_p_values_on_background_noise() -> None:
    # Without clusters the most likely cluster's p-value is uniform: about 5% of tables fall at 0.05.
    coordinates = grid()
    p_values = np.array(
        [
            space_time_permutation_scan(
                background(coordinates, 40, seed), coordinates, n_replicates=49, rng=seed
            ).p_value.min()
            for seed in range(60)
        ]
    )
    assert np.mean(p_values <= 0.05) < 0.15
    assert 0.35 < p_values.mean() < 0.65


def test_it_is_reproducible_with_a_seed() -> None:
    coordinates = grid(4)
    table = background(coordinates, 30, seed=3)
    first = space_time_permutation_scan(table, coordinates, n_replicates=99, rng=np.random.default_rng(8))
    second = space_time_permutation_scan(table, coordinates, n_replicates=99, rng=np.random.default_rng(8))
    pd.testing.assert_frame_equal(first, second)


def test_it_limits_circles_to_the_maximum_share_of_units() -> None:
    coordinates = grid(4)
    table = background(coordinates, 30, seed=4)
    table.iloc[-2:, :] += 6  # everywhere at once: the largest allowed circle wins
    clusters = space_time_permutation_scan(table, coordinates, max_share=0.25, n_replicates=19, rng=1)
    assert clusters.units.map(len).max() <= 4


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"max_days": 0}, "max_days"),
        ({"max_share": 0.0}, "max_share"),
        ({"n_replicates": -1}, "n_replicates"),
    ],
)
def test_it_rejects_bad_settings(change: dict[str, object], parameter: str) -> None:
    coordinates = grid(3)
    with pytest.raises(ValueError, match=parameter):
        space_time_permutation_scan(background(coordinates, 10, seed=1), coordinates, **change)  # type: ignore[arg-type]


def test_it_rejects_bad_tables_and_coordinates() -> None:
    coordinates = grid(3)
    table = background(coordinates, 10, seed=1)
    with pytest.raises(ValueError, match="coordinates"):
        space_time_permutation_scan(table, coordinates.drop(index="unit-00"))
    with pytest.raises(ValueError, match="counts_by_unit_and_day"):
        space_time_permutation_scan(table - 5, coordinates)
    with pytest.raises(ValueError, match="counts_by_unit_and_day"):
        space_time_permutation_scan(table.iloc[::-1], coordinates)
