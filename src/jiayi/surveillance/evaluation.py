"""How well do the detectors find outbreaks? A simulation study with known outbreaks.

The design is Noufaily et al. (2013, Statistics in Medicine 32:1206-1222), reused by Bédubourg and
Le Strat (2017, PLoS One 12:e0181227): 624 weeks of negative binomial counts with trend and
seasonality, four past outbreaks in weeks 313-575 and one current outbreak starting in weeks 576-624,
outbreak sizes drawn as Poisson(k × the baseline standard deviation at the start) and cases spread
after the start by lognormal(0, 0.5) delays (in weeks). Detectors are run on weeks 576-624 and judged by

- false-positive rate: share of outbreak-free weeks with an alarm (specificity is its complement),
- sensitivity: share of weeks of the current outbreak with an alarm,
- probability of detection (POD): share of current outbreaks with at least one alarm,
- delay: weeks from the start of the current outbreak to its first alarm, median over detected ones.

Detectors with different nominal levels are compared at a matched false-positive rate (about 1%):
every detector reports, per week, the smallest level at which it would alarm (`Detection.p_value`), so
the level that reaches the target rate is read off the outbreak-free weeks without running it again.
Combination rules ("any detector", "two detectors agree") are tuned the same way by scaling their
members' levels together; evidence rules (members' evidence added over consecutive weeks) by moving
the level of their combined statistic.

Random numbers come from a numpy Generator seeded per scenario: a run is reproducible, and the series
for different k share their baseline and past outbreaks, the current outbreak of a larger k holding
the cases of a smaller one, so differences between k are not blurred by simulation noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import poisson

from jiayi.surveillance.detectors import (
    IMPROVED_FARRINGTON,
    ORIGINAL_FARRINGTON,
    Detection,
    FarringtonOptions,
    ears_arrays,
    farrington_arrays,
    moving_percentile_arrays,
)
from jiayi.surveillance.detectors._common import BoolArray, FloatArray, IntArray
from jiayi.surveillance.detectors.ears import DEFAULT_ALPHA
from jiayi.surveillance.evidence import combined_evidence

N_WEEKS = 624
# 1-based weeks of the design: past outbreaks start in 313-575, the current one in 576-624.
PAST_OUTBREAK_WEEKS = (313, 575)
CURRENT_WEEKS = (576, 624)
PAST_OUTBREAKS = 4
PAST_OUTBREAK_K = (2.0, 3.0, 5.0, 10.0)
ONSET_SIGMA = 0.5
FIRST_WEEK = pd.Timestamp("2000-01-03")  # a Monday; only the spacing of the dates matters

# (theta, beta, gamma1, gamma2, phi), taken from replications of Noufaily et al.'s design and still to be
# checked against the paper's table; with m = 0, 1, 2 harmonics and trend on/off they give 42 scenarios.
PARAMETER_SETS: tuple[tuple[float, float, float, float, float], ...] = (
    (0.1, 0.0025, 0.6, 0.6, 1.5),
    (-2.0, 0.005, 0.1, 0.3, 2.0),
    (1.5, 0.003, 0.2, -0.4, 1.0),
    (0.5, 0.002, 0.5, 0.5, 5.0),
    (2.5, 0.001, 1.0, 0.1, 3.0),
    (3.75, 0.001, 0.1, -0.1, 1.1),
    (5.0, 0.0001, 0.05, 0.01, 1.2),
)

Pool = Literal["scenario", "all"]


@dataclass(frozen=True)
class Scenario:
    """A baseline: Y(t) ~ NegBin(mean mu(t), variance phi·mu(t)), t = 1..624 weeks, with
    log mu(t) = theta + beta·t·[trend] + sum_{j=1..m} gamma1·cos(2πjt/52) + gamma2·sin(2πjt/52).
    """

    theta: float
    beta: float
    gamma1: float
    gamma2: float
    phi: float
    m: int
    trend: bool

    @property
    def name(self) -> str:
        trend = "trend" if self.trend else "flat"
        return f"theta={self.theta:g} phi={self.phi:g} m={self.m} {trend}"

    def mean(self, weeks: npt.ArrayLike) -> FloatArray:
        t = np.asarray(weeks, dtype=np.float64)
        log_mu = self.theta + (self.beta * t if self.trend else 0.0)
        for j in range(1, self.m + 1):
            angle = 2.0 * np.pi * j * t / 52.0
            log_mu = log_mu + self.gamma1 * np.cos(angle) + self.gamma2 * np.sin(angle)
        return np.asarray(np.exp(log_mu) * np.ones_like(t), dtype=np.float64)

    def sd(self, weeks: npt.ArrayLike) -> FloatArray:
        return np.asarray(np.sqrt(self.phi * self.mean(weeks)), dtype=np.float64)


def scenarios(
    parameter_sets: Iterable[tuple[float, float, float, float, float]] = PARAMETER_SETS,
    harmonics: Iterable[int] = (0, 1, 2),
    trends: Iterable[bool] = (False, True),
) -> list[Scenario]:
    """The scenario grid: every parameter set with every number of harmonics and trend setting."""
    return [
        Scenario(theta=theta, beta=beta, gamma1=gamma1, gamma2=gamma2, phi=phi, m=m, trend=trend)
        for theta, beta, gamma1, gamma2, phi in parameter_sets
        for m in harmonics
        for trend in trends
    ]


@dataclass(frozen=True)
class SimulatedSeries:
    """Replicates of one scenario and outbreak size k: counts and their parts, shaped (replicates, weeks)."""

    scenario: Scenario
    k: float
    index: pd.DatetimeIndex
    baseline: IntArray
    past_cases: IntArray
    current_cases: IntArray

    @property
    def counts(self) -> IntArray:
        return np.asarray(self.baseline + self.past_cases + self.current_cases, dtype=np.int64)

    @property
    def outbreak_free(self) -> BoolArray:
        return np.asarray((self.past_cases + self.current_cases) == 0, dtype=np.bool_)

    @property
    def in_current_outbreak(self) -> BoolArray:
        return np.asarray(self.current_cases > 0, dtype=np.bool_)


def simulate(
    scenario: Scenario,
    ks: Sequence[float],
    n_replicates: int,
    rng: np.random.Generator,
) -> list[SimulatedSeries]:
    """Simulate `n_replicates` series of `scenario` for each current-outbreak size in `ks`.

    The series of all ks share baseline, past outbreaks and the current outbreak's start; the size is
    drawn by inversion from one uniform per replicate and cases take their delays in a fixed order,
    so the current outbreak grows with k by adding cases.
    """
    if n_replicates < 1:
        raise ValueError(f"n_replicates must be at least 1, got {n_replicates}")
    if not ks or min(ks) < 0:
        raise ValueError("ks must hold at least one non-negative outbreak size")
    weeks = np.arange(1, N_WEEKS + 1)
    shape = (n_replicates, N_WEEKS)
    mu = np.broadcast_to(scenario.mean(weeks), shape)
    baseline = _negative_binomial(mu, scenario.phi, rng)

    past = np.zeros(shape, dtype=np.int64)
    starts = rng.integers(
        PAST_OUTBREAK_WEEKS[0], PAST_OUTBREAK_WEEKS[1] + 1, size=(n_replicates, PAST_OUTBREAKS)
    )
    multiples = rng.choice(np.asarray(PAST_OUTBREAK_K), size=(n_replicates, PAST_OUTBREAKS))
    sizes = rng.poisson(multiples * scenario.sd(starts))
    for replicate in range(n_replicates):
        for start, size in zip(starts[replicate], sizes[replicate], strict=True):
            _spread(past[replicate], int(start), int(size), rng)

    current_start = rng.integers(CURRENT_WEEKS[0], CURRENT_WEEKS[1] + 1, size=n_replicates)
    quantile = rng.uniform(size=n_replicates)
    sd_at_start = scenario.sd(current_start)
    current_sizes = {k: _poisson_by_inversion(quantile, k * sd_at_start) for k in ks}
    longest = max(int(sizes_k.max(initial=0)) for sizes_k in current_sizes.values())
    delays = np.floor(rng.lognormal(0.0, ONSET_SIGMA, size=(n_replicates, longest))).astype(np.int64)

    index = pd.date_range(FIRST_WEEK, periods=N_WEEKS, freq="7D")
    simulated = []
    for k in ks:
        current = np.zeros(shape, dtype=np.int64)
        for replicate in range(n_replicates):
            size = int(current_sizes[k][replicate])
            week = current_start[replicate] - 1 + delays[replicate, :size]
            np.add.at(current[replicate], week[week < N_WEEKS], 1)
        simulated.append(
            SimulatedSeries(
                scenario=scenario,
                k=float(k),
                index=index,
                baseline=baseline,
                past_cases=past,
                current_cases=current,
            )
        )
    return simulated


def _poisson_by_inversion(quantile: FloatArray, mean: FloatArray) -> IntArray:
    with np.errstate(invalid="ignore"):
        size = np.where(mean > 0, poisson.ppf(quantile, np.where(mean > 0, mean, 1.0)), 0.0)
    return np.asarray(np.maximum(np.nan_to_num(size), 0.0), dtype=np.int64)


def _negative_binomial(mu: FloatArray, phi: float, rng: np.random.Generator) -> IntArray:
    """NegBin with mean mu and variance phi·mu (numpy: n = mu/(phi - 1), p = 1/phi); Poisson at phi = 1."""
    if phi <= 1.0:
        return np.asarray(rng.poisson(mu), dtype=np.int64)
    return np.asarray(rng.negative_binomial(mu / (phi - 1.0), 1.0 / phi), dtype=np.int64)


def _spread(row: IntArray, start: int, size: int, rng: np.random.Generator) -> None:
    week = start - 1 + np.floor(rng.lognormal(0.0, ONSET_SIGMA, size=size)).astype(np.int64)
    np.add.at(row, week[week < N_WEEKS], 1)


# A detector for the study: counts (replicates, weeks), their dates and the first monitored position.
DetectFunction = Callable[[IntArray, pd.DatetimeIndex, int], Detection]


@dataclass(frozen=True)
class DetectorSpec:
    """A named detector and its nominal level (alpha, or 1 - percentile/100)."""

    name: str
    detect: DetectFunction
    level: float


def ears_detector(
    method: Literal["C1", "C2", "C3"], alpha: float | None = None, min_sigma: float = 0.0
) -> DetectorSpec:
    level = DEFAULT_ALPHA[method] if alpha is None else alpha

    def detect(counts: IntArray, index: pd.DatetimeIndex, first: int) -> Detection:
        return ears_arrays(counts, method=method, alpha=level, min_sigma=min_sigma)

    return DetectorSpec(name=f"EARS {method}", detect=detect, level=level)


def farrington_detector(
    name: str, alpha: float = 0.01, options: FarringtonOptions | None = None
) -> DetectorSpec:
    settings: FarringtonOptions = {} if options is None else options

    def detect(counts: IntArray, index: pd.DatetimeIndex, first: int) -> Detection:
        return farrington_arrays(counts, index, alpha=alpha, monitor_from=index[first], **settings)

    return DetectorSpec(name=name, detect=detect, level=alpha)


def percentile_detector(percentile: float = 90.0, years: int = 3, windows_each_side: int = 2) -> DetectorSpec:
    def detect(counts: IntArray, index: pd.DatetimeIndex, first: int) -> Detection:
        return moving_percentile_arrays(
            counts,
            index,
            percentile,
            years=years,
            windows_each_side=windows_each_side,
            monitor_from=index[first],
        )

    return DetectorSpec(
        name=f"moving percentile P{percentile:g}", detect=detect, level=1.0 - percentile / 100.0
    )


def default_detectors() -> list[DetectorSpec]:
    """EARS C1-C3 at R's levels, both Farrington versions at alpha 0.01, CIDARS P90."""
    return [
        ears_detector("C1"),
        ears_detector("C2"),
        ears_detector("C3"),
        farrington_detector("Farrington", 0.01, ORIGINAL_FARRINGTON),
        farrington_detector("improved Farrington", 0.01, IMPROVED_FARRINGTON),
        percentile_detector(90.0),
    ]


