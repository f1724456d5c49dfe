"""Small reporting units and series for the surveillance app's tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from django.utils import timezone

from jiayi.registry.choices import InstitutionKind
from jiayi.registry.models import Institution
from jiayi.surveillance.models import DailyCount, DetectorSetting, ReportingUnit, UnitKind

AS_OF = date(2026, 3, 1)


def make_unit(
    code: str, lat: float = 31.2, lon: float = 121.4, centre: Institution | None = None
) -> ReportingUnit:
    return ReportingUnit.objects.create(
        code=code, name=f"unit {code}", kind=UnitKind.FEVER_CLINIC, centre=centre, lat=lat, lon=lon
    )


def a_centre() -> Institution:
    centre = Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE).order_by("code").first()
    assert centre is not None
    return centre


def add_series(unit: ReportingUnit, code: str, values: Sequence[int], end: date = AS_OF) -> None:
    """Daily counts ending on `end`, revision 0."""
    start = end - timedelta(days=len(values) - 1)
    DailyCount.objects.bulk_create(
        DailyCount(
            unit=unit,
            code=code,
            date=start + timedelta(days=i),
            count=v,
            revision=0,
            received_at=timezone.now(),
        )
        for i, v in enumerate(values)
    )


def quiet_then_spike(days: int = 60, spike: int = 40) -> list[int]:
    """A steady series of 4-6 cases a day whose last day jumps to `spike`."""
    return [4 + (i % 3) for i in range(days - 1)] + [spike]


def ears_settings(unit: ReportingUnit, code: str, detectors: Sequence[str] = ("ears_c1", "ears_c2")) -> None:
    for detector in detectors:
        DetectorSetting.objects.create(unit=unit, code=code, detector=detector)
