"""Alert rule semantics and the alert workflow, table-driven over plain facts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from jiayi.surveillance import rules
from jiayi.surveillance.rules import CaseFact, SignalFact

DAY = date(2026, 3, 1)
# Three units about 1 km apart in a row, and one 20 km away.
COORDINATES = {
    "A": (31.200, 121.400),
    "B": (31.209, 121.400),
    "C": (31.218, 121.400),
    "FAR": (31.380, 121.400),
}


def sig(unit: str, detector: str = "ears_c1", days_ago: int = 0, code: str = "fever") -> SignalFact:
    return SignalFact(unit, code, detector, DAY - timedelta(days=days_ago))


@pytest.mark.parametrize(
    ("signals", "k", "days", "expected_units"),
    [
        ([sig("A", "ears_c1"), sig("A", "ears_c2")], 2, 1, [("A",)]),
        ([sig("A", "ears_c1"), sig("A", "ears_c1")], 2, 1, []),  # the same detector twice is one
        ([sig("A", "ears_c1"), sig("B", "ears_c2")], 2, 1, []),  # different units do not agree
        ([sig("A", "ears_c1"), sig("A", "ears_c2", days_ago=1)], 2, 1, []),  # outside a 1-day window
        ([sig("A", "ears_c1"), sig("A", "ears_c2", days_ago=1)], 2, 2, [("A",)]),
        ([sig("A", "ears_c1"), sig("A", "ears_c2", code="rash")], 2, 1, []),  # different codes
        ([sig("A", "ears_c1"), sig("A", "ears_c2"), sig("A", "ears_c3")], 3, 1, [("A",)]),
        ([sig("A", "ears_c1", days_ago=-1), sig("A", "ears_c2", days_ago=-1)], 2, 1, []),  # the future
    ],
)
def test_it_opens_detectors_agree_only_when_k_distinct_detectors_signal(
    signals: list[SignalFact], k: int, days: int, expected_units: list[tuple[str, ...]]
) -> None:
    found = rules.evaluate_rule("detectors_agree", {"k": k, "days": days}, as_of=DAY, signals=signals)
    assert [t.units for t in found] == expected_units


@pytest.mark.parametrize(
    ("signals", "n", "days", "radius_km", "expected_units"),
    [
        ([sig("A"), sig("B"), sig("C")], 3, 3, 5.0, [("A", "B", "C")]),
        ([sig("A"), sig("B", days_ago=2), sig("C", days_ago=1)], 3, 3, 5.0, [("A", "B", "C")]),
        ([sig("A"), sig("B"), sig("C", days_ago=3)], 3, 3, 5.0, []),  # C signalled before the window
        ([sig("A"), sig("B"), sig("FAR")], 3, 3, 5.0, []),  # FAR is not adjacent
        ([sig("A"), sig("B"), sig("C")], 3, 3, 1.5, [("A", "B", "C")]),  # B is within 1.5 km of both
        ([sig("A"), sig("B"), sig("C")], 2, 3, 0.5, []),  # 1 km apart: nobody adjacent at 0.5 km
        ([sig("A"), sig("B")], 2, 3, 1.5, [("A", "B")]),  # reported once, not once per centre
        ([sig("A"), sig("B"), sig("C", code="rash")], 3, 3, 5.0, []),  # per code
    ],
)
def test_it_opens_adjacent_units_for_n_signalling_neighbours_within_d_days(
    signals: list[SignalFact], n: int, days: int, radius_km: float, expected_units: list[tuple[str, ...]]
) -> None:
    found = rules.evaluate_rule(
        "adjacent_units",
        {"n": n, "days": days, "radius_km": radius_km},
        as_of=DAY,
        signals=signals,
        coordinates=COORDINATES,
    )
    assert [t.units for t in found] == expected_units


@pytest.mark.parametrize(
    ("code", "reported_days_ago", "fires"),
    [
        ("cholera", 0, True),
        ("plague", 6, True),
        ("plague", 7, False),  # before a 7-day window
        ("measles", 0, False),  # class B
        ("fever", 0, False),
    ],
)
def test_it_opens_a_class_a_alert_for_any_single_case(code: str, reported_days_ago: int, fires: bool) -> None:
    case = CaseFact(1, code, DAY - timedelta(days=10), DAY - timedelta(days=reported_days_ago), "A")
    found = rules.evaluate_rule("class_a_case", {"days": 7}, as_of=DAY, cases=[case])
    assert [t.key for t in found] == (["case:1"] if fires else [])


@pytest.mark.parametrize(
    ("kind", "parameters", "message"),
    [
        ("detectors_agree", {"n": 3}, "takes"),
        ("detectors_agree", {"k": 0}, "positive"),
        ("adjacent_units", {"radius_km": "near"}, "positive"),
        ("adjacent_units", {"days": True}, "positive"),
        ("nearest_neighbour", {}, "unknown rule kind"),
    ],
)
def test_it_rejects_bad_rule_parameters(kind: str, parameters: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rules.rule_parameters(kind, parameters)


def test_it_fills_rule_defaults() -> None:
    assert rules.rule_parameters("adjacent_units", {"n": 4}) == {"n": 4, "days": 3, "radius_km": 5.0}


@pytest.mark.parametrize(
    ("current", "target", "note", "allowed"),
    [
        ("signal", "assigned", "", True),
        ("signal", "verified", "seen", False),  # must be assigned first
        ("signal", "closed", "done", False),
        ("assigned", "verified", "confirmed by lab", True),
        ("assigned", "verified", "  ", False),  # a note is needed
        ("assigned", "dismissed", "data entry error", True),
        ("assigned", "dismissed", "", False),
        ("verified", "response", "", True),
        ("verified", "closed", "done", False),  # a verified alert gets a response first
        ("dismissed", "closed", "done", True),
        ("response", "closed", "contained", True),
        ("response", "closed", "", False),
        ("closed", "assigned", "", False),
    ],
)
def test_it_allows_only_the_workflow_transitions(current: str, target: str, note: str, allowed: bool) -> None:
    assert (rules.check_transition(current, target, note) is None) is allowed
