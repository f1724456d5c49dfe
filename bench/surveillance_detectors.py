"""Benchmark of the outbreak detectors on a district-sized load.

500 daily count series of 5 years (one per community and syndrome, say): EARS C1-C3 and the CIDARS
moving percentile on the daily counts, Farrington (b = 3, w = 3) on their weekly aggregates. Each
detector is timed through its batch function (`*_arrays`, all series at once) and through the
per-series function, and compared with a straightforward pure-Python loop over periods, timed on a few
series in the same run and scaled to all of them. The loops also check that the fast code raises the
same alarms.

    .venv/bin/python bench/surveillance_detectors.py          # 500 series, target <= 5 s in total
    .venv/bin/python bench/surveillance_detectors.py --quick  # 100 series, fewer loop samples
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from jiayi.surveillance.detectors import (
    Detection,
    ears,
    ears_arrays,
    farrington_arrays,
    farrington_flexible,
    moving_percentile,
    moving_percentile_arrays,
)

YEARS = 5
FIRST_DAY = "2020-01-06"  # a Monday, so weeks aggregate whole
FARRINGTON = {"b": 3, "w": 3, "alpha": 0.01}
TARGET_SECONDS = 5.0


def simulate(n_series: int, seed: int) -> tuple[np.ndarray, pd.DatetimeIndex, np.ndarray, pd.DatetimeIndex]:
    """Daily negative binomial counts with yearly season and weekday effects, and weekly sums."""
    rng = np.random.default_rng(seed)
    n_weeks = YEARS * 52
    days = pd.date_range(FIRST_DAY, periods=n_weeks * 7, freq="D")
    t = np.arange(len(days))
    level = rng.uniform(0.3, 8.0, size=(n_series, 1))
    season = 0.5 * np.cos(2 * np.pi * (t - rng.integers(0, 365, size=(n_series, 1))) / 365.25)
    weekday = np.where(days.day_of_week.to_numpy() >= 5, -0.7, 0.0)
    mu = level * np.exp(season + weekday)
    daily = rng.negative_binomial(mu / 0.5, 1 / 1.5)
    weekly = daily.reshape(n_series, n_weeks, 7).sum(axis=2)
    weeks = pd.date_range(FIRST_DAY, periods=n_weeks, freq="7D")
    return daily, days, weekly, weeks


# --- straightforward per-period loops -------------------------------------------------------------


def ears_loop(values: list[int], method: str, alpha: float) -> list[bool]:
    z = NormalDist().inv_cdf(1 - alpha)
    lag = 1 if method == "C1" else 3
    n = len(values)
    stats: list[tuple[float, float] | None] = []
    for t in range(n):
        if t - lag - 6 < 0:
            stats.append(None)
            continue
        window = values[t - lag - 6 : t - lag + 1]
        mean = sum(window) / 7
        sd = math.sqrt(sum((v - mean) ** 2 for v in window) / 6)
        stats.append((mean, sd))
    if method != "C3":
        return [s is not None and values[t] > s[0] + z * s[1] for t, s in enumerate(stats)]
    excess: list[float | None] = []
    for t, s in enumerate(stats):
        if s is None:
            excess.append(None)
        elif s[1] > 0:
            excess.append(max(0.0, (values[t] - s[0]) / s[1] - 1))
        else:
            excess.append(math.inf if values[t] > s[0] else 0.0)
    alarms = []
    for t in range(n):
        terms = excess[max(t - 2, 0) : t + 1]
        alarms.append(t >= 2 and None not in terms and sum(terms) > z)  # type: ignore[arg-type]
    return alarms


def percentile_loop(values: list[int], percentile: float) -> list[bool]:
    lags = [back - 7 * i for back in (365, 731, 1096) for i in range(-2, 3)]
    alarms = []
    for t in range(len(values)):
        if t - max(lags) - 6 < 0:
            alarms.append(False)
            continue
        current = sum(values[t - 6 : t + 1])
        baseline = sorted(sum(values[t - lag - 6 : t - lag + 1]) for lag in lags)
        position = percentile / 100 * (len(baseline) - 1)
        low = int(position)
        high = min(low + 1, len(baseline) - 1)
        threshold = baseline[low] + (position - low) * (baseline[high] - baseline[low])
        alarms.append(current >= threshold and current >= 1)
    return alarms


def _irls(
    ys: list[float], ts: list[float], ws: list[float], trend: bool
) -> tuple[list[float], list[list[float]], list[float]] | None:
    """Poisson log-linear fit by IRLS; returns coefficients, (X'WX)^-1 and fitted means."""
    mus = [y + 0.1 for y in ys]
    etas = [math.log(m) for m in mus]

    def deviance(means: list[float]) -> float:
        return 2 * sum(
            w * ((y * math.log(y / m) if y > 0 else 0.0) - (y - m))
            for y, m, w in zip(ys, means, ws, strict=True)
        )

    old = deviance(mus)
    beta = [0.0, 0.0]
    inverse = [[0.0, 0.0], [0.0, 0.0]]
    for _ in range(25):
        s0 = s1 = s2 = r0 = r1 = 0.0
        for y, t, w, m, e in zip(ys, ts, ws, mus, etas, strict=True):
            weight = w * m
            z = e + (y - m) / m
            s0 += weight
            s1 += weight * t
            s2 += weight * t * t
            r0 += weight * z
            r1 += weight * t * z
        if trend:
            det = s0 * s2 - s1 * s1
            beta = [(s2 * r0 - s1 * r1) / det, (s0 * r1 - s1 * r0) / det]
        else:
            beta = [r0 / s0, 0.0]
        etas = [beta[0] + beta[1] * t for t in ts]
        mus = [max(math.exp(e), 2.220446049250313e-16) for e in etas]
        new = deviance(mus)
        if abs(new - old) / (abs(new) + 0.1) < 1e-8:
            s0 = sum(w * m for w, m in zip(ws, mus, strict=True))
            s1 = sum(w * m * t for w, m, t in zip(ws, mus, ts, strict=True))
            s2 = sum(w * m * t * t for w, m, t in zip(ws, mus, ts, strict=True))
            if trend:
                det = s0 * s2 - s1 * s1
                inverse = [[s2 / det, -s1 / det], [-s1 / det, s0 / det]]
            else:
                inverse = [[1 / s0, 0.0], [0.0, 0.0]]
            return beta, inverse, mus
        old = new
    return None


def _quasi_poisson(
    ys: list[float], ts: list[float], trend: bool
) -> tuple[float, float, float, float, float] | None:
    """(log mean now, its variance, phi, trend p-value, dispersion) after Farrington's reweighting."""
    n = len(ys)
    rank = 2 if trend else 1
    fit = _irls(ys, ts, [1.0] * n, trend)
    if fit is None:
        return None
    _, inverse, mus = fit
    dispersion = sum((y - m) ** 2 / m for y, m in zip(ys, mus, strict=True)) / (n - rank)
    phi = max(dispersion, 1.0)
    residuals = []
    for y, t, m in zip(ys, ts, mus, strict=True):
        leverage = m * (inverse[0][0] + 2 * t * inverse[0][1] + t * t * inverse[1][1])
        residual = 1.5 * (y ** (2 / 3) * m ** (-1 / 6) - math.sqrt(m)) / math.sqrt(phi * (1 - leverage))
        residuals.append(residual)
    raw = [s**-2 if s > 2.58 else 1.0 for s in residuals]
    gamma = n / sum(raw)
    weights = [gamma * r for r in raw]
    refit = _irls(ys, ts, weights, trend)
    if refit is None:
        return None
    beta, inverse, mus = refit
    dispersion = sum(w * (y - m) ** 2 / m for y, m, w in zip(ys, mus, weights, strict=True)) / (n - rank)
    p_trend = 1.0
    if trend:
        p_trend = 2 * float(student_t.sf(abs(beta[1] / math.sqrt(dispersion * inverse[1][1])), n - rank))
    return beta[0], dispersion * inverse[0][0], max(dispersion, 1.0), p_trend, dispersion


def _years_back(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February: R's seq.Date lands on 1 March
        return dt.date(day.year - years, 3, 1)


def farrington_loop(values: list[int], dates: list[dt.date], b: int, w: int, alpha: float) -> list[bool]:
    z = NormalDist().inv_cdf(1 - alpha)
    position = {day: i for i, day in enumerate(dates)}
    alarms = []
    for k, day in enumerate(dates):
        rows = []
        for j in range(1, b + 1):
            target = _years_back(day, j)
            first = target - dt.timedelta(days=(target.isoweekday() % 7) - (day.isoweekday() % 7))
            second = first + dt.timedelta(days=-7 if first > target else 7)
            centre = first if abs((first - target).days) <= abs((second - target).days) else second
            rows += [position.get(centre + dt.timedelta(days=7 * i), -1) for i in range(-w, w + 1)]
        if min(rows) < 0:
            alarms.append(False)
            continue
        ys = [float(values[i]) for i in rows]
        ts = [float(i - k) for i in rows]
        with_trend = _quasi_poisson(ys, ts, True)
        chosen = None
        if with_trend is not None and b >= 3 and with_trend[3] < 0.05 and math.exp(with_trend[0]) <= max(ys):
            chosen = with_trend
        else:
            chosen = _quasi_poisson(ys, ts, False)
        if chosen is None:
            alarms.append(False)
            continue
        eta, variance, phi, _, _ = chosen
        mu = math.exp(eta)
        tau = phi + mu * variance  # se(mu)^2 / mu with se(mu) = mu·se(eta)
        upper = (mu ** (2 / 3) + z * math.sqrt(4 / 9 * mu ** (1 / 3) * tau)) ** 1.5
        enough = sum(values[max(k - 3, 0) : k + 1]) >= 5
        alarms.append(enough and values[k] > 0 and values[k] > upper)
    return alarms


# --- timing ---------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    data: str
    batch: float
    per_series: float
    loop_scaled: float
    agreement: float


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def measure(
    name: str,
    data: str,
    batch: Callable[[], Detection],
    per_series: Callable[[int], pd.DataFrame],
    loop: Callable[[int], list[bool]],
    n_series: int,
    loop_sample: int,
) -> Row:
    batch_seconds, detection = timed(batch)
    assert isinstance(detection, Detection)
    api_seconds, _ = timed(lambda: [per_series(i) for i in range(n_series)])
    loop_seconds, loop_alarms = timed(lambda: [loop(i) for i in range(loop_sample)])
    assert isinstance(loop_alarms, list)
    agreement = float(
        np.mean([np.mean(detection.alarm[i] == np.array(loop_alarms[i])) for i in range(loop_sample)])
    )
    return Row(name, data, batch_seconds, api_seconds, loop_seconds * n_series / loop_sample, agreement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 series and smaller loop samples")
    parser.add_argument("--series", type=int, default=None, help="number of series (default 500, quick 100)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n_series = args.series or (100 if args.quick else 500)
    fast_sample, slow_sample = (2, 1) if args.quick else (10, 3)

    daily, days, weekly, weeks = simulate(n_series, args.seed)
    daily_lists = [row.tolist() for row in daily]
    weekly_lists = [row.tolist() for row in weekly]
    week_dates = [d.date() for d in weeks]
    daily_label = f"daily {n_series}×{daily.shape[1]}"
    weekly_label = f"weekly {n_series}×{weekly.shape[1]}"

    rows = []
    for method in ("C1", "C2", "C3"):
        rows.append(
            measure(
                f"EARS {method}",
                daily_label,
                lambda m=method: ears_arrays(daily, m),  # type: ignore[misc]
                lambda i, m=method: ears(pd.Series(daily[i], index=days), m),  # type: ignore[misc]
                lambda i, m=method: ears_loop(daily_lists[i], m, 0.025 if m == "C3" else 0.001),  # type: ignore[misc]
                n_series,
                fast_sample,
            )
        )
    rows.append(
        measure(
            "moving percentile P90",
            daily_label,
            lambda: moving_percentile_arrays(daily, days, 90.0),
            lambda i: moving_percentile(pd.Series(daily[i], index=days), 90.0),
            lambda i: percentile_loop(daily_lists[i], 90.0),
            n_series,
            fast_sample,
        )
    )
    rows.append(
        measure(
            "Farrington b=3 w=3",
            weekly_label,
            lambda: farrington_arrays(weekly, weeks, **FARRINGTON),  # type: ignore[arg-type]
            lambda i: farrington_flexible(pd.Series(weekly[i], index=weeks), **FARRINGTON),  # type: ignore[arg-type]
            lambda i: farrington_loop(weekly_lists[i], week_dates, 3, 3, 0.01),
            n_series,
            slow_sample,
        )
    )

    print(f"{n_series} series, {YEARS} years of days ({daily.shape[1]}) and weeks ({weekly.shape[1]})")
    header = (
        f"{'detector':<24}{'data':<20}{'batch':>9}{'per-series':>12}{'loop (scaled)':>15}"
        f"{'speed-up':>10}{'same alarms':>13}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.name:<24}{row.data:<20}{row.batch:>8.2f}s{row.per_series:>11.2f}s{row.loop_scaled:>14.1f}s"
            f"{row.loop_scaled / row.batch:>9.0f}×{row.agreement:>12.2%}"
        )
    total_batch = sum(row.batch for row in rows)
    total_api = sum(row.per_series for row in rows)
    total_loop = sum(row.loop_scaled for row in rows)
    print("-" * len(header))
    speed_up = total_loop / total_batch
    print(f"{'total':<44}{total_batch:>8.2f}s{total_api:>11.2f}s{total_loop:>14.1f}s{speed_up:>9.0f}×")
    verdict = "within" if total_batch <= TARGET_SECONDS else "over"
    print(
        f"batch total {total_batch:.2f} s: {verdict} the {TARGET_SECONDS:.0f} s target for {n_series} series"
    )
    print(f"loops timed on {fast_sample} series (Farrington {slow_sample}) and scaled to {n_series}")


if __name__ == "__main__":
    main()
