"""A synthetic sentinel feed for demos and tests: daily counts with seasonality, weekday effects and a
few injected outbreaks, seeded so the same seed gives the same feed.

Reporting units are derived from the district already in the database: each community health centre
reports as a centre and runs a fever sentinel clinic, each sub-district reports its total, and a few
schools report too. Default detector settings and the three standard alert rules come with the feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone

from jiayi.registry.choices import InstitutionKind, PlaceLevel
from jiayi.registry.models import Institution, Place
from jiayi.surveillance.models import (
    AlertRule,
    DailyCount,
    DetectorSetting,
    ReportingUnit,
    RuleKind,
    UnitKind,
)

DEFAULT_CODES = ("fever", "respiratory", "diarrhoea")
# Mean daily counts at a unit of average size, before season and weekday.
BASE_MEAN = {"fever": 6.0, "respiratory": 9.0, "diarrhoea": 3.0, "rash": 1.0}
# Monday..Sunday: clinics are a little busier on Mondays and quieter at weekends; schools close.
WEEKDAY_FACTOR = np.array([1.15, 1.05, 1.0, 1.0, 1.0, 0.9, 0.85])
SCHOOL_WEEKDAY_FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
DISPERSION = 1.5  # variance = DISPERSION × mean
# EARS C1 and C2 on every series; the "two detectors agree" rule then needs both. Other detectors
# (moving percentile, Farrington) are added per series as DetectorSettings where the history allows.
# A 28-day baseline: seven days of overdispersed counts estimate the spread too poorly for daily data.
DEFAULT_DETECTORS: tuple[tuple[str, dict[str, int | float]], ...] = (
    ("ears_c1", {"baseline": 28}),
    ("ears_c2", {"baseline": 28}),
)
STANDARD_RULES = (
    ("多算法一致 Two detectors agree", RuleKind.DETECTORS_AGREE, {"k": 2, "days": 1}),
    (
        "相邻三单位3日内预警 Three adjacent units within 3 days",
        RuleKind.ADJACENT_UNITS,
        {"n": 3, "days": 3, "radius_km": 2.0},
    ),
    ("甲类传染病病例 Any class-A case", RuleKind.CLASS_A_CASE, {"days": 7}),
)
MAX_SCHOOLS = 4


@dataclass(frozen=True)
class InjectedOutbreak:
    unit: str
    code: str
    start: date
    days: int
    cases: int


@dataclass
class FeedSummary:
    units: int = 0
    counts: int = 0
    outbreaks: list[InjectedOutbreak] = field(default_factory=list)


def ensure_reporting_units() -> list[ReportingUnit]:
    """Create the reporting units of the district once; later calls return the same units."""
    centres = Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE).select_related("place")
    for centre in centres:
        lat, lon = _coordinates(centre)
        if lat is None or lon is None:
            continue
        for suffix, kind, name, offset in (
            ("C", UnitKind.CENTRE, centre.name, 0.0),
            ("F", UnitKind.FEVER_CLINIC, f"{centre.name} 发热哨点诊室", 0.002),
        ):
            ReportingUnit.objects.get_or_create(
                code=f"{suffix}{centre.code}"[:24],
                defaults={
                    "name": name[:100],
                    "kind": kind,
                    "institution": centre,
                    "place": centre.place,
                    "centre": centre,
                    "lat": lat + offset,
                    "lon": lon + offset,
                },
            )
    subdistricts = Place.objects.filter(level=PlaceLevel.SUB_DISTRICT, centroid_lat__isnull=False)
    for place in subdistricts:
        responsible: Institution | None = (
            Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE, place=place).first()
            or Institution.objects.filter(
                kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE, served_committees__parent=place
            ).first()
        )
        ReportingUnit.objects.get_or_create(
            code=f"S{place.code}"[:24],
            defaults={
                "name": place.name,
                "kind": UnitKind.SUB_DISTRICT,
                "place": place,
                "centre": responsible,
                "lat": place.centroid_lat,
                "lon": place.centroid_lon,
            },
        )
    schools = Institution.objects.filter(kind=InstitutionKind.SCHOOL).select_related("place").order_by("code")
    for school in schools[:MAX_SCHOOLS]:
        lat, lon = _coordinates(school)
        if lat is None or lon is None:
            continue
        ReportingUnit.objects.get_or_create(
            code=f"K{school.code}"[:24],
            defaults={
                "name": school.name[:100],
                "kind": UnitKind.SCHOOL,
                "institution": school,
                "place": school.place,
                "lat": lat,
                "lon": lon,
                "centre": Institution.objects.filter(
                    kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE, served_committees=school.place
                ).first(),
            },
        )
    return list(ReportingUnit.objects.order_by("code"))


def _coordinates(institution: Institution) -> tuple[float | None, float | None]:
    if institution.lat is not None and institution.lon is not None:
        return institution.lat, institution.lon
    return institution.place.centroid_lat, institution.place.centroid_lon


def expected_counts(days: Sequence[date] | np.ndarray, base: float, *, school: bool = False) -> np.ndarray:
    """Mean daily counts: a winter peak over a 365.25-day year, times the weekday factor."""
    ordinal = np.array([d.toordinal() for d in days], dtype=np.float64)
    weekday = np.array([d.weekday() for d in days])
    season = np.exp(0.45 * np.cos(2 * np.pi * (ordinal - date(2000, 1, 15).toordinal()) / 365.25))
    factor = (SCHOOL_WEEKDAY_FACTOR if school else WEEKDAY_FACTOR)[weekday]
    return np.asarray(base * season * factor, dtype=np.float64)


def generate_sentinel_feed(
    *,
    seed: int = 0,
    end: date | None = None,
    days: int = 800,
    codes: Sequence[str] = DEFAULT_CODES,
    outbreaks: int = 3,
    with_settings: bool = True,
) -> FeedSummary:
    """Write `days` days of counts up to `end` (default today) for every reporting unit and code.

    `outbreaks` outbreaks are injected: the last one ends on `end` so a detection run on that day
    finds it, the others earlier in the feed. Existing counts in the period are replaced. Returns what
    was written, outbreaks included, so a demo can point at them.
    """
    end = end or timezone.localdate()
    start = end - timedelta(days=days - 1)
    rng = np.random.default_rng(seed)
    units = ensure_reporting_units()
    calendar = [start + timedelta(days=i) for i in range(days)]
    summary = FeedSummary(units=len(units))
    if not units:
        return summary
    scale = rng.uniform(0.5, 1.5, size=len(units))
    received = timezone.now()
    series: dict[tuple[int, str], np.ndarray] = {}
    for i, unit in enumerate(units):
        for code in codes:
            mu = expected_counts(
                calendar, BASE_MEAN.get(code, 2.0) * scale[i], school=unit.kind == UnitKind.SCHOOL
            )
            size = np.maximum(mu / (DISPERSION - 1.0), 1e-9)
            series[(i, code)] = np.where(mu > 0, rng.negative_binomial(size, 1.0 / DISPERSION), 0)
    for n in range(outbreaks):
        i = int(rng.integers(len(units)))
        code = codes[int(rng.integers(len(codes)))]
        length = 7
        # The last outbreak ends on `end`; earlier ones fall in the second half of the feed.
        first = days - length if n == outbreaks - 1 else int(rng.integers(days // 2, days - 3 * length))
        mu = expected_counts(calendar[first : first + length], BASE_MEAN.get(code, 2.0) * scale[i])
        # A growing outbreak: extra cases rising to four times the usual count.
        extra = rng.poisson(np.linspace(1.0, 4.0, length) * np.maximum(mu, 2.0))
        series[(i, code)][first : first + length] += extra
        summary.outbreaks.append(
            InjectedOutbreak(units[i].code, code, calendar[first], length, int(extra.sum()))
        )
    with transaction.atomic():
        DailyCount.objects.filter(unit__in=units, code__in=codes, date__gte=start, date__lte=end).delete()
        rows = [
            DailyCount(
                unit=units[i],
                code=code,
                date=calendar[t],
                count=int(values[t]),
                revision=0,
                received_at=received,
            )
            for (i, code), values in series.items()
            for t in range(days)
        ]
        DailyCount.objects.bulk_create(rows, batch_size=5000)
        summary.counts = len(rows)
        if with_settings:
            for unit in units:
                for code in codes:
                    for detector, parameters in DEFAULT_DETECTORS:
                        DetectorSetting.objects.get_or_create(
                            unit=unit, code=code, detector=detector, defaults={"parameters": parameters}
                        )
            for name, kind, rule_parameters in STANDARD_RULES:
                AlertRule.objects.get_or_create(
                    name=name, defaults={"kind": kind, "parameters": rule_parameters}
                )
    return summary
