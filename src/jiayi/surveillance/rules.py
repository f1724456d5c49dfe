"""Alert rules and the alert workflow as pure functions over plain facts: no database, `as_of` passed in.

Three rule kinds, each a declaration with its parameters:

- `detectors_agree`: on one unit, series and day, at least `k` different detectors signal.
- `adjacent_units`: at least `n` units within `radius_km` of one another's centre unit signal for the
  same code within the last `days` days (any detector).
- `class_a_case`: any single reported case of a class-A disease (plague, cholera) in the last `days`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

# China's Law on the Prevention and Control of Infectious Diseases, class A (甲类).
CLASS_A_CODES = frozenset({"plague", "cholera"})

# Parameters of each kind with their defaults; a rule's JSON may set only these.
RULE_PARAMETERS: Mapping[str, Mapping[str, int | float]] = {
    "detectors_agree": {"k": 2, "days": 1},
    "adjacent_units": {"n": 3, "days": 3, "radius_km": 5.0},
    "class_a_case": {"days": 7},
}

# The workflow: which state may follow which, and which steps need a note.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "signal": frozenset({"assigned"}),
    "assigned": frozenset({"verified", "dismissed"}),
    "verified": frozenset({"response"}),
    "dismissed": frozenset({"closed"}),
    "response": frozenset({"closed"}),
    "closed": frozenset(),
}
NOTE_REQUIRED = frozenset({"dismissed", "verified", "closed"})
OPEN_STATES = frozenset({"signal", "assigned", "verified", "response"})


@dataclass(frozen=True)
class SignalFact:
    unit: str
    code: str
    detector: str
    day: date


@dataclass(frozen=True)
class CaseFact:
    case_id: int
    code: str
    onset: date
    reported: date
    unit: str | None


@dataclass(frozen=True)
class Trigger:
    """What a rule found: `key` identifies it across runs, `units` and `code` say where and what."""

    key: str
    code: str
    units: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)


def rule_parameters(kind: str, parameters: Mapping[str, Any]) -> dict[str, int | float]:
    """The rule's parameters with defaults filled in; unknown names or bad values raise ValueError."""
    if kind not in RULE_PARAMETERS:
        raise ValueError(f"unknown rule kind {kind!r}")
    defaults = RULE_PARAMETERS[kind]
    unknown = set(parameters) - set(defaults)
    if unknown:
        raise ValueError(f"{kind} takes {sorted(defaults)}, not {sorted(unknown)}")
    merged: dict[str, int | float] = dict(defaults)
    for name, value in parameters.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
        merged[name] = type(defaults[name])(value)
    return merged


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def detectors_agree(signals: Iterable[SignalFact], as_of: date, k: int, days: int = 1) -> list[Trigger]:
    """Units and codes where at least k distinct detectors signalled within the last `days` days."""
    since = as_of - timedelta(days=days - 1)
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for fact in signals:
        if since <= fact.day <= as_of:
            found[(fact.unit, fact.code)].add(fact.detector)
    return [
        Trigger(
            key=f"agree:{unit}:{code}",
            code=code,
            units=(unit,),
            detail={"detectors": sorted(detectors)},
        )
        for (unit, code), detectors in sorted(found.items())
        if len(detectors) >= k
    ]


def adjacent_units(
    signals: Iterable[SignalFact],
    coordinates: Mapping[str, tuple[float, float]],
    as_of: date,
    n: int,
    days: int,
    radius_km: float,
) -> list[Trigger]:
    """Clusters of at least n signalling units around a signalling unit, per code, in the window.

    Each signalling unit is tried as a centre; a cluster already covered by a larger (or equal, earlier
    by code) one is not reported twice."""
    since = as_of - timedelta(days=days - 1)
    by_code: dict[str, set[str]] = defaultdict(set)
    for fact in signals:
        if since <= fact.day <= as_of and fact.unit in coordinates:
            by_code[fact.code].add(fact.unit)
    triggers: list[Trigger] = []
    for code, units in sorted(by_code.items()):
        clusters: list[frozenset[str]] = []
        for centre in sorted(units):
            members = frozenset(
                u for u in units if distance_km(coordinates[centre], coordinates[u]) <= radius_km
            )
            if len(members) >= n:
                clusters.append(members)
        kept = [c for c in clusters if not any(c < other for other in clusters)]
        for members in sorted(set(kept), key=lambda c: sorted(c)):
            ordered = tuple(sorted(members))
            triggers.append(Trigger(key=f"adjacent:{code}:{','.join(ordered)}", code=code, units=ordered))
    return triggers


def class_a_cases(cases: Iterable[CaseFact], as_of: date, days: int = 7) -> list[Trigger]:
    """One trigger per reported case of a class-A disease in the window."""
    since = as_of - timedelta(days=days - 1)
    return [
        Trigger(
            key=f"case:{case.case_id}",
            code=case.code,
            units=(case.unit,) if case.unit else (),
            detail={"case": case.case_id, "onset": case.onset.isoformat()},
        )
        for case in sorted(cases, key=lambda c: c.case_id)
        if case.code in CLASS_A_CODES and since <= case.reported <= as_of
    ]


def evaluate_rule(
    kind: str,
    parameters: Mapping[str, Any],
    *,
    as_of: date,
    signals: Iterable[SignalFact] = (),
    cases: Iterable[CaseFact] = (),
    coordinates: Mapping[str, tuple[float, float]] | None = None,
) -> list[Trigger]:
    """Dispatch one rule declaration to its function."""
    values = rule_parameters(kind, parameters)
    if kind == "detectors_agree":
        return detectors_agree(signals, as_of, k=int(values["k"]), days=int(values["days"]))
    if kind == "adjacent_units":
        return adjacent_units(
            signals,
            coordinates or {},
            as_of,
            n=int(values["n"]),
            days=int(values["days"]),
            radius_km=float(values["radius_km"]),
        )
    return class_a_cases(cases, as_of, days=int(values["days"]))


def check_transition(current: str, target: str, note: str) -> str | None:
    """Why an alert may not move from `current` to `target`, or None when it may."""
    if target not in TRANSITIONS.get(current, frozenset()):
        return f"an alert in state {current} cannot move to {target}"
    if target in NOTE_REQUIRED and not note.strip():
        return f"moving to {target} needs a note"
    return None
