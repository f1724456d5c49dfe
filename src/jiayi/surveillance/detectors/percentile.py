"""China's CIDARS moving percentile method.

Yang, Li, Lan et al. (2011), A nationwide web-based automated system for early outbreak detection and
rapid response in China, Western Pac Surveill Response J 2(1):10-15 (doi 10.5365/wpsar.2010.1.1.009):
the count of the most recent 7 days is compared with the x-th percentile of the counts of comparable
7-day windows in the three previous years, and a signal is raised when it reaches that percentile.
Published percentiles range from P50 to P90 by disease (P90 for most; Zhang et al. 2014, Chinese
Journal of Preventive Medicine 48(4):265-269). The baseline layout (the same window and the two before
and after it in each of the past years, 15 values) is configurable because descriptions of it vary.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from jiayi.surveillance.detectors._common import (
    Detection,
    FloatArray,
    by_chunks,
    cadence_of,
    check_counts,
    check_positive_int,
    counts_of,
    monitored_from,
    nan_detection,
    periods_back,
)


def moving_percentile(
    series: pd.Series,
    percentile: float = 90.0,
    *,
    window: int | None = None,
    years: int = 3,
    windows_each_side: int = 2,
    min_count: int = 1,
    monitor_from: object | None = None,
    include_p_value: bool = False,
) -> pd.DataFrame:
    """Run the CIDARS moving percentile method over a daily or weekly series of counts.

    The current count is the sum of the last `window` periods (default 7 days, or 1 week for weekly
    data). Its baseline is the same sum for the window ending on the same day j years earlier
    (365.25 days or 52 weeks per year), j = 1..`years`, and for the `windows_each_side` windows before
    and after it, laid end to end: 3 × 5 = 15 values by default. A signal is raised when the current
    count reaches the `percentile`-th percentile of the baseline (linear interpolation) and is at least
    `min_count`, so that zero cases never signal against an all-zero baseline.

    Returns a DataFrame on the series' index with `expected` (baseline median), `threshold` (the
    percentile), `score` (the highest percentile of the baseline the current count reaches, 0-100)
    and `alarm`; NaN/False until `years` years of history exist. With `include_p_value` a `p_value`
    column gives 1 - score/100: the period signals at every percentile x with 1 - x/100 >= p_value.
    """
    counts, index = counts_of(series)
    result = moving_percentile_arrays(
        counts,
        index,
        percentile,
        window=window,
        years=years,
        windows_each_side=windows_each_side,
        min_count=min_count,
        monitor_from=monitor_from,
    )
    return result.to_frame(index, include_p_value=include_p_value)


def moving_percentile_arrays(
    counts: npt.ArrayLike,
    index: pd.Index,
    percentile: float = 90.0,
    *,
    window: int | None = None,
    years: int = 3,
    windows_each_side: int = 2,
    min_count: int = 1,
    monitor_from: object | None = None,
) -> Detection:
    """The moving percentile method over many series sharing one date index (series, periods)."""
    y = check_counts(counts)
    if y.shape[1] != len(index):
        raise ValueError("counts must have one column per period of index")
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must lie between 0 and 100, got {percentile}")
    cadence = cadence_of(index, "index")
    width = check_positive_int((7 if cadence == "daily" else 1) if window is None else window, "window")
    years = check_positive_int(years, "years")
    side = check_positive_int(windows_each_side, "windows_each_side", minimum=0)
    min_count = check_positive_int(min_count, "min_count", minimum=0)

    n = y.shape[1]
    # Lags (in periods) of the baseline windows' last periods relative to the current period.
    lags = np.array(
        [periods_back(j, cadence) - i * width for j in range(1, years + 1) for i in range(-side, side + 1)],
        dtype=np.int64,
    )
    first = max(int(lags.max()) + width - 1, monitored_from(pd.DatetimeIndex(index), monitor_from))
    if first >= n:
        return nan_detection(y.shape)
    positions = np.arange(first, n)
    ends = positions[:, np.newaxis] - lags[np.newaxis, :]

    def compute(block: FloatArray) -> Detection:
        result = nan_detection(block.shape)
        cumulative = np.concatenate([np.zeros((block.shape[0], 1)), np.cumsum(block, axis=1)], axis=1)
        current = cumulative[:, positions + 1] - cumulative[:, positions + 1 - width]
        ordered = np.sort(cumulative[:, ends + 1] - cumulative[:, ends + 1 - width], axis=2)
        threshold = _interpolated(ordered, percentile)
        reached = _reached_percentile(ordered, current)
        result.expected[:, positions] = _interpolated(ordered, 50.0)
        result.threshold[:, positions] = threshold
        result.score[:, positions] = reached
        result.alarm[:, positions] = (current >= threshold) & (current >= min_count)
        result.p_value[:, positions] = np.where(current >= min_count, 1.0 - reached / 100.0, 1.0)
        return result

    return by_chunks(y, compute)


def _interpolated(ordered: FloatArray, percentile: float) -> FloatArray:
    """The percentile of sorted values with linear interpolation (numpy's and Excel's default)."""
    position = percentile / 100.0 * (ordered.shape[2] - 1)
    low = int(np.floor(position))
    high = min(low + 1, ordered.shape[2] - 1)
    fraction = position - low
    return np.asarray(
        ordered[:, :, low] + fraction * (ordered[:, :, high] - ordered[:, :, low]), dtype=np.float64
    )


def _reached_percentile(ordered: FloatArray, current: FloatArray) -> FloatArray:
    """The largest x whose linearly interpolated x-th percentile of `ordered` is <= `current`.

    0 when the current count is below every baseline value (no percentile is reached).
    """
    size = ordered.shape[2]
    if size == 1:
        return np.where(current >= ordered[:, :, 0], 100.0, 0.0)
    below = np.sum(ordered <= current[:, :, np.newaxis], axis=2)  # values at or under the count
    last = below - 1
    inside = (below >= 1) & (below < size)
    low = np.take_along_axis(ordered, np.clip(last, 0, size - 1)[:, :, np.newaxis], axis=2)[:, :, 0]
    high = np.take_along_axis(ordered, np.clip(below, 0, size - 1)[:, :, np.newaxis], axis=2)[:, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        position = last + (current - low) / (high - low)
    reached = np.where(inside, 100.0 * position / (size - 1), np.where(below >= size, 100.0, 0.0))
    return np.asarray(reached, dtype=np.float64)
