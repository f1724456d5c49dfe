"""Farrington's outbreak detector and its improved version.

Farrington, Andrews, Beale and Catchpole (1996), A statistical algorithm for the early detection of
outbreaks of infectious disease, J R Stat Soc A 159:547-563; Noufaily, Enki, Farrington, Garthwaite,
Andrews and Charlett (2013), An improved algorithm for outbreak detection in multiple surveillance
systems, Statistics in Medicine 32:1206-1222 (doi 10.1002/sim.5595). The steps, defaults and edge cases
follow R `surveillance::farringtonFlexible` (Salmon, Schumacher and Höhle 2016, J Stat Softw 70(10)),
whose alarms the tests reproduce.

Every period's quasi-Poisson regression is small (tens to a few hundred reference periods), so all
periods of all series are fitted together: the reference windows depend only on the dates, the design
matrices are built once, and iteratively reweighted least squares runs on the whole batch in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr
from scipy.stats import nbinom, norm, poisson
from scipy.stats import t as student_t

from jiayi.surveillance.detectors._common import (
    BoolArray,
    Cadence,
    Detection,
    FloatArray,
    IntArray,
    cadence_of,
    check_alpha,
    check_counts,
    check_positive_int,
    counts_of,
    monitored_from,
    nan_detection,
    periods_back,
)

ThresholdMethod = Literal["delta", "nbPlugin"]
PowerTransform = Literal["2/3", "1/2", "none"]
ReferenceRule = Literal["calendar", "periods"]

_EXPONENT = {"2/3": 2.0 / 3.0, "1/2": 0.5, "none": 1.0}
# R's glm.control(): convergence on the relative change in deviance, at most 25 iterations.
_GLM_TOLERANCE = 1e-8
_GLM_MAX_ITERATIONS = 25
# R's poisson()$linkinv keeps fitted means above machine epsilon.
_MU_FLOOR = float(np.finfo(np.float64).eps)
_LOG_MU_FLOOR = float(np.log(_MU_FLOOR))
# Series per batch are chosen so that one (periods x series x reference periods) array holds about
# this many numbers (2 MB): batches that stay in cache ran fastest, larger ones slower.
_BATCH_CELLS = 250_000


class FarringtonOptions(TypedDict, total=False):
    """Keyword settings of `farrington_flexible`, for the presets below."""

    b: int
    w: int
    reweight_threshold: float
    trend_threshold: float
    past_weeks_not_included: int
    no_periods: int
    threshold_method: ThresholdMethod


# Farrington et al. (1996) as run by R's farringtonFlexible: windows of ±w weeks in b past years,
# residual threshold 1, trend kept only when significant, delta-method threshold.
ORIGINAL_FARRINGTON: FarringtonOptions = {
    "b": 5,
    "w": 3,
    "reweight_threshold": 1.0,
    "trend_threshold": 0.05,
    "past_weeks_not_included": 3,
    "no_periods": 1,
    "threshold_method": "delta",
}

# Noufaily et al. (2013): all weeks of the past b years with a 10-level seasonal factor, the last 26
# weeks left out, residual threshold 2.58, trend always kept, negative binomial quantile threshold.
IMPROVED_FARRINGTON: FarringtonOptions = {
    "b": 5,
    "w": 3,
    "reweight_threshold": 2.58,
    "trend_threshold": 1.0,
    "past_weeks_not_included": 26,
    "no_periods": 10,
    "threshold_method": "nbPlugin",
}


@dataclass(frozen=True)
class Threshold:
    """Prediction interval bounds, the probability of a count at least `y`, and R's exceedance score."""

    lower: FloatArray
    upper: FloatArray
    p_value: FloatArray
    score: FloatArray


