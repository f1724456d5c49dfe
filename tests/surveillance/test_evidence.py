"""Evidence combined over detectors and consecutive periods: the statistic, the simulation rule and the
alert rule kept as data."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from scipy.stats import norm

from jiayi.surveillance import rules, services
from jiayi.surveillance.evaluation import CombinationRule, Scenario, matched_fpr, run_simulation
from jiayi.surveillance.evidence import combined_evidence, evidence_score
from jiayi.surveillance.models import Alert, AlertRule, DetectorSetting, RuleKind
from tests.surveillance.factories import AS_OF, add_series, make_unit

SEASONAL = Scenario(theta=2.5, beta=0.001, gamma1=1.0, gamma2=0.1, phi=3.0, m=1, trend=True)


def test_scores_are_normal_quantiles_floored_at_zero_with_no_evidence_for_missing() -> None:
    scores = evidence_score(np.array([[0.5, 0.9, 1.0, norm.sf(2.0), np.nan, 0.0]]))
    np.testing.assert_allclose(scores[0, :4], [0.0, 0.0, 0.0, 2.0], atol=1e-12)
    assert scores[0, 4] == 0.0
    assert np.isfinite(scores[0, 5])
    assert scores[0, 5] > 30


def test_two_moderately_unusual_periods_add_up_where_neither_alone_would() -> None:
    # z = 2 on two consecutive days: each alone is p = 0.023, together Z = 4/√2 = 2.83, p = 0.0023.
    p = np.array([[0.5, norm.sf(2.0), norm.sf(2.0), 0.5]])
    one = combined_evidence([p], periods=1)
    two = combined_evidence([p], periods=2)
    np.testing.assert_allclose(one, p)
    assert two[0, 2] == pytest.approx(norm.sf(4.0 / np.sqrt(2.0)))
    assert two[0, 2] < 0.005 < one[0, 2]
    # The first period has no period before it: it counts as no evidence, not as missing.
    assert two[0, 0] == pytest.approx(0.5)


def test_members_are_added_with_stouffers_weights_and_missing_everywhere_is_nan() -> None:
    a = np.array([[norm.sf(3.0), np.nan]])
    b = np.array([[0.5, np.nan]])
    combined = combined_evidence([a, b], periods=1)
    assert combined[0, 0] == pytest.approx(norm.sf(3.0 / np.sqrt(2.0)))
    assert np.isnan(combined[0, 1])


@pytest.mark.parametrize(
    ("p_values", "periods", "message"),
    [
        ([], 1, "at least one member"),
        ([np.ones((1, 3))], 0, "periods"),
        ([np.ones((1, 3)), np.ones((1, 2))], 1, "same shape"),
    ],
)
def test_it_rejects_bad_input(p_values: list[np.ndarray], periods: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        combined_evidence(p_values, periods)


def test_the_simulation_tunes_an_evidence_rule_like_any_detector() -> None:
    rule = CombinationRule(
        "improved over 2", ("improved Farrington",), method="evidence", periods=2, level=0.01
    )
    run = run_simulation(scenario_list=[SEASONAL], ks=(3, 8), n_replicates=10, seed=5, rules=[rule])
    cell = run.cells[0]
    assert cell.nominal["improved over 2"] == 0.01
    assert cell.p_values["improved over 2"].shape == cell.p_values["improved Farrington"].shape
    matched = matched_fpr(run, 0.05).set_index(["detector", "k"])
    assert matched.loc[("improved over 2", 8.0), "tuned_fpr"] <= 0.05
    # Larger outbreaks are found at least as often, at the same tuned level.
    assert matched.loc[("improved over 2", 8.0), "pod"] >= matched.loc[("improved over 2", 3.0), "pod"]
    with pytest.raises(ValueError, match="unknown method"):
        run_simulation(
            scenario_list=[SEASONAL],
            ks=(1,),
            n_replicates=2,
            rules=[CombinationRule("bad", ("EARS C1",), method="vote")],  # type: ignore[arg-type]
        )


def test_the_rule_kind_checks_its_detectors_and_level() -> None:
    assert rules.rule_parameters("combined_evidence", {}) == {"periods": 2, "level": 0.001}
    assert rules.rule_detectors("combined_evidence", {}) == ("improved_farrington",)
    assert rules.rule_detectors("combined_evidence", {"detectors": ["ears_c1", "farrington"]}) == (
        "ears_c1",
        "farrington",
    )
    for parameters, message in [
        ({"detectors": "ears_c1"}, "non-empty list"),
        ({"detectors": []}, "non-empty list"),
        ({"detectors": ["cusum"]}, "unknown"),
        ({"detectors": ["ears_c1", "ears_c1"]}, "each detector once"),
        ({"level": 1.5}, "between 0 and 1"),
        ({"weights": [1]}, "not"),
    ]:
        with pytest.raises(ValueError, match=message):
            rules.rule_parameters("combined_evidence", parameters)


def test_the_rule_fires_on_evidence_of_its_members_over_the_days() -> None:
    day = AS_OF
    facts = [
        rules.EvidenceFact("U1", "fever", "ears_c1", day - timedelta(days=1), float(norm.sf(2.5))),
        rules.EvidenceFact("U1", "fever", "ears_c1", day, float(norm.sf(2.5))),
        rules.EvidenceFact("U2", "fever", "ears_c1", day, float(norm.sf(2.5))),
        rules.EvidenceFact("U2", "fever", "ears_c1", day - timedelta(days=1), None),
        # Not a member, and outside the window: ignored.
        rules.EvidenceFact("U2", "fever", "ears_c2", day, 1e-9),
        rules.EvidenceFact("U2", "fever", "ears_c1", day - timedelta(days=2), 1e-9),
    ]
    triggers = rules.evaluate_rule(
        "combined_evidence",
        {"detectors": ["ears_c1"], "periods": 2, "level": 0.001},
        as_of=day,
        evidence=facts,
    )
    # U1: Z = 5/√2 = 3.54 (p 0.0002); U2: Z = 2.5/√2 = 1.77 (p 0.04).
    assert [t.key for t in triggers] == ["evidence:U1:fever"]
    assert triggers[0].detail["combined"] == pytest.approx(norm.sf(5.0 / np.sqrt(2.0)))


@pytest.mark.django_db
def test_detection_opens_an_alert_from_a_combined_evidence_rule_kept_as_data() -> None:
    AlertRule.objects.create(
        name="C1 evidence over 2 days",
        kind=RuleKind.COMBINED_EVIDENCE,
        parameters={"detectors": ["ears_c1"], "periods": 2, "level": 0.001},
    )
    unit = make_unit("U1")
    # Two raised days in a row, neither far enough above a steady 10 ± 1 to alarm at C1's alpha.
    values = [9 + (i % 3) for i in range(58)] + [12, 12]
    add_series(unit, "fever", values)
    DetectorSetting.objects.create(unit=unit, code="fever", detector="ears_c1", parameters={"baseline": 28})
    result = services.do_detect(AS_OF)
    assert result.signals_created == 0
    alert = Alert.objects.get(pk__in=result.alerts_opened)
    assert alert.key == "evidence:U1:fever"
    assert alert.snapshot["trigger"]["detectors"] == ["ears_c1"]
    # Rerunning the day opens nothing new.
    assert services.do_detect(AS_OF).alerts_opened == []
