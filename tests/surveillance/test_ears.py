"""EARS C1, C2, C3 against R `surveillance::earsC` and their properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiayi.surveillance.detectors import ears, ears_arrays

from .conftest import Reference

counts_lists = st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=80)


def weekly(values: list[int]) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=len(values), freq="7D"))


@pytest.mark.parametrize("method", ["C1", "C2"])
@pytest.mark.parametrize("r_compatible", [False, True])
def test_it_reproduces_r_alarms_for_c1_and_c2(salmonella: Reference, method: str, r_compatible: bool) -> None:
    result = ears(salmonella.series, method, alpha=0.001, r_compatible=r_compatible)  # type: ignore[arg-type]
    alarms = result.alarm.loc[salmonella.test_weeks]
    expected = salmonella.r_alarms[f"Ears{method}"]
    assert (alarms.to_numpy() == expected.to_numpy()).sum() == 105


def test_it_reproduces_r_alarms_for_c3_in_r_compatible_mode(salmonella: Reference) -> None:
    result = ears(salmonella.series, "C3", alpha=0.001, r_compatible=True)
    alarms = result.alarm.loc[salmonella.test_weeks]
    assert (alarms.to_numpy() == salmonella.r_alarms["EarsC3"].to_numpy()).sum() == 105


def test_it_alarms_a_period_earlier_with_the_documented_c3(salmonella: Reference) -> None:
    # Fricker et al. (2008) sum the current period's term too; R leaves it out, so each of R's alarms
    # is matched by a documented-C3 alarm in the same week and in the week before.
    documented = ears(salmonella.series, "C3", alpha=0.001).alarm
    r_weeks = salmonella.r_alarms["EarsC3"][salmonella.r_alarms["EarsC3"]].index
    positions = salmonella.series.index.get_indexer(r_weeks)
    assert documented.iloc[positions].all()
    assert documented.iloc[positions - 1].all()
    assert pd.Timestamp("2011-11-07") in documented[documented].index  # R's run starts on 2011-11-14


def test_it_matches_r_published_c1_upper_bounds(salmonella: Reference) -> None:
    # R surveillance, tests/testthat/test-earsC.R: earsC on salmNewport aggregated over Germany,
    # method C1, alpha 0.05, range the ISO weeks of 2011; upper bounds of the first four weeks.
    result = ears(salmonella.series, "C1", alpha=0.05)
    bounds = result.threshold[result.index >= pd.Timestamp("2011-01-01")].iloc[:4].to_numpy()
    np.testing.assert_allclose(bounds, [3.278854, 3.278854, 3.436517, 3.855617], atol=1e-6)


def test_it_uses_the_baseline_mean_and_sample_sd() -> None:
    series = weekly([2, 4, 4, 4, 5, 5, 7, 9, 30])
    result = ears(series, "C1", alpha=0.05, baseline=7)
    baseline = np.array([4, 4, 4, 5, 5, 7, 9], dtype=float)
    assert result.expected.iloc[8] == pytest.approx(baseline.mean())
    sd = baseline.std(ddof=1)
    assert result.threshold.iloc[8] == pytest.approx(baseline.mean() + 1.6448536 * sd, rel=1e-6)
    assert result.score.iloc[8] == pytest.approx((30 - baseline.mean()) / sd)
    assert bool(result.alarm.iloc[8])


def test_it_floors_the_sd_with_min_sigma() -> None:
    series = weekly([1] * 7 + [2])
    assert bool(ears(series, "C1").alarm.iloc[7])  # any rise over a flat baseline alarms
    assert not bool(ears(series, "C1", min_sigma=0.5).alarm.iloc[7])


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"method": "C4"}, "method"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"baseline": 2}, "baseline"),
        ({"min_sigma": -1.0}, "min_sigma"),
    ],
)
def test_it_rejects_bad_settings(kwargs: dict[str, object], parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        ears(weekly([1] * 20), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "series",
    [
        weekly([1, 2, -1, 3]),
        weekly([1, 2, 1.5, 3]),  # type: ignore[list-item]
        weekly([1, 2, np.nan, 3]),  # type: ignore[list-item]
        pd.Series([1, 2, 3], index=pd.to_datetime(["2024-01-15", "2024-01-08", "2024-01-22"])),
        pd.Series([1, 2, 3], index=pd.to_datetime(["2024-01-08", "2024-01-08", "2024-01-22"])),
    ],
)
def test_it_rejects_counts_that_are_not_a_count_series(series: pd.Series) -> None:
    with pytest.raises(ValueError, match="series"):
        ears(series)


@settings(max_examples=60, deadline=None)
@given(values=counts_lists, method=st.sampled_from(["C1", "C2", "C3"]), baseline=st.integers(3, 10))
def test_it_keeps_the_index_and_leaves_short_baselines_undecided(
    values: list[int], method: str, baseline: int
) -> None:
    series = weekly(values)
    result = ears(series, method, baseline=baseline)  # type: ignore[arg-type]
    assert result.index.equals(series.index)
    assert list(result.columns) == ["expected", "threshold", "score", "alarm"]
    needed = baseline + {"C1": 0, "C2": 2, "C3": 4}[method]
    head = result.iloc[:needed]
    assert head.expected.isna().all()
    assert not head.alarm.any()


@settings(max_examples=60, deadline=None)
@given(
    values=counts_lists,
    method=st.sampled_from(["C1", "C2", "C3"]),
    levels=st.tuples(st.floats(1e-4, 0.5), st.floats(1e-4, 0.5)).map(sorted),
    min_sigma=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_it_alarms_more_at_a_larger_alpha(
    values: list[int], method: str, levels: list[float], min_sigma: float
) -> None:
    series = weekly(values)
    strict = ears(series, method, alpha=levels[0], min_sigma=min_sigma).alarm  # type: ignore[arg-type]
    lenient = ears(series, method, alpha=levels[1], min_sigma=min_sigma).alarm  # type: ignore[arg-type]
    assert not (strict & ~lenient).any()


@settings(max_examples=60, deadline=None)
@given(values=counts_lists, method=st.sampled_from(["C1", "C2"]), min_sigma=st.sampled_from([0.0, 1.0]))
def test_it_alarms_exactly_above_the_threshold_for_c1_and_c2(
    values: list[int], method: str, min_sigma: float
) -> None:
    result = ears(weekly(values), method, min_sigma=min_sigma)  # type: ignore[arg-type]
    decided = result.threshold.notna()
    counts = pd.Series(values, index=result.index)
    assert (result.alarm[decided] == (counts[decided] > result.threshold[decided])).all()


@settings(max_examples=60, deadline=None)
@given(values=counts_lists, alpha=st.floats(1e-4, 0.3))
def test_it_never_alarms_later_with_the_documented_c3_than_with_r(values: list[int], alpha: float) -> None:
    series = weekly(values)
    documented = ears(series, "C3", alpha=alpha).alarm.to_numpy()
    r_style = ears(series, "C3", alpha=alpha, r_compatible=True).alarm.to_numpy()
    assert not (r_style & ~documented).any()


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(0, 30), min_size=25, max_size=25), min_size=1, max_size=5),
    method=st.sampled_from(["C1", "C2", "C3"]),
)
def test_it_gives_the_same_result_for_many_series_at_once(rows: list[list[int]], method: str) -> None:
    together = ears_arrays(np.array(rows), method)  # type: ignore[arg-type]
    for i, values in enumerate(rows):
        alone = ears(weekly(values), method)  # type: ignore[arg-type]
        np.testing.assert_array_equal(together.alarm[i], alone.alarm.to_numpy())
        np.testing.assert_allclose(together.threshold[i], alone.threshold.to_numpy(), equal_nan=True)
