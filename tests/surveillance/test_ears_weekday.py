"""EARS with the day-of-week adjustment for daily series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jiayi.surveillance.detection import check_parameters
from jiayi.surveillance.detectors import ears, ears_arrays

# Monday..Sunday: a clinic that is much busier on Mondays and quiet at weekends.
STRONG = np.array([1.6, 1.2, 1.0, 1.0, 1.0, 0.6, 0.5])
DAYS = pd.date_range("2024-01-01", periods=400, freq="D")  # starts on a Monday


def weekday_series(level: float, factors: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mean = level * factors[np.arange(len(DAYS)) % 7]
    return rng.poisson(mean, size=(n, len(DAYS))).astype(np.float64)


def test_the_expectation_follows_the_weekday_and_the_spread_the_mean() -> None:
    counts = weekday_series(30.0, STRONG, 400, seed=1)
    plain = ears_arrays(counts, "C1", baseline=28)
    adjusted = ears_arrays(counts, "C1", baseline=28, day_of_week=True)
    day = np.arange(300, 307)
    truth = 30.0 * STRONG[day % 7]
    # Without the adjustment every weekday expects the 4-week mean; with it, its own level.
    np.testing.assert_allclose(plain.expected[:, day].mean(axis=0), 30.0 * STRONG.mean(), rtol=0.02)
    np.testing.assert_allclose(adjusted.expected[:, day].mean(axis=0), truth, rtol=0.02)
    # Poisson counts: the standard deviation is about √mean on each weekday.
    sd = (adjusted.threshold[:, day] - adjusted.expected[:, day]) / 3.090232
    np.testing.assert_allclose(sd.mean(axis=0), np.sqrt(truth), rtol=0.1)


def test_it_stops_busy_mondays_alarming_and_keeps_the_rate_of_a_series_without_weekdays() -> None:
    weekly = weekday_series(30.0, STRONG, 200, seed=2)
    flat = weekday_series(30.0, np.ones(7), 200, seed=3)
    monitored = np.s_[:, 100:]

    def rate(counts: np.ndarray, **settings: object) -> float:
        detection = ears_arrays(counts, "C2", baseline=7, **settings)  # type: ignore[arg-type]
        return float(detection.alarm[monitored].mean())

    def monday_share(counts: np.ndarray, **settings: object) -> float:
        alarm = ears_arrays(counts, "C2", baseline=7, **settings).alarm[monitored]  # type: ignore[arg-type]
        mondays = (np.arange(100, len(DAYS)) % 7) == 0
        return float(alarm[:, mondays].sum() / max(alarm.sum(), 1))

    # A 7-day baseline mixes quiet weekends into Monday's: Mondays take most alarms without adjustment.
    assert monday_share(weekly) > 0.5
    assert monday_share(weekly, day_of_week=True) < 0.3
    assert rate(weekly, day_of_week=True) == pytest.approx(rate(flat), abs=0.01)


def test_a_flat_series_stays_flat_and_early_days_have_no_baseline() -> None:
    result = ears(pd.Series(np.full(60, 3), index=DAYS[:60]), "C1", day_of_week=True)
    assert result.expected.iloc[:28].isna().all()
    np.testing.assert_allclose(result.expected.iloc[28:], 3.0)
    np.testing.assert_allclose(result.threshold.iloc[28:], 3.0)
    assert not result.alarm.any()


def test_c3_uses_the_adjusted_baseline_too() -> None:
    counts = weekday_series(20.0, STRONG, 1, seed=4)[0]
    counts[-3:] += 25
    result = ears(pd.Series(counts, index=DAYS), "C3", day_of_week=True)
    assert result.alarm.iloc[-1]
    assert result.expected.iloc[-10:].notna().all()


def test_it_needs_a_daily_series_and_is_a_setting() -> None:
    weekly = pd.Series(np.arange(40), index=pd.date_range("2024-01-01", periods=40, freq="7D"))
    with pytest.raises(ValueError, match="daily series"):
        ears(weekly, "C1", day_of_week=True)
    assert check_parameters("ears_c1", {"day_of_week": True, "baseline": 28}) == []
    assert check_parameters("ears_c2", {"day_of_week": "yes"}) == ["day_of_week must be true or false"]