@dataclass(frozen=True)
class CombinationRule:
    """A rule over detectors, in one of two forms.

    - `method="agree"`: alarm when at least `min_agree` of `members` alarm in the same week ("any": 1,
      "two agree": 2); tuned by scaling the members' levels together.
    - `method="evidence"`: alarm when the members' evidence over `periods` consecutive weeks
      (`jiayi.surveillance.evidence.combined_evidence`) reaches `level`; tuned by moving that level.
    """

    name: str
    members: tuple[str, ...]
    min_agree: int = 1
    method: Literal["agree", "evidence"] = "agree"
    periods: int = 1
    level: float = 0.001


@dataclass(frozen=True)
class Cell:
    """One scenario and k: each detector's per-week alarm levels and where the outbreaks were."""

    scenario: Scenario
    k: float
    p_values: Mapping[str, FloatArray]  # (replicates, monitored weeks)
    nominal: Mapping[str, float]
    outbreak_free: BoolArray
    in_current_outbreak: BoolArray


@dataclass(frozen=True)
class SimulationRun:
    """Everything a run computed; metrics at any level are cheap from here."""

    cells: list[Cell] = field(default_factory=list)

    @property
    def detector_names(self) -> list[str]:
        """Detectors and rules, in the order they were run."""
        return list(self.cells[0].p_values) if self.cells else []


