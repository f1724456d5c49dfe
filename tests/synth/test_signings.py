"""Synthetic signings: coverage on target, one open signing per resident, consistent history, determinism."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.models import Count, F

from jiayi.registry.models import Resident
from jiayi.signing.choices import OPEN_STATUSES, ChangeReason, SigningStatus
from jiayi.signing.models import Consent, ReminderMessage, ServicePackage, Signing, SigningEvent
from jiayi.synth import SynthConfig, generate_district
from jiayi.synth.signings import (
    CHRONIC_SHARE,
    ELDERLY_SHARE,
    KEY_SHARE,
    OVERALL_SHARE,
    generate_signings,
)

from .test_district import _wipe

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 1, 1)
TOLERANCE = 0.02  # two percentage points at 20,000 residents


def _fresh(residents: int, seed: int = 7, *, signings: bool = False) -> SynthConfig:
    """Empty the signing and registry tables inside the test's transaction and generate a district."""
    ReminderMessage.objects.all().delete()
    SigningEvent.objects.all().delete()
    Signing.objects.update(previous=None)
    Signing.objects.all().delete()
    Consent.objects.all().delete()
    ServicePackage.objects.all().delete()
    _wipe()
    cfg = SynthConfig(residents=residents, seed=seed, as_of=AS_OF)
    summary = generate_district(cfg, signings=signings)
    assert ("signings" in summary.seconds) == signings
    return cfg


def _sign(residents: int, seed: int = 7) -> tuple[SynthConfig, dict[str, float]]:
    cfg = _fresh(residents, seed)
    summary = generate_signings(cfg, seed, AS_OF)
    return cfg, summary.coverage


def test_it_signs_the_configured_shares_at_20k() -> None:
    _cfg, coverage = _sign(20_000)

    assert coverage["overall"] == pytest.approx(OVERALL_SHARE, abs=TOLERANCE)
    assert coverage["key_populations"] == pytest.approx(KEY_SHARE, abs=TOLERANCE)
    assert coverage["aged_65_plus"] == pytest.approx(ELDERLY_SHARE, abs=TOLERANCE)
    assert coverage["aged_65_plus"] > coverage["children_0_6"] > coverage["overall"]
    # The figures come from the rows written, not only from the generator's own arrays.
    pool = Resident.objects.filter(is_resident=True, date_of_death__isnull=True)
    signed = pool.filter(signings__status__in=OPEN_STATUSES).distinct().count()
    assert signed / pool.count() == pytest.approx(coverage["overall"], abs=1e-9)


def test_it_signs_chronic_patients_more_often_when_histories_exist() -> None:
    ReminderMessage.objects.all().delete()
    SigningEvent.objects.all().delete()
    Signing.objects.update(previous=None)
    Signing.objects.all().delete()
    Consent.objects.all().delete()
    ServicePackage.objects.all().delete()
    _wipe()
    cfg = SynthConfig(residents=10_000, seed=3, as_of=AS_OF)
    summary = generate_district(cfg, signings=True, histories=True)
    # Histories are written before signings so the signing step can see who is a chronic patient.
    assert list(summary.seconds).index("histories") < list(summary.seconds).index("signings")
    pool = Resident.objects.filter(is_resident=True, date_of_death__isnull=True)
    signed = pool.filter(signings__status__in=OPEN_STATUSES)
    # Adults under 65 (born after AS_OF minus 65 years) with hypertension on record.
    chronic = pool.filter(birth_date__gt=date(1961, 1, 1), conditions__code__startswith="I10").distinct()
    chronic_share = signed.filter(pk__in=chronic).distinct().count() / chronic.count()
    assert chronic_share == pytest.approx(CHRONIC_SHARE, abs=0.05)
    # The overall target still holds: other adults make up the rest.
    assert signed.distinct().count() / pool.count() == pytest.approx(OVERALL_SHARE, abs=TOLERANCE)


def test_it_keeps_one_open_signing_per_resident_and_a_consistent_history() -> None:
    _fresh(5_000, signings=True)

    per_resident = (
        Signing.objects.filter(status__in=OPEN_STATUSES)
        .values("resident")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not per_resident.exists()
    statuses = set(Signing.objects.values_list("status", flat=True))
    assert statuses >= {
        SigningStatus.ACTIVE,
        SigningStatus.PENDING,
        SigningStatus.EXPIRED,
        SigningStatus.TERMINATED,
        SigningStatus.TRANSFERRED,
    }
    # Every signing starts in its package's year, at or after its predecessor's start, by the same resident.
    assert not Signing.objects.exclude(package__year=F("starts_on__year")).exists()
    assert (
        not Signing.objects.filter(previous__isnull=False).exclude(resident=F("previous__resident")).exists()
    )
    assert not Signing.objects.filter(starts_on__lt=F("previous__starts_on")).exists()
    assert not Signing.objects.filter(
        status__in=OPEN_STATUSES, resident__date_of_death__isnull=False
    ).exists()
    # Every signing has a creation event, every ended one an ending event with its reason.
    assert not Signing.objects.filter(events__isnull=True).exists()
    transferred = Signing.objects.filter(status=SigningStatus.TRANSFERRED)
    assert transferred.exists()
    assert not transferred.exclude(events__reason=ChangeReason.PANEL_TRANSFER).exists()
    assert Signing.objects.filter(events__reason=ChangeReason.DEATH).exists()
    assert not Signing.objects.filter(
        status=SigningStatus.PENDING, events__reason=ChangeReason.CONFIRMED
    ).exists()
    # Household packages only for signings tied to a household.
    assert not Signing.objects.filter(package__kind="household", household__isnull=True).exists()


def test_it_generates_the_same_signings_for_the_same_seed() -> None:
    _sign(3_000)
    columns = (
        "resident__citizen_id",
        "resident__alt_id_number",
        "family_doctor__code",
        "team__name",
        "package__code",
        "status",
        "starts_on",
        "ends_on",
        "channel",
    )
    first = list(Signing.objects.order_by("id").values_list(*columns))
    _sign(3_000)
    assert list(Signing.objects.order_by("id").values_list(*columns)) == first
    assert len(first) > 1_000