def farrington_delta_threshold(
    mu0: npt.ArrayLike,
    se_mu0: npt.ArrayLike,
    phi: npt.ArrayLike,
    alpha: float,
    y: npt.ArrayLike,
    power: PowerTransform = "2/3",
) -> Threshold:
    """Farrington's (1996) threshold from the predicted mean `mu0` and its standard error.

    On the scale y^e (e = 2/3 corrects skewness), the count has variance
    e²·mu0^(2e-1)·(phi + se²/mu0) by the delta method; the upper bound is
    (mu0^e + z·sd)^(1/e), z the one-sided (1 - alpha) normal quantile. `p_value` is P(Y^e >= y^e)
    under that normal approximation and `score` is (y - mu0)/(upper - mu0), as in R `surveillance`
    (algo.farrington.threshold.farrington); a score above 1 means y lies above the bound.
    """
    if power not in _EXPONENT:
        raise ValueError(f"power must be one of '2/3', '1/2', 'none', got {power!r}")
    check_alpha(alpha)
    mu = np.asarray(mu0, dtype=np.float64)
    tau = np.asarray(phi, dtype=np.float64) + np.asarray(se_mu0, dtype=np.float64) ** 2 / mu
    exponent = _EXPONENT[power]
    sd = np.sqrt(exponent**2 * mu ** (2.0 * exponent - 1.0) * tau)
    z = float(norm.ppf(1.0 - alpha))
    centre = mu**exponent
    low_base = centre - z * sd
    with np.errstate(invalid="ignore"):
        lower = np.where(low_base > 0, np.maximum(low_base, 0.0) ** (1.0 / exponent), 0.0)
    upper = (centre + z * sd) ** (1.0 / exponent)
    counts = np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = ndtr((centre - counts**exponent) / sd)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (counts - mu) / (upper - mu)
    return Threshold(
        lower=np.asarray(lower, dtype=np.float64),
        upper=np.asarray(upper, dtype=np.float64),
        p_value=np.asarray(p_value, dtype=np.float64),
        score=np.asarray(score, dtype=np.float64),
    )


