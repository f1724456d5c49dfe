"""China's CIDARS moving percentile method (Yang et al. 2011)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiayi.surveillance.detectors import moving_percentile, moving_percentile_arrays


def weekly(values: np.ndarray | list[int]) -> pd.Series:
    return pd.Series(np.asarray(values), index=pd.date_range("2020-01-06", periods=len(values), freq="7D"))


def daily(values: np.ndarray | list[int]) -> pd.Series:
    return pd.Series(np.asarray(values), index=pd.date_range("2020-01-01", periods=len(values), freq="D"))


def test_it_compares_the_week_with_the_same_weeks_of_three_past_years() -> None:
    counts = np.zeros(4 * 52, dtype=int)
    now = len(counts) - 1
    # The 15 baseline weeks (the same week ±2 in each of 3 years) hold 1..15; P90 of them is 13.6.
    lags = [52 * j - i for j in (1, 2, 3) for i in (-2, -1, 0, 1, 2)]
    counts[[now - lag for lag in lags]] = np.arange(1, 16)
    counts[now] = 14
    result = moving_percentile(weekly(counts), 90)
    assert result.threshold.iloc[-1] == pytest.approx(13.6)
    assert result.expected.iloc[-1] == pytest.approx(8.0)
    assert bool(result.alarm.iloc[-1])
    counts[now] = 13
    assert not bool(moving_percentile(weekly(counts), 90).alarm.iloc[-1])


def test_it_sums_the_last_seven_days_of_daily_data() -> None:
    rng = np.random.default_rng(4)
    counts = rng.poisson(3, 4 * 365)
    result = moving_percentile(daily(counts), 80)
    now = len(counts) - 1
    cumulative = np.concatenate([[0], np.cumsum(counts)])

    def week_ending(day: int) -> int:
        return int(cumulative[day + 1] - cumulative[day - 6])

    baseline = [week_ending(now - back + 7 * i) for back in (365, 731, 1096) for i in (-2, -1, 0, 1, 2)]
    assert result.threshold.iloc[-1] == pytest.approx(np.percentile(baseline, 80))
    assert bool(result.alarm.iloc[-1]) == (week_ending(now) >= np.percentile(baseline, 80))
    assert result.expected.first_valid_index() == result.index[1096 + 14 + 6]


def test_it_needs_min_count_cases_to_signal() -> None:
    counts = np.zeros(4 * 52, dtype=int)
    assert not moving_percentile(weekly(counts)).alarm.any()
    assert moving_percentile(weekly(counts), min_count=0).alarm.dropna().iloc[-1]


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"percentile": 120.0}, "percentile"),
        ({"window": 0}, "window"),
        ({"years": 0}, "years"),
        ({"windows_each_side": -1}, "windows_each_side"),
        ({"min_count": -1}, "min_count"),
    ],
)
def test_it_rejects_bad_settings(kwargs: dict[str, object], parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        moving_percentile(weekly([1] * 200), **kwargs)  # type: ignore[arg-type]


def test_it_rejects_bad_series() -> None:
    with pytest.raises(ValueError, match="series"):
        moving_percentile(weekly([1, 2, 3.5]))  # type: ignore[list-item]
    with pytest.raises(ValueError, match="daily or weekly"):
        moving_percentile(
            pd.Series([1, 2, 3], index=pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-05"]))
        )


history = st.lists(st.integers(0, 30), min_size=3 * 52 + 5, max_size=4 * 52)


@settings(max_examples=50, deadline=None)
@given(values=history, percentiles=st.tuples(st.floats(0, 100), st.floats(0, 100)).map(sorted))
def test_it_signals_less_at_a_higher_percentile(values: list[int], percentiles: list[float]) -> None:
    series = weekly(values)
    low = moving_percentile(series, percentiles[0])
    high = moving_percentile(series, percentiles[1])
    assert low.index.equals(series.index)
    assert not (high.alarm & ~low.alarm).any()
    needed = 3 * 52 + 2
    assert low.iloc[:needed].expected.isna().all()
    assert not low.iloc[:needed].alarm.any()


@settings(max_examples=50, deadline=None)
@given(values=history, percentile=st.floats(1, 100))
def test_it_reports_the_highest_percentile_the_count_reaches(values: list[int], percentile: float) -> None:
    result = moving_percentile(weekly(values), percentile, include_p_value=True).dropna()
    signals = np.asarray(result.p_value <= 1 - percentile / 100 + 1e-9)
    assert (signals == result.alarm.to_numpy()).all()
    assert ((result.score >= 0) & (result.score <= 100)).all()


@settings(max_examples=20, deadline=None)
@given(rows=st.lists(st.lists(st.integers(0, 9), min_size=170, max_size=170), min_size=1, max_size=4))
def test_it_gives_the_same_result_for_many_series_at_once(rows: list[list[int]]) -> None:
    index = pd.date_range("2020-01-06", periods=170, freq="7D")
    together = moving_percentile_arrays(np.array(rows), index)
    for i, values in enumerate(rows):
        alone = moving_percentile(pd.Series(values, index=index))
        np.testing.assert_array_equal(together.alarm[i], alone.alarm.to_numpy())
