"""Settings of the synthetic district, with the figures they come from.

Sources (see ../../../docs/synthetic-district.md): Shanghai 户籍 population 2022 (28.2% aged 65+, 36.8%
aged 60+, 5.5% aged 80+); 2019 3.59 GPs per 10,000 residents; Changning ≈690k residents, 10 centres,
1 branch centre, 44 stations; about one residential committee per 3,500 residents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

# Age bands as (lowest age, highest age, share). Registered (户籍) population matches the Shanghai 2022
# figures; migrants are younger (most of them working age), which pulls the 常住 65+ share down.
REGISTERED_AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 6, 0.045),
    (7, 17, 0.072),
    (18, 34, 0.135),
    (35, 59, 0.380),
    (60, 64, 0.086),
    (65, 79, 0.227),
    (80, 100, 0.055),
)
MIGRANT_AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 6, 0.050),
    (7, 17, 0.070),
    (18, 34, 0.360),
    (35, 59, 0.430),
    (60, 64, 0.040),
    (65, 79, 0.042),
    (80, 100, 0.008),
)
# Household sizes 1..6 (Shanghai's mean household is about 2.3–2.5 people).
HOUSEHOLD_SIZE_SHARES: tuple[float, ...] = (0.24, 0.33, 0.24, 0.11, 0.06, 0.02)


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """What to generate. Every figure is configurable; the defaults describe a Changning-like district."""

    residents: int = 20_000
    seed: int = 7
    as_of: date = field(default_factory=lambda: date(2026, 1, 1))
    district_code: str = "310105"
    registered_share: float = 0.62
    registered_not_living_here_share: float = 0.08
    alternative_id_share: float = 0.006
    record_number_share: float = 0.86
    residents_per_committee: int = 3_500
    gps_per_10k: float = 3.6
    households_per_point: int = 40
    stations: int = 44
    district_hospitals: int = 3
    municipal_hospitals: int = 3
    specialists_per_hospital: int = 12
    deceased_share_80_plus: float = 0.01
    registered_age_bands: tuple[tuple[int, int, float], ...] = REGISTERED_AGE_BANDS
    migrant_age_bands: tuple[tuple[int, int, float], ...] = MIGRANT_AGE_BANDS
    household_size_shares: tuple[float, ...] = HOUSEHOLD_SIZE_SHARES

    def __post_init__(self) -> None:
        if self.residents < 1:
            raise ValueError("residents must be at least 1")
        if self.residents > 30_000_000:
            raise ValueError("residents must be at most 30,000,000")
        for name in ("registered_share", "registered_not_living_here_share", "alternative_id_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name, bands in (
            ("registered_age_bands", self.registered_age_bands),
            ("migrant_age_bands", self.migrant_age_bands),
        ):
            if abs(sum(b[2] for b in bands) - 1.0) > 1e-6:
                raise ValueError(f"{name} shares must add up to 1")
        if abs(sum(self.household_size_shares) - 1.0) > 1e-6:
            raise ValueError("household_size_shares must add up to 1")
        if self.district_code not in reference_data()["districts"]:
            raise ValueError(f"district_code {self.district_code} has no reference data")

    @property
    def expected_share_65_plus_registered(self) -> float:
        return sum(share for low, _high, share in self.registered_age_bands if low >= 65)


@cache
def reference_data() -> dict[str, Any]:
    text = resources.files("jiayi.registry").joinpath("data/districts.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def name_data() -> dict[str, Any]:
    text = resources.files("jiayi.synth").joinpath("data/names.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]