def farrington_nb_threshold(
    eta0: npt.ArrayLike,
    se_eta0: npt.ArrayLike,
    phi: npt.ArrayLike,
    alpha: float,
    y: npt.ArrayLike,
    method: Literal["nbPlugin", "muan"] = "nbPlugin",
) -> Threshold:
    """Noufaily's (2013) negative binomial threshold from the linear predictor `eta0` = log(mu0).

    "nbPlugin" takes the (1 - alpha) quantile of NB(size mu/(phi - 1), prob 1/phi) at mu = exp(eta0)
    (Poisson when phi <= 1); "muan" first moves mu to the (1 - alpha) quantile of the normal
    predictive distribution of eta0. `p_value` is P(Y >= y). `score` is R's
    (y - eta0)/(upper - eta0): R subtracts the linear predictor, not the mean, and the published test
    values depend on it; the detector itself compares counts with `upper` directly.
    """
    if method not in ("nbPlugin", "muan"):
        raise ValueError(f"method must be 'nbPlugin' or 'muan', got {method!r}")
    check_alpha(alpha)
    eta = np.asarray(eta0, dtype=np.float64)
    dispersion = np.asarray(phi, dtype=np.float64)
    counts = np.asarray(y, dtype=np.float64)
    if method == "nbPlugin":
        mu = np.exp(eta)
    else:
        mu = np.exp(norm.ppf(1.0 - alpha, loc=eta, scale=np.asarray(se_eta0, dtype=np.float64)))
    lower, upper, p_value = _nb_bounds(mu, dispersion, alpha, counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (counts - eta) / (upper - eta)
    return Threshold(lower=lower, upper=upper, p_value=p_value, score=np.asarray(score, dtype=np.float64))


def _nb_bounds(
    mu: FloatArray, phi: FloatArray, alpha: float, y: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    mu, phi, y = np.broadcast_arrays(mu, phi, y)
    over = phi > 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.where(over, mu / np.where(over, phi - 1.0, 1.0), 1.0)
    prob = np.where(over, 1.0 / phi, 0.5)
    lower = np.where(over, nbinom.ppf(alpha, size, prob), poisson.ppf(alpha, mu))
    upper = np.where(over, nbinom.ppf(1.0 - alpha, size, prob), poisson.ppf(1.0 - alpha, mu))
    p_value = np.where(over, nbinom.sf(y - 1.0, size, prob), poisson.sf(y - 1.0, mu))
    return (
        np.asarray(np.maximum(lower, 0.0), dtype=np.float64),
        np.asarray(upper, dtype=np.float64),
        np.asarray(p_value, dtype=np.float64),
    )


def farrington_flexible(
    series: pd.Series,
    b: int = 5,
    w: int = 3,
    alpha: float = 0.05,
    *,
    reweight: bool = True,
    reweight_threshold: float = 2.58,
    trend: bool = True,
    trend_threshold: float = 0.05,
    past_weeks_not_included: int | None = None,
    no_periods: int = 1,
    threshold_method: ThresholdMethod = "delta",
    power_transform: PowerTransform = "2/3",
    limit54: tuple[int, int] = (5, 4),
    reference: ReferenceRule = "calendar",
    day_of_week: bool | None = None,
    monitor_from: object | None = None,
    include_p_value: bool = False,
) -> pd.DataFrame:
    """Run the (improved) Farrington detector over a daily or weekly series of counts.

    For each period the baseline is the same calendar point ±`w` periods in each of the `b` previous
    years (Farrington 1996); with `no_periods` > 1 it is every period since `b` years back, the stretches
    between those windows cut into `no_periods` - 1 blocks of a seasonal factor (Noufaily 2013). The most
    recent `past_weeks_not_included` periods (default `w`) are left out so that an emerging outbreak
    does not raise its own baseline. A quasi-Poisson log-linear model with a linear trend is fitted,
    refitted with past outbreaks down-weighted (Anscombe residuals above `reweight_threshold`), and the
    trend is kept when its p-value is below `trend_threshold`, `b` >= 3 and the prediction does not
    exceed the largest baseline count. The period alarms when its count is positive, exceeds the upper
    bound ("delta": Farrington's 2/3-power normal approximation; "nbPlugin": Noufaily's negative
    binomial quantile) and at least limit54[0] cases were reported in the last limit54[1] periods.

    `reference` "calendar" (R with dated epochs) takes the same date one, two, ... years back, for weekly
    data moved to the nearest same weekday; "periods" goes back 52 weeks or 365.25 days per year.
    Daily data get day-of-week effects in the model unless `day_of_week` is False. `monitor_from`
    (an index label) skips the periods before it, which saves fitting them.

    `ORIGINAL_FARRINGTON` and `IMPROVED_FARRINGTON` hold the two published configurations:
    `farrington_flexible(series, **IMPROVED_FARRINGTON)`.

    Returns a DataFrame on the series' index with `expected` (the predicted mean), `threshold` (the
    upper bound), `score` ((y - expected)/(threshold - expected); above 1 exactly when the count
    exceeds the bound) and `alarm`; NaN/False where b years of history are not available. With
    `include_p_value` a `p_value` column gives the smallest alpha at which each period would alarm.
    """
    counts, index = counts_of(series)
    result = farrington_arrays(
        counts,
        index,
        b=b,
        w=w,
        alpha=alpha,
        reweight=reweight,
        reweight_threshold=reweight_threshold,
        trend=trend,
        trend_threshold=trend_threshold,
        past_weeks_not_included=past_weeks_not_included,
        no_periods=no_periods,
        threshold_method=threshold_method,
        power_transform=power_transform,
        limit54=limit54,
        reference=reference,
        day_of_week=day_of_week,
        monitor_from=monitor_from,
    )
    return result.to_frame(index, include_p_value=include_p_value)


def farrington_arrays(
    counts: npt.ArrayLike,
    index: pd.Index,
    b: int = 5,
    w: int = 3,
    alpha: float = 0.05,
    *,
    reweight: bool = True,
    reweight_threshold: float = 2.58,
    trend: bool = True,
    trend_threshold: float = 0.05,
    past_weeks_not_included: int | None = None,
    no_periods: int = 1,
    threshold_method: ThresholdMethod = "delta",
    power_transform: PowerTransform = "2/3",
    limit54: tuple[int, int] = (5, 4),
    reference: ReferenceRule = "calendar",
    day_of_week: bool | None = None,
    monitor_from: object | None = None,
) -> Detection:
    """Farrington over many series sharing one date index: `counts` is (series, periods)."""
    y = check_counts(counts)
    if y.shape[1] != len(index):
        raise ValueError("counts must have one column per period of index")
    cadence = cadence_of(index, "index")
    b = check_positive_int(b, "b")
    w = check_positive_int(w, "w", minimum=0)
    check_alpha(alpha)
    no_periods = check_positive_int(no_periods, "no_periods")
    pwni = w if past_weeks_not_included is None else past_weeks_not_included
    pwni = check_positive_int(pwni, "past_weeks_not_included", minimum=0)
    if threshold_method not in ("delta", "nbPlugin"):
        raise ValueError(f"threshold_method must be 'delta' or 'nbPlugin', got {threshold_method!r}")
    if power_transform not in _EXPONENT:
        raise ValueError(f"power_transform must be one of '2/3', '1/2', 'none', got {power_transform!r}")
    if reference not in ("calendar", "periods"):
        raise ValueError(f"reference must be 'calendar' or 'periods', got {reference!r}")
    if not reweight_threshold > 0:
        raise ValueError(f"reweight_threshold must be positive, got {reweight_threshold}")
    if len(limit54) != 2 or limit54[0] < 0 or limit54[1] < 1:
        raise ValueError(f"limit54 must be (cases >= 0, periods >= 1), got {limit54!r}")
    per_year = 52 if cadence == "weekly" else 365
    if 2 * w + 1 >= per_year // 2:
        raise ValueError(f"w must leave the yearly reference windows apart (w < {per_year // 4}), got {w}")
    if no_periods - 1 > per_year - 2 * w - 1:
        raise ValueError(
            f"no_periods must leave each block at least one period (<= {per_year - 2 * w}), got {no_periods}"
        )
    if day_of_week and cadence != "daily":
        raise ValueError("day_of_week applies to daily data only")
    with_weekday = cadence == "daily" if day_of_week is None else bool(day_of_week)

    result = nan_detection(y.shape)
    dates = pd.DatetimeIndex(index)
    first = monitored_from(dates, monitor_from)
    candidates = np.arange(first, len(dates), dtype=np.int64)
    centres = _reference_centres(dates, candidates, b, cadence, reference)
    available = centres[:, -1] - w >= 0 if len(candidates) else np.zeros(0, dtype=np.bool_)
    positions = candidates[available]
    if len(positions) == 0:
        return result
    layout = _layout(dates, positions, centres[available], w, no_periods, pwni, with_weekday)

    eta0, se_eta0, phi = _predict(
        y,
        layout,
        trend=trend,
        b=b,
        reweight=reweight,
        reweight_threshold=float(reweight_threshold),
        trend_threshold=float(trend_threshold),
    )
    current = y[:, positions]
    fitted = np.isfinite(eta0) & np.isfinite(se_eta0)
    mu0 = np.exp(eta0)
    if threshold_method == "delta":
        bounds = farrington_delta_threshold(mu0, mu0 * se_eta0, phi, alpha, current, power_transform)
        upper, p_value = bounds.upper, bounds.p_value
    else:
        _, upper, p_value = _nb_bounds(mu0, phi, alpha, current)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (current - mu0) / (upper - mu0)

    window = limit54[1]
    cumulative = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y, axis=1)], axis=1)
    recent = cumulative[:, positions + 1] - cumulative[:, np.maximum(positions + 1 - window, 0)]
    may_alarm = (recent >= limit54[0]) & (current > 0)

    rows = np.arange(y.shape[0])[:, np.newaxis]
    cols = positions[np.newaxis, :]
    result.expected[rows, cols] = np.where(fitted, mu0, np.nan)
    result.threshold[rows, cols] = np.where(fitted, upper, np.nan)
    result.score[rows, cols] = np.where(fitted, score, np.nan)
    result.alarm[rows, cols] = fitted & may_alarm & (current > upper)
    result.p_value[rows, cols] = np.where(fitted, np.where(may_alarm, p_value, 1.0), np.nan)
    return result


