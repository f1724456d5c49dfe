"""The synthetic district generator: a deterministic, realistic district for demos, tests and benchmarks."""

from jiayi.synth.config import SynthConfig
from jiayi.synth.district import SynthError, SynthSummary, generate_district

__all__ = ["SynthConfig", "SynthError", "SynthSummary", "generate_district"]
