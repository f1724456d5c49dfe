"""Synthetic histories: prevalence as the spec says, readings that pass the records' plausibility rules and
agree with control status, 65+ exams for a realistic share, determinism."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Avg, Count, Q

from jiayi.records import lib
from jiayi.records.models import Condition, ElderlyExam, Encounter, Medication, Observation
from jiayi.registry.choices import InstitutionKind
from jiayi.registry.identity import age_on
from jiayi.registry.models import Resident
from jiayi.synth import SynthConfig, generate_district
from jiayi.synth.histories import FOLLOW_UPS_PER_YEAR, YEARS, generate_histories

from .test_district import _wipe

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 1, 1)


def _clear_records() -> None:
    for model in (Observation, Condition, Medication, ElderlyExam, Encounter):
        model.objects.all().delete()


def _fresh(residents: int, seed: int = 7) -> SynthConfig:
    """A new district, with its history, inside the test's transaction."""
    _clear_records()
    _wipe()
    cfg = SynthConfig(residents=residents, seed=seed, as_of=AS_OF)
    generate_district(cfg)
    _clear_records()  # whatever the district step wrote, the history below is this test's
    generate_histories(cfg)
    return cfg


def _living_here() -> list[tuple[int, date]]:
    return list(
        Resident.objects.filter(is_resident=True)
        .exclude(date_of_death__lte=AS_OF)
        .values_list("id", "birth_date")
    )


def _share(people: list[tuple[int, date]], code: str, low: int, high: int = 200) -> float:
    group = {pk for pk, birth in people if low <= age_on(birth, AS_OF) < high}
    ill = set(Condition.objects.filter(code=code).values_list("resident_id", flat=True))
    return len(group & ill) / len(group)


def test_it_gives_the_spec_prevalence_at_20k() -> None:
    _fresh(20_000)
    people = _living_here()
    assert _share(people, "I10", 18) == pytest.approx(0.28, abs=0.025)
    assert 0.56 - 0.02 <= _share(people, "I10", 60) <= 0.62 + 0.02
    assert _share(people, "E11.9", 18) == pytest.approx(0.115, abs=0.02)
    assert _share(people, "I10", 0, 18) == 0
    assert not Condition.objects.filter(resident__date_of_death__lte=AS_OF).exists()


def test_it_writes_only_plausible_values_consistent_with_control_status() -> None:
    _fresh(5_000)
    for code, unit, value in Observation.objects.values_list("code", "unit", "value").iterator():
        lib.check_plausible(code, value)
        assert unit == lib.spec_for(code).unit
    assert not Observation.objects.filter(effective_at__date__gt=AS_OF).exists()
    assert not Encounter.objects.filter(start__date__gt=AS_OF).exists()
    # Follow-up readings: patients whose readings mostly meet the target and ones whose mostly miss it.
    per_patient = (
        Observation.objects.filter(code="8480-6", method="clinic")
        .values("resident")
        .annotate(mean=Avg("value"), n=Count("id"))
    )
    means = [row["mean"] for row in per_patient]
    assert any(m < 135 for m in means)
    assert any(m > 145 for m in means)
    assert all(row["n"] == FOLLOW_UPS_PER_YEAR * YEARS for row in per_patient)
    readings = Observation.objects.filter(method="clinic", code="8480-6")
    assert readings.filter(encounter__isnull=True).count() == 0
    assert Observation.objects.filter(method="smart_health_post").exists()
    hypertensive = set(Condition.objects.filter(code="I10").values_list("resident_id", flat=True))
    assert set(readings.values_list("resident_id", flat=True)) == hypertensive


def test_it_spreads_visits_and_examines_a_realistic_share_of_the_65_plus() -> None:
    _fresh(5_000)
    kinds = set(Encounter.objects.values_list("institution__kind", flat=True).distinct())
    assert {InstitutionKind.COMMUNITY_HEALTH_CENTRE, InstitutionKind.STATION} <= kinds
    assert kinds & {InstitutionKind.DISTRICT_HOSPITAL, InstitutionKind.MUNICIPAL_HOSPITAL}
    elderly = {pk for pk, birth in _living_here() if age_on(birth, AS_OF) >= 65}
    last_year = set(ElderlyExam.objects.filter(exam_date__year=2025).values_list("resident_id", flat=True))
    assert len(last_year & elderly) / len(elderly) == pytest.approx(0.62, abs=0.05)
    exams = list(ElderlyExam.objects.all()[:500])
    complete = sum(exam.is_complete for exam in exams) / len(exams)
    assert complete == pytest.approx(0.9, abs=0.06)
    assert all(50 <= exam.physical["blood_pressure"]["systolic"] <= 300 for exam in exams)
    assert Medication.objects.filter(Q(medication_code="C08CA01") | Q(medication_code="A10BA02")).exists()


def _content() -> list[list[tuple[object, ...]]]:
    """The history by natural keys: ids differ between two generations inside one test database."""
    who = ("resident__citizen_id", "resident__alt_id_number")
    return [
        list(Encounter.objects.order_by("id").values_list(*who, "institution__code", "type", "start")),
        list(Observation.objects.order_by("id").values_list(*who, "code", "value", "effective_at")),
        list(Condition.objects.order_by("id").values_list(*who, "code", "onset_date")),
        list(ElderlyExam.objects.order_by("id").values_list(*who, "exam_date", "physical")),
    ]


def test_it_generates_the_same_history_for_the_same_seed() -> None:
    _fresh(2_000, seed=3)
    first = _content()
    _fresh(2_000, seed=3)
    assert _content() == first
    _fresh(2_000, seed=4)
    assert _content() != first


def test_it_offers_a_command_that_adds_the_history_once() -> None:
    _clear_records()
    out = StringIO()
    call_command(
        "synth-histories", "--seed", "7", "--as-of", "2026-01-01", "--no-progress", "--json", stdout=out
    )
    summary = json.loads(out.getvalue())
    assert summary["observations"] == Observation.objects.count() > 0
    assert summary["conditions"] == Condition.objects.count()
    with pytest.raises(CommandError, match="already holds a synthetic history"):
        call_command("synth-histories", "--no-progress")
