"""Detection runs: signals from the detector settings, alerts from the rules, and reruns that add nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from jiayi.registry.models import Place
from jiayi.surveillance import services
from jiayi.surveillance.detection import check_parameters
from jiayi.surveillance.models import Alert, AlertRule, CaseReport, DailyCount, Notification, RuleKind, Signal
from jiayi.surveillance.synth import generate_sentinel_feed
from jiayi.surveillance.tasks import detect_task
from tests.conftest import Personas
from tests.surveillance.factories import AS_OF, add_series, ears_settings, make_unit, quiet_then_spike

pytestmark = pytest.mark.django_db


@pytest.fixture
def agree_rule() -> AlertRule:
    return AlertRule.objects.create(name="two agree", kind=RuleKind.DETECTORS_AGREE, parameters={"k": 2})


def test_it_opens_one_alert_when_two_detectors_agree_on_a_spike(
    agree_rule: AlertRule, personas: Personas
) -> None:
    unit = make_unit("U1")
    add_series(unit, "fever", quiet_then_spike())
    ears_settings(unit, "fever")

    result = services.do_detect(AS_OF)

    assert result.signals_created == 2
    assert {s.setting.detector for s in Signal.objects.filter(date=AS_OF)} == {"ears_c1", "ears_c2"}
    alert = Alert.objects.get(pk__in=result.alerts_opened)
    assert (alert.rule, alert.code, alert.state) == (agree_rule, "fever", "signal")
    assert [u.code for u in alert.units.all()] == ["U1"]
    assert alert.snapshot["counts"]["U1"][-1] == [AS_OF.isoformat(), 40]
    assert len(alert.snapshot["signals"]) == 2
    assert list(Notification.objects.filter(alert=alert).values_list("recipient", flat=True)) == [
        personas.cdc.pk
    ]
    assert alert.events.get().to_state == "signal"


def test_it_creates_nothing_new_when_rerun_on_the_same_day(agree_rule: AlertRule) -> None:
    unit = make_unit("U1")
    add_series(unit, "fever", quiet_then_spike())
    ears_settings(unit, "fever")
    services.do_detect(AS_OF)
    before = (Signal.objects.count(), Alert.objects.count(), Notification.objects.count())

    again = services.do_detect(AS_OF)

    assert (again.signals_created, again.signals_removed, again.alerts_opened) == (0, 0, [])
    assert (Signal.objects.count(), Alert.objects.count(), Notification.objects.count()) == before


def test_it_does_not_reopen_an_ongoing_alert_the_next_day(agree_rule: AlertRule) -> None:
    unit = make_unit("U1")
    add_series(unit, "fever", [*quiet_then_spike(), 45], end=AS_OF + timedelta(days=1))
    ears_settings(unit, "fever")
    services.do_detect(AS_OF)

    nxt = services.do_detect(AS_OF + timedelta(days=1))

    assert nxt.alerts_opened == []
    assert Alert.objects.count() == 1


def test_it_treats_a_quiet_series_as_quiet(agree_rule: AlertRule) -> None:
    unit = make_unit("U1")
    add_series(unit, "fever", quiet_then_spike(spike=5))
    ears_settings(unit, "fever")

    assert services.do_detect(AS_OF).signals_created == 0
    assert not Alert.objects.exists()


def test_it_opens_an_alert_for_a_single_class_a_case(personas: Personas) -> None:
    AlertRule.objects.create(name="class A", kind=RuleKind.CLASS_A_CASE, parameters={"days": 7})
    unit = make_unit("U1")
    place = Place.objects.filter(level="committee").first()
    assert place is not None
    CaseReport.objects.create(code="cholera", onset_date=AS_OF, reported_on=AS_OF, place=place, unit=unit)
    ears_settings(unit, "fever")
    add_series(unit, "fever", [5] * 30)

    result = services.do_detect(AS_OF)

    assert Alert.objects.get(pk__in=result.alerts_opened).code == "cholera"


def test_it_runs_as_a_background_task(agree_rule: AlertRule) -> None:
    unit = make_unit("U1")
    add_series(unit, "fever", quiet_then_spike())
    ears_settings(unit, "fever")

    outcome = detect_task.call(AS_OF.isoformat())

    assert outcome == {"settings": 2, "signals_created": 2, "signals_removed": 0, "alerts_opened": 1}


@pytest.mark.parametrize(
    ("detector", "parameters", "problem"),
    [
        ("ears_c1", {}, None),
        ("ears_c1", {"alpha": 0.01, "min_sigma": 1.0}, None),
        ("ears_c1", {"b": 5}, "takes no parameter 'b'"),
        ("ears_c1", {"alpha": "high"}, "alpha must be a number"),
        ("ears_c1", {"alpha": 2.0}, "alpha"),
        ("ears_c3", {"method": "C1"}, "takes no parameter 'method'"),
        ("farrington", {"b": 3, "threshold_method": "nbPlugin"}, None),
        ("farrington", {"threshold_method": "wild"}, "threshold_method"),
        ("moving_percentile", {"percentile": 70.0}, None),
        ("cusum", {}, "unknown detector"),
    ],
)
def test_it_checks_setting_parameters_against_the_detector(
    detector: str, parameters: dict[str, object], problem: str | None
) -> None:
    problems = check_parameters(detector, parameters)
    if problem is None:
        assert problems == []
    else:
        assert problems
        assert problem in problems[0]


def test_it_finds_the_last_injected_outbreak_of_the_synthetic_feed() -> None:
    end = date(2026, 1, 1)
    summary = generate_sentinel_feed(seed=3, end=end, days=420, outbreaks=2)
    again = DailyCount.objects.order_by("unit", "code", "date").values_list("count", flat=True)[:200]
    first_counts = list(again)
    generate_sentinel_feed(seed=3, end=end, days=420, outbreaks=2)

    assert (
        list(DailyCount.objects.order_by("unit", "code", "date").values_list("count", flat=True)[:200])
        == first_counts
    )
    assert summary.units > 0
    assert summary.counts == summary.units * 3 * 420
    last = summary.outbreaks[-1]
    assert last.start == end - timedelta(days=6)

    result = services.do_detect(end)

    alerted = {
        (u.code, a.code) for a in Alert.objects.filter(pk__in=result.alerts_opened) for u in a.units.all()
    }
    assert (last.unit, last.code) in alerted
