"""The detectors a DetectorSetting may name, how its JSON parameters are checked, and batch runs.

Settings that name the same detector with the same parameters run together: their series are stacked
into one (series, days) array and the detector's `*_arrays` variant handles them in one call.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from jiayi.surveillance.detectors import (
    IMPROVED_FARRINGTON,
    ORIGINAL_FARRINGTON,
    Detection,
    ears,
    ears_arrays,
    farrington_arrays,
    farrington_flexible,
    moving_percentile,
    moving_percentile_arrays,
)


@dataclass(frozen=True)
class DetectorKind:
    """One selectable detector: the pure series function whose signature its parameters must fit,
    the parameters the setting may not override, the defaults it starts from, and the batch call."""

    series_function: Callable[..., pd.DataFrame]
    fixed: Mapping[str, Any]
    defaults: Mapping[str, Any]
    run: Callable[[np.ndarray[Any, Any], pd.DatetimeIndex, dict[str, Any], pd.Timestamp], Detection]


def _ears(method: str) -> DetectorKind:
    def run(
        counts: np.ndarray[Any, Any], index: pd.DatetimeIndex, params: dict[str, Any], start: pd.Timestamp
    ) -> Detection:
        return ears_arrays(counts, method=method, **params)  # type: ignore[arg-type]

    return DetectorKind(ears, {"method": method}, {"min_sigma": 0.5}, run)


def _farrington(preset: Mapping[str, Any]) -> DetectorKind:
    def run(
        counts: np.ndarray[Any, Any], index: pd.DatetimeIndex, params: dict[str, Any], start: pd.Timestamp
    ) -> Detection:
        return farrington_arrays(counts, index, monitor_from=start, **params)

    # Daily sentinel series rarely have five years behind them: two years back by default.
    return DetectorKind(farrington_flexible, {}, {**preset, "b": 2, "alpha": 0.01}, run)


def _percentile(
    counts: np.ndarray[Any, Any], index: pd.DatetimeIndex, params: dict[str, Any], start: pd.Timestamp
) -> Detection:
    return moving_percentile_arrays(counts, index, monitor_from=start, **params)


DETECTORS: Mapping[str, DetectorKind] = {
    "ears_c1": _ears("C1"),
    "ears_c2": _ears("C2"),
    "ears_c3": _ears("C3"),
    "farrington": _farrington(ORIGINAL_FARRINGTON),
    "improved_farrington": _farrington(IMPROVED_FARRINGTON),
    "moving_percentile": DetectorKind(moving_percentile, {}, {"percentile": 90.0, "years": 1}, _percentile),
}

# Arguments the runner supplies itself; a setting cannot choose them.
_RESERVED = frozenset({"series", "method", "include_p_value", "monitor_from"})


def check_parameters(detector: str, parameters: Mapping[str, Any]) -> list[str]:
    """Problems with a setting's parameters: unknown detector, names outside the detector function's
    signature, values of the wrong type. Empty when the parameters would run."""
    kind = DETECTORS.get(detector)
    if kind is None:
        return [f"unknown detector {detector!r}"]
    signature = inspect.signature(kind.series_function)
    allowed = {name for name in signature.parameters if name not in _RESERVED}
    unknown = sorted(set(parameters) - allowed)
    if unknown:
        return [f"{detector} takes no parameter {name!r}" for name in unknown]
    problems = []
    for name, value in parameters.items():
        default = signature.parameters[name].default
        # Annotations are text under `from __future__ import annotations`; "float | None" is a number.
        annotation = str(signature.parameters[name].annotation)
        numeric = (isinstance(default, int | float) and not isinstance(default, bool)) or (
            default is None and annotation in ("float | None", "int | None")
        )
        if isinstance(default, bool) and not isinstance(value, bool):
            problems.append(f"{name} must be true or false")
        elif numeric:
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{name} must be a number")
        elif isinstance(default, str) and not isinstance(value, str):
            problems.append(f"{name} must be text")
    if problems:
        return problems
    # Values in range are the detector's own business: run it once on a short dummy series.
    dummy = pd.Series(np.zeros(30), index=pd.date_range("2020-01-01", periods=30, freq="D"))
    try:
        kind.series_function(dummy, **{**kind.fixed, **effective_parameters(detector, parameters)})
    except (ValueError, TypeError) as exc:
        return [str(exc)]
    return []


def effective_parameters(detector: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**DETECTORS[detector].defaults, **parameters}
    if "limit54" in merged:
        merged["limit54"] = tuple(merged["limit54"])
    return merged


@dataclass(frozen=True)
class SeriesJob:
    """One setting's series, on the shared day index."""

    setting_id: int
    detector: str
    parameters: Mapping[str, Any]
    counts: np.ndarray[Any, Any]


def run_batch(
    jobs: Sequence[SeriesJob], index: pd.DatetimeIndex, start: pd.Timestamp
) -> dict[int, pd.DataFrame]:
    """Every job's detection (expected, threshold, score, alarm, p_value) on `index`, by setting id.

    Jobs with the same detector and parameters go through the detector's array function together."""
    groups: dict[tuple[str, str], list[SeriesJob]] = {}
    for job in jobs:
        key = (job.detector, json.dumps(job.parameters, sort_keys=True))
        groups.setdefault(key, []).append(job)
    frames: dict[int, pd.DataFrame] = {}
    for (detector, _), members in groups.items():
        params = effective_parameters(detector, members[0].parameters)
        counts = np.vstack([job.counts for job in members]).astype(np.float64)
        detection = DETECTORS[detector].run(counts, index, params, start)
        for row, job in enumerate(members):
            frames[job.setting_id] = detection.to_frame(index, row=row, include_p_value=True)
    return frames