def run_simulation(
    detectors: Sequence[DetectorSpec] | None = None,
    scenario_list: Sequence[Scenario] | None = None,
    ks: Sequence[float] = tuple(range(1, 11)),
    n_replicates: int = 100,
    seed: int = 0,
    rules: Sequence[CombinationRule] = (),
) -> SimulationRun:
    """Simulate every scenario and k and run every detector (and rule) over the monitored weeks."""
    specs = list(default_detectors() if detectors is None else detectors)
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError("detectors must have distinct names")
    for rule in rules:
        unknown = set(rule.members) - set(names)
        if unknown:
            raise ValueError(f"rules: {rule.name} refers to unknown detectors {sorted(unknown)}")
        if rule.method not in ("agree", "evidence"):
            raise ValueError(f"rules: {rule.name} has unknown method {rule.method!r}")
        if not 1 <= rule.min_agree <= len(rule.members):
            raise ValueError(f"rules: {rule.name} needs 1 <= min_agree <= {len(rule.members)}")
        if rule.periods < 1:
            raise ValueError(f"rules: {rule.name} needs periods >= 1")
    chosen = scenarios() if scenario_list is None else list(scenario_list)
    seeds = np.random.SeedSequence(seed).spawn(len(chosen))
    first = CURRENT_WEEKS[0] - 1
    cells = []
    for scenario, child in zip(chosen, seeds, strict=True):
        for series in simulate(scenario, ks, n_replicates, np.random.default_rng(child)):
            p_values: dict[str, FloatArray] = {}
            nominal: dict[str, float] = {}
            whole: dict[str, FloatArray] = {}
            for spec in specs:
                detection = spec.detect(series.counts, series.index, first)
                whole[spec.name] = detection.p_value
                p_values[spec.name] = detection.p_value[:, first:]
                nominal[spec.name] = spec.level
            for rule in rules:
                if rule.method == "evidence":
                    # Over whole series: the first monitored week's evidence includes the week before.
                    combined = combined_evidence([whole[m] for m in rule.members], rule.periods)
                    p_values[rule.name] = combined[:, first:]
                    nominal[rule.name] = rule.level
                else:
                    p_values[rule.name] = _rule_statistic(rule, p_values, nominal)
                    nominal[rule.name] = 1.0
            cells.append(
                Cell(
                    scenario=scenario,
                    k=series.k,
                    p_values=p_values,
                    nominal=nominal,
                    outbreak_free=series.outbreak_free[:, first:],
                    in_current_outbreak=series.in_current_outbreak[:, first:],
                )
            )
    return SimulationRun(cells=cells)