def _years_back(dates: pd.DatetimeIndex, years: int) -> npt.NDArray[np.datetime64]:
    """The same month and day `years` earlier; 29 February becomes 1 March, as R's seq.Date does."""
    months = (dates.year.to_numpy() - years - 1970) * 12 + dates.month.to_numpy() - 1
    month_start = months.astype("datetime64[M]").astype("datetime64[D]")
    shifted: npt.NDArray[np.datetime64] = month_start + (dates.day.to_numpy() - 1).astype("timedelta64[D]")
    return shifted


def _reference_centres(
    dates: pd.DatetimeIndex, positions: IntArray, b: int, cadence: Cadence, reference: ReferenceRule
) -> IntArray:
    """Position of the reference period j years back (column j - 1) for each position."""
    centres = np.empty((len(positions), b), dtype=np.int64)
    if len(positions) == 0:
        return centres
    current = dates[positions]
    days = current.to_numpy().astype("datetime64[D]")
    for j in range(1, b + 1):
        if reference == "periods":
            back = periods_back(j, cadence)
            centres[:, j - 1] = positions - back
            continue
        target = _years_back(current, j)
        if cadence == "daily":
            centres[:, j - 1] = positions - (days - target).astype(np.int64)
            continue
        # Weekly: the same weekday as the current period, in the week of the date a year back, or
        # the neighbouring week when that is closer (R: algo.farrington.referencetimepoints).
        weekday = (days.astype(np.int64) + 4) % 7
        target_weekday = (target.astype(np.int64) + 4) % 7
        first = target.astype(np.int64) - (target_weekday - weekday)
        second = first + np.where(first > target.astype(np.int64), -7, 7)
        closer_first = np.abs(first - target.astype(np.int64)) <= np.abs(second - target.astype(np.int64))
        chosen = np.where(closer_first, first, second)
        centres[:, j - 1] = positions - (days.astype(np.int64) - chosen) // 7
    return centres


