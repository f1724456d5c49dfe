"""Evidence of detectors combined over detectors and consecutive periods (综合证据).

A detector's `p_value` for a period is the smallest level at which it would alarm. Turned into a
normal score z = Φ⁻¹(1 − p) and floored at 0 (a count at or below its expectation is no evidence
either way, as in EARS C3's max(0, ·)), the scores of the member detectors over the current and the
`periods − 1` previous periods are added with Stouffer's weights: Z = Σ z / √(members × periods), and
the combined level is Φ(−Z). Outbreak cases spread over more than one period (onset delays), so a
period that is only unusual together with the one before it still adds up to an alarm.

The members are correlated (they read the same counts), so Φ(−Z) is not a calibrated p-value: a rule
alarms when it is at most a level chosen for the false-positive rate wanted, found by simulation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from jiayi.surveillance.detectors._common import FloatArray


def evidence_score(p_value: FloatArray) -> FloatArray:
    """z = Φ⁻¹(1 − p) floored at 0; a period without a baseline (NaN) gives no evidence (0)."""
    p = np.clip(np.nan_to_num(np.asarray(p_value, dtype=np.float64), nan=1.0), 1e-300, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = -ndtri(p)
    return np.asarray(np.maximum(np.nan_to_num(z, nan=0.0, posinf=40.0, neginf=0.0), 0.0), dtype=np.float64)


def combined_evidence(p_values: Sequence[FloatArray], periods: int = 1) -> FloatArray:
    """The combined level of members' p-values, each shaped (series, periods), over `periods`
    consecutive periods ending with each one. NaN where no member has a baseline for the period."""
    if not p_values:
        raise ValueError("combined evidence needs at least one member")
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
        raise ValueError(f"periods must be a whole number of at least 1, got {periods!r}")
    arrays = [np.atleast_2d(np.asarray(p, dtype=np.float64)) for p in p_values]
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise ValueError("members' p-values must have the same shape")
    total = np.zeros(shape)
    for array in arrays:
        z = evidence_score(array)
        for lag in range(periods):
            # Periods before the first have no evidence to give.
            total[:, lag:] += z[:, : shape[1] - lag]
    combined = ndtr(-total / np.sqrt(len(arrays) * periods))
    undefined = np.all(np.stack([np.isnan(a) for a in arrays]), axis=0)
    return np.asarray(np.where(undefined, np.nan, combined), dtype=np.float64)
