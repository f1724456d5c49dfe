"""EARS C1, C2 and C3 (CDC Early Aberration Reporting System).

Fricker, Hegler and Dunfee (2008), Comparing syndromic surveillance detection methods: EARS' versus a
CUSUM-based methodology, Statistics in Medicine 27:3407-3429. The implementation follows R
`surveillance::earsC` (Salmon, Schumacher and Höhle 2016, J Stat Softw 70(10)) and reproduces its alarms.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr
from scipy.stats import norm

from jiayi.surveillance.detectors._common import (
    Detection,
    FloatArray,
    by_chunks,
    check_alpha,
    check_counts,
    counts_of,
    nan_detection,
)

EarsMethod = Literal["C1", "C2", "C3"]

# R's defaults: about three standard deviations for C1/C2, two for the cumulative C3.
DEFAULT_ALPHA: dict[str, float] = {"C1": 0.001, "C2": 0.001, "C3": 0.025}
# C2 and C3 leave a two-period guard band between the baseline and the current period.
_GUARD = {"C1": 0, "C2": 2, "C3": 2}
# Days over which weekday factors are estimated, in whole weeks: at least four of each weekday, at
# most a year's.
WEEKDAY_WINDOW = (28, 364)
# Added to both weekday and overall daily means, so a weekday with no counts gets a small factor.
_PSEUDO_COUNT = 0.5


def ears(
    series: pd.Series,
    method: EarsMethod = "C1",
    alpha: float | None = None,
    baseline: int = 7,
    min_sigma: float = 0.0,
    *,
    day_of_week: bool = False,
    r_compatible: bool = False,
    include_p_value: bool = False,
) -> pd.DataFrame:
    """Run EARS C1, C2 or C3 over a series of counts indexed by period start.

    C1 compares each count with the mean and standard deviation (n - 1) of the `baseline` periods just
    before it; C2 does the same after a two-period guard band; C3 sums max(0, C2 - 1) over the current
    and two previous periods (Fricker 2008). C1/C2 alarm when the count exceeds
    mean + z·max(sd, min_sigma), z the (1 - alpha) normal quantile; C3 alarms when its sum exceeds z.

    `alpha` defaults to R's 0.001 for C1/C2 and 0.025 for C3. `min_sigma` (R's minSigma, default 0)
    floors the standard deviation: 0.5-1 keeps sparse series from alarming on a single case after a run
    of zeros. `r_compatible` makes C3 follow R `surveillance`, which leaves the current period's term out
    of the sum and needs a positive count, so it alarms one period later than the documented formula.

    `day_of_week` is for daily series whose level depends on the weekday (clinics busier on Mondays,
    schools closed at weekends): a 7-day baseline then mixes busy and quiet days, so its standard
    deviation is inflated on quiet days and a busy Monday looks like an aberration. With it, each
    weekday gets a factor (its mean over the mean of all days, in up to a year of whole weeks ending with
    the baseline); the baseline's level is its total over its days' factors and its variance is taken
    as proportional to the mean, so the current day expects level × factor with variance scaled by
    the factor. The series must then be daily without gaps, and periods before
    four weeks of history have no baseline.

    Returns a DataFrame on the series' index with `expected` (baseline mean), `threshold`, `score`
    (the C1/C2/C3 statistic) and `alarm`; NaN/False where the baseline is too short. With
    `include_p_value` a `p_value` column gives the smallest alpha at which each period would alarm.
    """
    counts, index = counts_of(series)
    if day_of_week and not _is_daily(index):
        raise ValueError("day_of_week needs a daily series: a date index with one row for every day")
    result = ears_arrays(
        counts,
        method=method,
        alpha=alpha,
        baseline=baseline,
        min_sigma=min_sigma,
        day_of_week=day_of_week,
        r_compatible=r_compatible,
    )
    return result.to_frame(index, include_p_value=include_p_value)


def ears_arrays(
    counts: npt.ArrayLike,
    method: EarsMethod = "C1",
    alpha: float | None = None,
    baseline: int = 7,
    min_sigma: float = 0.0,
    *,
    day_of_week: bool = False,
    r_compatible: bool = False,
) -> Detection:
    """EARS over many series at once: `counts` is shaped (series, periods); see `ears`. With
    `day_of_week` the periods are taken to be consecutive days."""
    if method not in _GUARD:
        raise ValueError(f"method must be one of 'C1', 'C2', 'C3', got {method!r}")
    level = check_alpha(DEFAULT_ALPHA[method] if alpha is None else alpha)
    if isinstance(baseline, bool) or not isinstance(baseline, (int, np.integer)) or baseline < 3:
        raise ValueError(f"baseline must be an integer of at least 3 periods, got {baseline!r}")
    if not min_sigma >= 0:
        raise ValueError(f"min_sigma must be non-negative, got {min_sigma}")
    z = float(norm.ppf(1.0 - level))

    def compute(y: FloatArray) -> Detection:
        stats = _weekday_baseline_stats if day_of_week else _baseline_stats
        mean, sigma = stats(y, int(baseline), _GUARD[method], float(min_sigma))
        if method == "C3":
            return _c3(y, mean, sigma, z, r_compatible=r_compatible)
        return _c1_c2(y, mean, sigma, z)

    return by_chunks(check_counts(counts), compute)


def _c1_c2(y: FloatArray, mean: FloatArray, sigma: FloatArray, z: float) -> Detection:
    result = nan_detection(y.shape)
    defined = ~np.isnan(mean)
    threshold = mean + z * sigma
    score = _standardise(y, mean, sigma)
    result.expected[defined] = mean[defined]
    result.threshold[defined] = threshold[defined]
    result.score[defined] = score[defined]
    result.alarm[defined] = y[defined] > threshold[defined]
    p_value = np.where(sigma > 0, ndtr(-score), np.where(y > mean, 0.0, 1.0))
    result.p_value[defined] = p_value[defined]
    return result


def _baseline_stats(
    y: FloatArray, baseline: int, guard: int, min_sigma: float
) -> tuple[FloatArray, FloatArray]:
    """Mean and floored sd of the `baseline` periods ending `guard + 1` periods before each period."""
    mean = np.full(y.shape, np.nan)
    sigma = np.full(y.shape, np.nan)
    lag = guard + 1
    first = baseline + lag - 1
    if y.shape[1] <= first:
        return mean, sigma
    zero = np.zeros((y.shape[0], 1))
    cumulative = np.concatenate([zero, np.cumsum(y, axis=1)], axis=1)
    squares = np.concatenate([zero, np.cumsum(y * y, axis=1)], axis=1)
    end = np.arange(first, y.shape[1]) - lag + 1  # one past each window's last period
    total = cumulative[:, end] - cumulative[:, end - baseline]
    total_sq = squares[:, end] - squares[:, end - baseline]
    # Integer counts keep n·Σy² - (Σy)² exact, so a flat baseline has an sd of exactly 0.
    spread = np.maximum(baseline * total_sq - total * total, 0.0)
    mean[:, first:] = total / baseline
    sigma[:, first:] = np.maximum(np.sqrt(spread / (baseline * (baseline - 1))), min_sigma)
    return mean, sigma


def _is_daily(index: pd.Index) -> bool:
    if not isinstance(index, pd.DatetimeIndex):
        return False
    return bool(np.all((index[1:] - index[:-1]) == pd.Timedelta(days=1)))


def _weekday_baseline_stats(
    y: FloatArray, baseline: int, guard: int, min_sigma: float
) -> tuple[FloatArray, FloatArray]:
    """Like `_baseline_stats`, on weekday-adjusted counts, scaled back to the current day's weekday.

    Factors are estimated per current day from the window of whole weeks ending with its baseline, so
    the current day and the guard band never shape them; a pseudo-count keeps the factors of sparse
    series near 1 instead of 0 or infinity.
    """
    n_series, periods = y.shape
    mean = np.full(y.shape, np.nan)
    sigma = np.full(y.shape, np.nan)
    lag = guard + 1
    shortest = 7 * max(WEEKDAY_WINDOW[0] // 7, -(-baseline // 7))
    first = shortest + lag - 1
    if periods <= first:
        return mean, sigma
    days = np.arange(first, periods)
    end = days - lag + 1  # one past each window's (and baseline's) last day
    # As many whole weeks as the history holds, up to a year: factors from a few weeks are noisy
    # enough to move the threshold's far tail.
    window = 7 * np.minimum(end // 7, WEEKDAY_WINDOW[1] // 7)
    position = np.arange(periods)
    # factor[r, :, j]: weekday r's level relative to all days, for current day days[j].
    factor = np.empty((7, n_series, len(days)))
    total = np.cumsum(np.concatenate([np.zeros((n_series, 1)), y], axis=1), axis=1)
    day_mean = (total[:, end] - total[:, end - window]) / window
    for r in range(7):
        same = np.cumsum(np.concatenate([np.zeros((n_series, 1)), y * (position % 7 == r)], axis=1), axis=1)
        weekday_mean = (same[:, end] - same[:, end - window]) / (window // 7)
        factor[r] = (weekday_mean + _PSEUDO_COUNT) / (day_mean + _PSEUDO_COUNT)
    columns = np.arange(len(days))
    baseline_days = [end - back for back in range(1, baseline + 1)]
    counts = [y[:, day] for day in baseline_days]
    factors = [factor[day % 7, :, columns].T for day in baseline_days]
    # Counts vary in proportion to their mean (Poisson, or overdispersed by a constant): the level is
    # the counts' total over the factors' total, and the spread is estimated on a per-unit-mean scale.
    level = sum(counts) / sum(factors)
    spread = sum((c - level * f) ** 2 / f for c, f in zip(counts, factors, strict=True)) / (baseline - 1)
    today = factor[days % 7, :, columns].T
    mean[:, first:] = level * today
    sd = np.sqrt(spread * today)
    # Rounding leaves a flat adjusted baseline a hair above 0; it is flat.
    sd = np.where(sd < 1e-9 * np.maximum(mean[:, first:], 1.0), 0.0, sd)
    sigma[:, first:] = np.maximum(sd, min_sigma)
    return mean, sigma


def _standardise(y: FloatArray, mean: FloatArray, sigma: FloatArray) -> FloatArray:
    """(y - mean)/sigma, with a zero sd giving ±inf for a count off the mean and 0 on it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (y - mean) / sigma
    flat = np.where(y > mean, np.inf, np.where(y < mean, -np.inf, 0.0))
    return np.where(np.isnan(mean), np.nan, np.where(sigma > 0, score, flat))