@dataclass(frozen=True)
class _Layout:
    """Reference periods of each monitored period and the design matrix of its regression."""

    positions: IntArray  # (K,)
    rows: IntArray  # (K, L) positions of the reference periods, padded
    used: BoolArray  # (K, L) which of them enter the fit
    design: FloatArray  # (K, L, P): intercept, time relative to the period, factor dummies
    empty: BoolArray  # (K, P) dummy columns with no reference period


def _layout(
    dates: pd.DatetimeIndex,
    positions: IntArray,
    centres: IntArray,
    w: int,
    no_periods: int,
    pwni: int,
    with_weekday: bool,
) -> _Layout:
    b = centres.shape[1]
    if no_periods == 1:
        windows = [centres[:, [j]] + np.arange(-w, w + 1) for j in range(b)]
        rows = np.concatenate([*windows, positions[:, np.newaxis] + np.arange(-w, 1)], axis=1)
        levels = None
    else:
        start = centres[:, -1] - w
        width = int(np.max(positions - start)) + 1
        rows = start[:, np.newaxis] + np.arange(width)
        levels = np.full(rows.shape, no_periods - 1, dtype=np.int64)
        newer = positions
        for j in range(b):
            older = centres[:, j]
            gap_start = older + w + 1
            gap = newer - older - 2 * w - 1
            if np.any(gap < no_periods - 1):
                raise ValueError("no_periods is too large for the periods between the reference windows")
            block, rest = gap // (no_periods - 1), gap % (no_periods - 1)
            offset = rows - gap_start[:, np.newaxis]
            in_gap = (offset >= 0) & (offset < gap[:, np.newaxis])
            long_part = (rest * (block + 1))[:, np.newaxis]
            level = np.where(
                offset < long_part,
                offset // (block + 1)[:, np.newaxis],
                rest[:, np.newaxis] + (offset - long_part) // np.maximum(block, 1)[:, np.newaxis],
            )
            levels = np.where(in_gap, level, levels)
            newer = older
    used = (rows >= 0) & (rows < (positions - pwni)[:, np.newaxis]) & (rows <= positions[:, np.newaxis])
    # Slots no monitored period uses (the current window, mostly) would only cost time.
    kept = used.any(axis=0)
    used, rows = used[:, kept], np.where(used, rows, 0)[:, kept]
    if levels is not None:
        levels = levels[:, kept]

    columns = [np.ones(rows.shape), np.where(used, rows - positions[:, np.newaxis], 0).astype(np.float64)]
    if levels is not None:
        columns += [(levels == level).astype(np.float64) for level in range(no_periods - 1)]
    if with_weekday:
        weekday = dates.day_of_week.to_numpy()
        relative = (weekday[rows] - weekday[positions][:, np.newaxis]) % 7
        columns += [(relative == day).astype(np.float64) for day in range(1, 7)]
    design = np.stack(columns, axis=2) * used[:, :, np.newaxis]
    empty = ~np.any(design != 0, axis=1)
    return _Layout(positions=positions, rows=rows, used=used, design=design, empty=empty)


