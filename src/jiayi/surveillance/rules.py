"""Alert rules and the alert workflow as pure functions over plain facts: no database, `as_of` passed in.

Five rule kinds, each a declaration with its parameters:

- `detectors_agree`: on one unit, series and day, at least `k` different detectors signal.
- `adjacent_units`: at least `n` units within `radius_km` of one another's centre unit signal for the
  same code within the last `days` days (any detector).
- `class_a_case`: any single reported case of a class-A disease (plague, cholera) in the last `days`.
- `combined_evidence`: on one unit and series, the evidence of `detectors` over the last `periods`
  days, added as in `jiayi.surveillance.evidence`, reaches `level`.
- `space_time_scan`: the space-time permutation scan (Kulldorff 2005) over all units' counts of a code
  in the last `study_days` finds a cluster ending today, at most `days` long, with p ≤ `p_value`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from jiayi.surveillance.detection import DETECTORS
from jiayi.surveillance.detectors import space_time_permutation_scan
from jiayi.surveillance.evidence import combined_evidence

# China's Law on the Prevention and Control of Infectious Diseases, class A (甲类).
CLASS_A_CODES = frozenset({"plague", "cholera"})

# Parameters of each kind with their defaults; a rule's JSON may set only these.
RULE_PARAMETERS: Mapping[str, Mapping[str, int | float]] = {
    "detectors_agree": {"k": 2, "days": 1},
    "adjacent_units": {"n": 3, "days": 3, "radius_km": 5.0},
    "class_a_case": {"days": 7},
    "combined_evidence": {"periods": 2, "level": 0.001},
    "space_time_scan": {"days": 7, "study_days": 56, "p_value": 0.01, "replicates": 999},
}
# Parameters naming detectors, with their defaults: the members of a combined-evidence rule.
RULE_DETECTOR_PARAMETERS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "combined_evidence": {"detectors": ("improved_farrington",)},
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
class EvidenceFact:
    """A detector's p-value (smallest level at which it would alarm) for one series and day."""

    unit: str
    code: str
    detector: str
    day: date
    p_value: float | None


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
    """The rule's numeric parameters with defaults filled in; unknown names or bad values raise
    ValueError (detector lists are checked by `rule_detectors`)."""
    if kind not in RULE_PARAMETERS:
        raise ValueError(f"unknown rule kind {kind!r}")
    defaults = RULE_PARAMETERS[kind]
    lists = RULE_DETECTOR_PARAMETERS.get(kind, {})
    unknown = set(parameters) - set(defaults) - set(lists)
    if unknown:
        raise ValueError(f"{kind} takes {sorted({*defaults, *lists})}, not {sorted(unknown)}")
    merged: dict[str, int | float] = dict(defaults)
    for name, value in parameters.items():
        if name in lists:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
        merged[name] = type(defaults[name])(value)
    if kind == "combined_evidence" and not merged["level"] < 1:
        raise ValueError(f"level must lie between 0 and 1, got {merged['level']!r}")
    if kind == "space_time_scan":
        if not merged["p_value"] < 1:
            raise ValueError(f"p_value must lie between 0 and 1, got {merged['p_value']!r}")
        if not merged["days"] < merged["study_days"]:
            raise ValueError("days must be shorter than study_days")
    rule_detectors(kind, parameters)
    return merged


def rule_detectors(kind: str, parameters: Mapping[str, Any]) -> tuple[str, ...]:
    """The detectors a rule combines (empty for kinds that take none); bad lists raise ValueError."""
    defaults = RULE_DETECTOR_PARAMETERS.get(kind, {})
    if "detectors" not in defaults:
        return ()
    value = parameters.get("detectors", defaults["detectors"])
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError("detectors must be a non-empty list of detector names")
    unknown = [name for name in value if name not in DETECTORS]
    if unknown:
        raise ValueError(f"detectors: unknown {unknown!r}; one of {', '.join(DETECTORS)}")
    if len(set(value)) != len(value):
        raise ValueError("detectors: each detector once")
    return tuple(value)


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


