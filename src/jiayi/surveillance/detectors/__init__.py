"""Outbreak detectors over counts per period: pure functions of pandas Series, numpy underneath.

Each detector returns a DataFrame on the input's index with `expected`, `threshold`, `score` and
`alarm`; the `*_arrays` variants take many series at once as a (series, periods) array and return a
`Detection` of arrays, for simulation studies and batch runs.
"""

from jiayi.surveillance.detectors._common import Detection
from jiayi.surveillance.detectors.ears import ears, ears_arrays
from jiayi.surveillance.detectors.farrington import (
    IMPROVED_FARRINGTON,
    ORIGINAL_FARRINGTON,
    FarringtonOptions,
    Threshold,
    farrington_arrays,
    farrington_delta_threshold,
    farrington_flexible,
    farrington_nb_threshold,
)
from jiayi.surveillance.detectors.percentile import moving_percentile, moving_percentile_arrays
from jiayi.surveillance.detectors.scan import poisson_llr, space_time_permutation_scan

__all__ = [
    "IMPROVED_FARRINGTON",
    "ORIGINAL_FARRINGTON",
    "Detection",
    "FarringtonOptions",
    "Threshold",
    "ears",
    "ears_arrays",
    "farrington_arrays",
    "farrington_delta_threshold",
    "farrington_flexible",
    "farrington_nb_threshold",
    "moving_percentile",
    "moving_percentile_arrays",
    "poisson_llr",
    "space_time_permutation_scan",
]