@dataclass(frozen=True)
class _Fit:
    """Batch of fits, shaped (monitored periods K, series S, ...)."""

    beta: FloatArray  # (K, S, P)
    covariance: FloatArray  # (K, S, P, P) unscaled: (X'WX)^-1
    mu: FloatArray  # (K, S, L)
    dispersion: FloatArray  # (K, S) Pearson chi-square / residual df, not floored
    residual_df: FloatArray  # (K, S)
    converged: BoolArray  # (K, S)


def _deviance(
    fixed: FloatArray, y: FloatArray, log_mu: FloatArray, mu: FloatArray, weights: FloatArray
) -> FloatArray:
    """Poisson deviance; `fixed` holds the part that does not depend on mu, sum of w·(y·log y - y)."""
    return np.asarray(2.0 * (fixed + np.sum(weights * (mu - y * log_mu), axis=2)), dtype=np.float64)


@dataclass(frozen=True)
class _Products:
    """The products x_lp·x_lq of design columns that are not zero everywhere, p <= q.

    Seasonal and weekday dummies are mostly zero and never overlap within their factor, so X'WX
    needs far fewer than P² weighted sums: about a quarter of them with Noufaily's 10 periods.
    """

    values: FloatArray  # (K, L, pairs)
    first: IntArray  # (pairs,) p
    second: IntArray  # (pairs,) q
    size: int  # P


def _products(design: FloatArray) -> _Products:
    p = design.shape[2]
    first, second = np.triu_indices(p)
    values = design[:, :, first] * design[:, :, second]
    nonzero = np.any(values != 0, axis=(0, 1))
    return _Products(
        values=np.ascontiguousarray(values[:, :, nonzero]),
        first=first[nonzero].astype(np.int64),
        second=second[nonzero].astype(np.int64),
        size=p,
    )


def _normal_matrix(products: _Products, working: FloatArray, empty: BoolArray) -> FloatArray:
    """X'WX for every fit, (K, S, P, P)."""
    k, s = working.shape[:2]
    sums = np.matmul(working, products.values)
    normal = np.zeros((k, s, products.size, products.size))
    normal[:, :, products.first, products.second] = sums
    normal[:, :, products.second, products.first] = sums
    # An empty dummy column would make X'WX singular; a unit pivot leaves its coefficient at 0.
    diagonal = np.einsum("kspp->ksp", normal)
    diagonal += empty[:, np.newaxis, :]
    return normal


def _quadratic_forms(products: _Products, covariance: FloatArray) -> FloatArray:
    """x_l' C x_l for every reference period l of every fit, (K, S, L)."""
    doubled = np.where(products.first == products.second, 1.0, 2.0)
    coefficients = covariance[:, :, products.first, products.second] * doubled
    return np.asarray(np.matmul(coefficients, products.values.transpose(0, 2, 1)), dtype=np.float64)


@dataclass(frozen=True)
class _Design:
    """A design matrix shared by all series, with what every IRLS step needs from it."""

    matrix: FloatArray  # (K, L, P)
    transposed: FloatArray  # (K, P, L)
    products: _Products
    empty: BoolArray  # (K, P)

    @classmethod
    def of(cls, matrix: FloatArray, empty: BoolArray) -> _Design:
        matrix = np.ascontiguousarray(matrix)
        return cls(
            matrix=matrix,
            transposed=np.ascontiguousarray(matrix.transpose(0, 2, 1)),
            products=_products(matrix),
            empty=empty,
        )