def _rule_statistic(
    rule: CombinationRule, p_values: Mapping[str, FloatArray], nominal: Mapping[str, float]
) -> FloatArray:
    """The scale c at which the rule first alarms: member i alarms when p_i <= c·level_i."""
    scaled = np.stack([np.nan_to_num(p_values[m], nan=np.inf) / nominal[m] for m in rule.members])
    return np.asarray(np.sort(scaled, axis=0)[rule.min_agree - 1], dtype=np.float64)


@dataclass(frozen=True)
class Metrics:
    """Detection quality of one detector at one level over a set of replicates."""

    level: float
    fpr: float
    specificity: float
    sensitivity: float
    pod: float
    median_delay: float
    outbreaks: int


def metrics(
    p_values: FloatArray, level: float, outbreak_free: BoolArray, in_current_outbreak: BoolArray
) -> Metrics:
    """Metrics of alarms `p_values <= level` (NaN never alarms) over (replicates, weeks) arrays."""
    alarms = np.nan_to_num(p_values, nan=np.inf) <= level
    free = int(outbreak_free.sum())
    fpr = float(alarms[outbreak_free].sum() / free) if free else float("nan")
    outbreak_weeks = int(in_current_outbreak.sum())
    sensitivity = (
        float(alarms[in_current_outbreak].sum() / outbreak_weeks) if outbreak_weeks else float("nan")
    )
    has_outbreak = in_current_outbreak.any(axis=1)
    hits = alarms & in_current_outbreak
    detected = hits.any(axis=1) & has_outbreak
    n_outbreaks = int(has_outbreak.sum())
    pod = float(detected.sum() / n_outbreaks) if n_outbreaks else float("nan")
    start = np.argmax(in_current_outbreak, axis=1)
    first_alarm = np.argmax(hits, axis=1)
    delays = (first_alarm - start)[detected]
    return Metrics(
        level=float(level),
        fpr=fpr,
        specificity=1.0 - fpr,
        sensitivity=sensitivity,
        pod=pod,
        median_delay=float(np.median(delays)) if len(delays) else float("nan"),
        outbreaks=n_outbreaks,
    )


