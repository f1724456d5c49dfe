"""The space-time permutation scan as an alert rule input."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from jiayi.surveillance import rules, services
from jiayi.surveillance.models import Alert, AlertRule, RuleKind
from tests.surveillance.factories import AS_OF, add_series, ears_settings, make_unit

# Three neighbouring units a few hundred metres apart, and five others spread over ~10 km.
COORDINATES = {
    "U0": (31.200, 121.400),
    "U1": (31.203, 121.402),
    "U2": (31.201, 121.405),
    "U3": (31.250, 121.450),
    "U4": (31.160, 121.470),
    "U5": (31.240, 121.350),
    "U6": (31.150, 121.380),
    "U7": (31.270, 121.410),
}


def table(extra: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range(pd.Timestamp(AS_OF) - pd.Timedelta(days=55), pd.Timestamp(AS_OF), freq="D")
    counts = pd.DataFrame(rng.poisson(5.0, size=(56, 8)), index=days, columns=list(COORDINATES))
    counts.iloc[-3:, :3] += extra
    return counts.astype(float)


def test_a_cluster_of_neighbouring_units_in_the_last_days_triggers() -> None:
    found = rules.space_time_scan_triggers(
        {"fever": table(extra=9)}, COORDINATES, AS_OF, days=7, p_value=0.01, replicates=199
    )
    assert [t.key for t in found] == ["scan:fever:U0,U1,U2"]
    assert found[0].detail["observed"] > found[0].detail["expected"]
    assert found[0].detail["start"] == (AS_OF - timedelta(days=2)).isoformat()
    # The Monte Carlo seed is the day: the same data give the same answer.
    again = rules.space_time_scan_triggers(
        {"fever": table(extra=9)}, COORDINATES, AS_OF, days=7, p_value=0.01, replicates=199
    )
    assert again == found


def test_ordinary_counts_trigger_nothing_and_the_parameters_are_checked() -> None:
    assert (
        rules.space_time_scan_triggers(
            {"fever": table(extra=0)}, COORDINATES, AS_OF, days=7, p_value=0.01, replicates=199
        )
        == []
    )
    assert rules.rule_parameters("space_time_scan", {})["replicates"] == 999
    with pytest.raises(ValueError, match="p_value must lie between 0 and 1"):
        rules.rule_parameters("space_time_scan", {"p_value": 2})
    with pytest.raises(ValueError, match="shorter than study_days"):
        rules.rule_parameters("space_time_scan", {"days": 60})


@pytest.mark.django_db
def test_detection_opens_a_scan_alert_from_the_stored_counts() -> None:
    AlertRule.objects.create(
        name="space-time cluster",
        kind=RuleKind.SPACE_TIME_SCAN,
        parameters={"p_value": 0.01, "replicates": 199},
    )
    counts = table(extra=9)
    for code, (lat, lon) in COORDINATES.items():
        unit = make_unit(code, lat=lat, lon=lon)
        add_series(unit, "fever", [int(v) for v in counts[code]])
    ears_settings(unit, "fever", ["ears_c1"])
    opened = services.do_detect(AS_OF).alerts_opened
    alert = Alert.objects.get(pk__in=opened, rule__kind=RuleKind.SPACE_TIME_SCAN)
    assert sorted(u.code for u in alert.units.all()) == ["U0", "U1", "U2"]
    assert alert.snapshot["trigger"]["p_value"] <= 0.01
    assert services.do_detect(AS_OF).alerts_opened == []