def _irls(design: _Design, y: FloatArray, weights: FloatArray, start: FloatArray | None = None) -> _Fit:
    """Poisson log-linear fits by IRLS, as R's glm.fit (start at y + 0.1, stop on the deviance).

    The design (K, L, P) is shared by the S series of `y` and `weights` (K, S, L), so every step is a
    batched matrix product over the K monitored periods. `start` (fitted means) replaces R's starting
    values; the estimate it converges to is the same, in fewer steps.
    """
    k, s, _ = y.shape
    p = design.matrix.shape[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log_y = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
    fixed = np.sum(weights * (y_log_y - y), axis=2)
    mu = y + 0.1 if start is None else start
    eta = np.log(mu)
    deviance_old = _deviance(fixed, y, eta, mu, weights)
    active = np.ones((k, s), dtype=np.bool_)
    converged = np.zeros((k, s), dtype=np.bool_)
    beta = np.zeros((k, s, p))
    for _ in range(_GLM_MAX_ITERATIONS):
        working = weights * mu
        rhs = np.matmul(working * (eta + (y - mu) / mu), design.matrix)
        normal = _normal_matrix(design.products, working, design.empty)
        with np.errstate(invalid="ignore", over="ignore"):
            step = _solve(normal, rhs)
            eta_new = np.matmul(step, design.transposed)
            mu_new = np.maximum(np.exp(eta_new), _MU_FLOOR)
            deviance = _deviance(fixed, y, np.maximum(eta_new, _LOG_MU_FLOOR), mu_new, weights)
        finite = np.isfinite(deviance) & np.all(np.isfinite(step), axis=2)
        take = active & finite
        if take.all():
            beta, eta, mu = step, eta_new, mu_new
        else:
            # Fits that converged (or failed) keep their last estimates, as R stops each one there.
            beta = np.where(take[:, :, np.newaxis], step, beta)
            eta = np.where(take[:, :, np.newaxis], eta_new, eta)
            mu = np.where(take[:, :, np.newaxis], mu_new, mu)
        with np.errstate(invalid="ignore"):
            done = np.abs(deviance - deviance_old) / (np.abs(deviance) + 0.1) < _GLM_TOLERANCE
        converged |= take & done
        active &= finite & ~done
        deviance_old = np.where(take, deviance, deviance_old)
        if not active.any():
            break
    working = weights * mu
    covariance = _invert(_normal_matrix(design.products, working, design.empty))
    used = weights > 0
    rank = p - design.empty.sum(axis=1)
    residual_df = used.sum(axis=2) - rank[:, np.newaxis]
    pearson = np.sum(np.where(used, weights * (y - mu) ** 2 / mu, 0.0), axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        dispersion = np.where(residual_df > 0, pearson / residual_df, np.nan)
    return _Fit(
        beta=beta,
        covariance=covariance,
        mu=mu,
        dispersion=dispersion,
        residual_df=residual_df.astype(np.float64),
        converged=converged,
    )


def _solve(normal: FloatArray, rhs: FloatArray) -> FloatArray:
    try:
        return np.asarray(np.linalg.solve(normal, rhs[..., np.newaxis])[..., 0], dtype=np.float64)
    except np.linalg.LinAlgError:
        pass
    flat_normal = normal.reshape(-1, *normal.shape[-2:])
    flat_rhs = rhs.reshape(-1, rhs.shape[-1])
    solution = np.full(flat_rhs.shape, np.nan)
    for n in range(len(flat_rhs)):
        try:
            solution[n] = np.linalg.solve(flat_normal[n], flat_rhs[n])
        except np.linalg.LinAlgError:
            continue
    return solution.reshape(rhs.shape)


def _invert(normal: FloatArray) -> FloatArray:
    try:
        return np.asarray(np.linalg.inv(normal), dtype=np.float64)
    except np.linalg.LinAlgError:
        pass
    flat = normal.reshape(-1, *normal.shape[-2:])
    inverse = np.full(flat.shape, np.nan)
    for n in range(len(flat)):
        try:
            inverse[n] = np.linalg.inv(flat[n])
        except np.linalg.LinAlgError:
            continue
    return inverse.reshape(normal.shape)


def _quasi_poisson(
    design: _Design, y: FloatArray, used: BoolArray, reweight: bool, threshold: float
) -> tuple[_Fit, FloatArray]:
    """Fit, then refit with past outbreaks down-weighted by their Anscombe residuals (Farrington 1996).

    Returns the final fit and phi = max(1, dispersion).
    """
    fit = _irls(design, y, used.astype(np.float64))
    phi = np.maximum(np.nan_to_num(fit.dispersion, nan=1.0), 1.0)
    if not reweight:
        return fit, phi
    leverage = used * fit.mu * _quadratic_forms(design.products, fit.covariance)
    with np.errstate(divide="ignore", invalid="ignore"):
        anscombe = 1.5 * (y ** (2.0 / 3.0) * fit.mu ** (-1.0 / 6.0) - np.sqrt(fit.mu))
        anscombe = anscombe / np.sqrt(phi[:, :, np.newaxis] * np.maximum(1.0 - leverage, 1e-12))
        down = used & (anscombe > threshold)
        relative = np.where(down, anscombe**-2.0, 1.0) * used
        gamma = used.sum(axis=2) / relative.sum(axis=2)
    # The refit starts from the first fit: with few down-weighted periods it is nearly there already.
    refit = _irls(design, y, gamma[:, :, np.newaxis] * relative, start=fit.mu)
    # R judges convergence on the unweighted fit only; a non-finite refit is still a failure.
    refit = _Fit(
        beta=refit.beta,
        covariance=refit.covariance,
        mu=refit.mu,
        dispersion=refit.dispersion,
        residual_df=refit.residual_df,
        converged=fit.converged & np.all(np.isfinite(refit.beta), axis=2),
    )
    return refit, np.maximum(np.nan_to_num(refit.dispersion, nan=1.0), 1.0)


def _predict(
    y: FloatArray,
    layout: _Layout,
    *,
    trend: bool,
    b: int,
    reweight: bool,
    reweight_threshold: float,
    trend_threshold: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log mean, its standard error and phi for every (series, monitored period)."""
    n_series, n_positions = y.shape[0], len(layout.positions)
    eta0 = np.full((n_series, n_positions), np.nan)
    se_eta0 = np.full((n_series, n_positions), np.nan)
    phi = np.full((n_series, n_positions), np.nan)
    # Time is centred on the monitored period, so its prediction is the intercept alone.
    without_time = np.ones(layout.design.shape[2], dtype=np.bool_)
    without_time[1] = False
    with_trend = _Design.of(layout.design, layout.empty) if trend else None
    flat = _Design.of(layout.design[:, :, without_time], layout.empty[:, without_time])
    chunk = max(1, _BATCH_CELLS // (n_positions * layout.rows.shape[1]))
    used = layout.used[:, np.newaxis, :]
    for first in range(0, n_series, chunk):
        block = y[first : first + chunk]
        response = np.where(used, block[:, layout.rows].transpose(1, 0, 2), 0.0)  # (K, S, L)
        mask = np.broadcast_to(used, response.shape)
        eta, se, dispersion = _predict_batch(
            flat, with_trend, response, mask, b, reweight, reweight_threshold, trend_threshold
        )
        eta0[first : first + chunk] = eta.T
        se_eta0[first : first + chunk] = se.T
        phi[first : first + chunk] = dispersion.T
    return eta0, se_eta0, phi


def _predict_batch(
    flat: _Design,
    with_trend: _Design | None,
    y: FloatArray,
    used: BoolArray,
    b: int,
    reweight: bool,
    reweight_threshold: float,
    trend_threshold: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    fit, phi = _quasi_poisson(flat, y, used, reweight, reweight_threshold)
    eta = np.where(fit.converged, fit.beta[:, :, 0], np.nan)
    with np.errstate(invalid="ignore"):
        se = np.where(fit.converged, np.sqrt(fit.dispersion * fit.covariance[:, :, 0, 0]), np.nan)
    if with_trend is None:
        return eta, se, phi
    trended, trend_phi = _quasi_poisson(with_trend, y, used, reweight, reweight_threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_value = trended.beta[:, :, 1] / np.sqrt(trended.dispersion * trended.covariance[:, :, 1, 1])
        p_trend = 2.0 * student_t.sf(np.abs(t_value), trended.residual_df)
    largest = np.max(np.where(used, y, -np.inf), axis=2)
    # Farrington's conditions for keeping the trend: significant, at least three years of data, and
    # no prediction beyond the largest baseline count.
    keep = (
        trended.converged
        & (b >= 3)
        & (p_trend < trend_threshold)
        & (np.exp(trended.beta[:, :, 0]) <= largest)
    )
    with np.errstate(invalid="ignore"):
        trend_se = np.sqrt(trended.dispersion * trended.covariance[:, :, 0, 0])
    return (
        np.where(keep, trended.beta[:, :, 0], eta),
        np.where(keep, trend_se, se),
        np.where(keep, trend_phi, phi),
    )