def combined_evidence_triggers(
    evidence: Iterable[EvidenceFact], as_of: date, detectors: Iterable[str], periods: int, level: float
) -> list[Trigger]:
    """Series whose members' evidence over the `periods` days up to `as_of` reaches `level`.

    A member with no value for a day (no setting, no baseline) gives no evidence that day, and still
    counts in the divisor, so a series lacking a member is judged conservatively."""
    members = tuple(detectors)
    first = as_of - timedelta(days=periods - 1)
    values: dict[tuple[str, str], np.ndarray[Any, Any]] = {}
    for fact in evidence:
        if fact.detector not in members or not first <= fact.day <= as_of:
            continue
        grid = values.setdefault((fact.unit, fact.code), np.full((len(members), periods), np.nan))
        grid[members.index(fact.detector), (fact.day - first).days] = (
            np.nan if fact.p_value is None else fact.p_value
        )
    triggers = []
    for (unit, code), grid in sorted(values.items()):
        combined = combined_evidence([grid[[m]] for m in range(len(members))], periods)[0, -1]
        if np.isfinite(combined) and combined <= level:
            triggers.append(
                Trigger(
                    key=f"evidence:{unit}:{code}",
                    code=code,
                    units=(unit,),
                    detail={"detectors": list(members), "periods": periods, "combined": float(combined)},
                )
            )
    return triggers


def space_time_scan_triggers(
    counts_by_code: Mapping[str, pd.DataFrame],
    coordinates: Mapping[str, tuple[float, float]],
    as_of: date,
    days: int,
    p_value: float,
    replicates: int,
) -> list[Trigger]:
    """Clusters of the space-time permutation scan ending on `as_of` with p ≤ `p_value`, per code.

    `counts_by_code` holds, per code, a days × units table ending on `as_of` (the study period). The
    Monte Carlo seed is the day, so running a day again finds the same clusters."""
    triggers: list[Trigger] = []
    for code, table in sorted(counts_by_code.items()):
        units = [u for u in table.columns if u in coordinates]
        if len(units) < 2 or table[units].to_numpy().sum() == 0:
            continue
        lat0 = math.radians(float(np.mean([coordinates[u][0] for u in units])))
        # Kilometres on a local plane: a district is small enough for an equirectangular projection.
        xy = pd.DataFrame(
            {
                "x": [coordinates[u][1] * 111.32 * math.cos(lat0) for u in units],
                "y": [coordinates[u][0] * 110.57 for u in units],
            },
            index=units,
        )
        clusters = space_time_permutation_scan(
            table[units], xy, max_days=days, n_replicates=replicates, rng=as_of.toordinal()
        )
        for cluster in clusters.to_dict("records"):
            end = pd.Timestamp(cluster["end"]).date()
            if float(cluster["p_value"]) > p_value or end != as_of:
                continue
            members = tuple(sorted(str(u) for u in cluster["units"]))
            triggers.append(
                Trigger(
                    key=f"scan:{code}:{','.join(members)}",
                    code=str(code),
                    units=members,
                    detail={
                        "start": pd.Timestamp(cluster["start"]).date().isoformat(),
                        "observed": float(cluster["observed"]),
                        "expected": round(float(cluster["expected"]), 2),
                        "p_value": float(cluster["p_value"]),
                    },
                )
            )
    return triggers


def evaluate_rule(
    kind: str,
    parameters: Mapping[str, Any],
    *,
    as_of: date,
    signals: Iterable[SignalFact] = (),
    cases: Iterable[CaseFact] = (),
    coordinates: Mapping[str, tuple[float, float]] | None = None,
    evidence: Iterable[EvidenceFact] = (),
    counts_by_code: Mapping[str, pd.DataFrame] | None = None,
) -> list[Trigger]:
    """Dispatch one rule declaration to its function."""
    values = rule_parameters(kind, parameters)
    if kind == "space_time_scan":
        return space_time_scan_triggers(
            counts_by_code or {},
            coordinates or {},
            as_of,
            days=int(values["days"]),
            p_value=float(values["p_value"]),
            replicates=int(values["replicates"]),
        )
    if kind == "combined_evidence":
        return combined_evidence_triggers(
            evidence,
            as_of,
            rule_detectors(kind, parameters),
            periods=int(values["periods"]),
            level=float(values["level"]),
        )
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