def summarise(run: SimulationRun, levels: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Metrics per scenario, k and detector at the nominal levels (or those given by name)."""
    rows = []
    for cell in run.cells:
        for name, p_values in cell.p_values.items():
            level = cell.nominal[name] if levels is None or name not in levels else levels[name]
            result = metrics(p_values, level, cell.outbreak_free, cell.in_current_outbreak)
            rows.append({"scenario": cell.scenario.name, "k": cell.k, "detector": name, **asdict(result)})
    return pd.DataFrame(rows)


def level_for_fpr(
    p_values: FloatArray, outbreak_free: BoolArray, target_fpr: float = 0.01
) -> tuple[float, float]:
    """The largest level whose false-positive rate on the outbreak-free weeks stays <= `target_fpr`.

    Returns (level, achieved rate). Ties can make the achieved rate fall well short of the target
    (a detector with few distinct levels); a level of -inf means even the smallest alarms too often.
    """
    if not 0.0 < target_fpr < 1.0:
        raise ValueError(f"target_fpr must lie strictly between 0 and 1, got {target_fpr}")
    free = np.sort(np.nan_to_num(p_values[outbreak_free], nan=np.inf))
    if len(free) == 0:
        return float("nan"), float("nan")
    allowed = int(np.floor(target_fpr * len(free)))
    if allowed == 0:
        return -np.inf, 0.0
    candidate = free[allowed - 1]
    # Alarms are p <= level: a level equal to the next value would let its ties in as well.
    if allowed < len(free) and free[allowed] == candidate:
        below = free[free < candidate]
        if len(below) == 0:
            return -np.inf, 0.0
        candidate = below[-1]
    achieved = float(np.sum(free <= candidate) / len(free))
    return float(candidate), achieved


def matched_fpr(run: SimulationRun, target_fpr: float = 0.01, pool: Pool = "scenario") -> pd.DataFrame:
    """Tune every detector and rule to `target_fpr` and report its metrics there, per scenario and k.

    The level is chosen on the outbreak-free monitored weeks of all ks and replicates of a scenario
    (`pool="scenario"`) or of the whole run (`pool="all"`, one level per detector as deployed).
    """
    if pool not in ("scenario", "all"):
        raise ValueError(f"pool must be 'scenario' or 'all', got {pool!r}")
    groups: dict[str, list[Cell]] = {}
    for cell in run.cells:
        groups.setdefault(cell.scenario.name if pool == "scenario" else "all", []).append(cell)
    rows = []
    for cells in groups.values():
        for name in cells[0].p_values:
            pooled_p = np.concatenate([cell.p_values[name].ravel() for cell in cells])
            pooled_free = np.concatenate([cell.outbreak_free.ravel() for cell in cells])
            level, achieved = level_for_fpr(pooled_p, pooled_free, target_fpr)
            for cell in cells:
                result = metrics(cell.p_values[name], level, cell.outbreak_free, cell.in_current_outbreak)
                rows.append(
                    {
                        "scenario": cell.scenario.name,
                        "k": cell.k,
                        "detector": name,
                        "tuned_fpr": achieved,
                        **asdict(result),
                    }
                )
    return pd.DataFrame(rows)
