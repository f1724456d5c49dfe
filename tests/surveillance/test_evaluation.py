"""The simulation study: simulated series, metrics, tuning to a matched false-positive rate, rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jiayi.surveillance.evaluation import (
    CURRENT_WEEKS,
    N_WEEKS,
    PAST_OUTBREAK_WEEKS,
    CombinationRule,
    Scenario,
    SimulationRun,
    default_detectors,
    ears_detector,
    farrington_detector,
    level_for_fpr,
    matched_fpr,
    metrics,
    run_simulation,
    scenarios,
    simulate,
    summarise,
)

FLAT = Scenario(theta=1.5, beta=0.003, gamma1=0.2, gamma2=-0.4, phi=1.0, m=0, trend=False)
SEASONAL = Scenario(theta=2.5, beta=0.001, gamma1=1.0, gamma2=0.1, phi=3.0, m=1, trend=True)
RULES = (
    CombinationRule("any of C1, Farrington", ("EARS C1", "Farrington"), 1),
    CombinationRule("two of C2, Farrington, improved", ("EARS C2", "Farrington", "improved Farrington"), 2),
)


@pytest.fixture(scope="module")
def small_run() -> SimulationRun:
    return run_simulation(scenario_list=[FLAT, SEASONAL], ks=(1, 4, 10), n_replicates=12, seed=7, rules=RULES)


def test_it_builds_the_42_scenarios() -> None:
    grid = scenarios()
    assert len(grid) == 42
    assert len({s.name for s in grid}) == 42


def test_it_simulates_the_noufaily_design_reproducibly() -> None:
    first = simulate(SEASONAL, (1, 5), 20, np.random.default_rng(3))
    second = simulate(SEASONAL, (1, 5), 20, np.random.default_rng(3))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.counts, b.counts)
    small, large = first
    assert small.counts.shape == (20, N_WEEKS)
    # Past outbreaks start in weeks 313-575 and the current one in 576-624 (1-based).
    assert not small.past_cases[:, : PAST_OUTBREAK_WEEKS[0] - 1].any()
    assert not small.current_cases[:, : CURRENT_WEEKS[0] - 1].any()
    # Same baseline for every k; a larger k adds cases to the same outbreak.
    np.testing.assert_array_equal(small.baseline, large.baseline)
    assert (large.current_cases >= small.current_cases).all()
    assert large.current_cases.sum() > small.current_cases.sum()


def test_it_draws_negative_binomial_baselines_with_the_scenarios_mean_and_variance() -> None:
    flat = Scenario(theta=2.0, beta=0.0, gamma1=0.0, gamma2=0.0, phi=2.0, m=0, trend=False)
    series = simulate(flat, (1,), 200, np.random.default_rng(0))[0]
    assert series.baseline.mean() == pytest.approx(np.exp(2.0), rel=0.02)
    assert series.baseline.var() == pytest.approx(2.0 * np.exp(2.0), rel=0.05)


def test_it_computes_metrics_from_alarm_levels() -> None:
    p_values = np.array([[0.5, 0.001, 0.5, 0.001], [0.001, 0.5, 0.5, 0.5]])
    free = np.array([[True, True, False, False], [True, True, False, False]])
    current = ~free
    result = metrics(p_values, 0.01, free, current)
    assert result.fpr == pytest.approx(2 / 4)
    assert result.specificity == pytest.approx(2 / 4)
    assert result.sensitivity == pytest.approx(1 / 4)
    assert result.pod == pytest.approx(1 / 2)
    assert result.median_delay == 1.0
    assert result.outbreaks == 2


def test_it_finds_the_level_for_a_target_false_positive_rate() -> None:
    p_values = np.linspace(0.0, 1.0, 201)[1:]
    level, achieved = level_for_fpr(p_values, np.ones(200, dtype=bool), target_fpr=0.01)
    assert level == pytest.approx(0.01)
    assert achieved == pytest.approx(0.01)
    ties = np.zeros(200)
    assert level_for_fpr(ties, np.ones(200, dtype=bool), 0.01) == (-np.inf, 0.0)


def test_it_gives_the_same_numbers_for_the_same_seed(small_run: SimulationRun) -> None:
    again = run_simulation(
        scenario_list=[FLAT, SEASONAL], ks=(1, 4, 10), n_replicates=12, seed=7, rules=RULES
    )
    pd.testing.assert_frame_equal(summarise(small_run), summarise(again))


def test_it_has_fewer_false_alarms_at_a_smaller_alpha(small_run: SimulationRun) -> None:
    for name in ("EARS C1", "Farrington", "improved Farrington"):
        strict = summarise(small_run, {name: 0.001})
        lenient = summarise(small_run, {name: 0.05})
        strict_fpr = strict[strict.detector == name].fpr.mean()
        lenient_fpr = lenient[lenient.detector == name].fpr.mean()
        assert strict_fpr < lenient_fpr


def test_it_detects_larger_outbreaks_more_often(small_run: SimulationRun) -> None:
    summary = summarise(small_run)
    pod = summary.groupby(["detector", "k"]).pod.mean().unstack()
    assert (pod[10.0] >= pod[1.0]).all()
    assert pod[10.0]["Farrington"] > pod[1.0]["Farrington"]
    assert pod[10.0]["improved Farrington"] > 0.5


def test_it_tunes_every_detector_and_rule_to_the_target_rate(small_run: SimulationRun) -> None:
    tuned = matched_fpr(small_run, target_fpr=0.01)
    assert set(tuned.detector) == {spec.name for spec in default_detectors()} | {rule.name for rule in RULES}
    assert (tuned.tuned_fpr <= 0.01).all()
    pooled = matched_fpr(small_run, target_fpr=0.05, pool="all")
    assert (pooled.tuned_fpr <= 0.05).all()
    assert pooled.groupby("detector")["level"].nunique().max() == 1


def test_it_makes_an_any_rule_alarm_whenever_a_member_does(small_run: SimulationRun) -> None:
    summary = summarise(small_run).set_index(["scenario", "k", "detector"])
    rule = summary.xs("any of C1, Farrington", level="detector")
    for member in ("EARS C1", "Farrington"):
        alone = summary.xs(member, level="detector")
        assert (rule.fpr >= alone.fpr - 1e-12).all()
        assert (rule.pod >= alone.pod - 1e-12).all()


def test_it_rejects_rules_over_unknown_detectors() -> None:
    with pytest.raises(ValueError, match="rules"):
        run_simulation(
            detectors=[ears_detector("C1"), farrington_detector("Farrington")],
            scenario_list=[FLAT],
            ks=(1,),
            n_replicates=1,
            rules=[CombinationRule("bad", ("EARS C1", "CUSUM"), 1)],
        )