def _c3(y: FloatArray, mean: FloatArray, sigma: FloatArray, z: float, *, r_compatible: bool) -> Detection:
    result = nan_detection(y.shape)
    if r_compatible:
        # R divides by the floored sd without guarding 0/0, so a flat baseline leaves C3 undefined.
        with np.errstate(divide="ignore", invalid="ignore"):
            c2 = (y - mean) / sigma
    else:
        c2 = _standardise(y, mean, sigma)
    excess = np.maximum(0.0, c2 - 1.0)  # NaN stays NaN, as in R's pmax
    earlier = np.full(y.shape, np.nan)
    earlier[:, 2:] = excess[:, :-2] + excess[:, 1:-1]
    defined = ~np.isnan(earlier) if r_compatible else ~(np.isnan(earlier) | np.isnan(excess))
    # Periods whose own C2 baseline exists but whose earlier C2 terms do not are undefined, as in R.
    defined &= ~np.isnan(mean)
    defined[:, :2] = False

    if r_compatible:
        with np.errstate(invalid="ignore"):
            threshold = np.maximum(0.0, y + sigma * (z - earlier))
        score = earlier
        with np.errstate(invalid="ignore"):
            alarm = y > threshold
        p_value = np.where((y > 0) & (sigma > 0), ndtr(-earlier), 1.0)
        # 0·inf in R's upper bound is NaN: no decision, so no alarm.
        defined_threshold = defined & ~np.isnan(threshold)
        result.threshold[defined_threshold] = threshold[defined_threshold]
        result.alarm[defined_threshold] = alarm[defined_threshold]
        p_value = np.where(np.isnan(threshold), 1.0, p_value)
    else:
        score = earlier + excess
        # The count that would push the current term over what the two earlier terms leave of z;
        # 0 once the earlier terms alone exceed z (the period alarms whatever its count).
        with np.errstate(invalid="ignore"):
            room = np.where(sigma > 0, sigma * (1.0 + z - earlier), 0.0)
            threshold = np.where(earlier > z, 0.0, np.maximum(0.0, mean + room))
        result.threshold[defined] = threshold[defined]
        result.alarm[defined] = score[defined] > z
        p_value = ndtr(-score)

    result.expected[defined] = mean[defined]
    result.score[defined] = score[defined]
    result.p_value[defined] = p_value[defined]
    return result
