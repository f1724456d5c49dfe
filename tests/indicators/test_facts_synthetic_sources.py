"""The generated district feeds the indicators that used to have no data: smart health posts opened this
year per centre, and severe mental disorder patients in community rehabilitation."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import transaction

from jiayi.care.choices import EnrolmentStatus, Programme
from jiayi.care.models import ProgrammeEnrolment
from jiayi.indicators import engine
from jiayi.records.models import Condition
from jiayi.registry.choices import InstitutionKind, PlaceLevel
from jiayi.registry.models import Institution, Resident
from jiayi.synth import mental

from ..conftest import TEST_DISTRICT

pytestmark = pytest.mark.django_db

AS_OF = TEST_DISTRICT.as_of


def test_every_centre_runs_smart_health_posts_and_the_new_ones_count() -> None:
    posts = list(Institution.objects.filter(kind=InstitutionKind.SMART_HEALTH_POST).select_related("place"))
    centres = Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE)
    assert {post.parent_id for post in posts} == set(centres.values_list("pk", flat=True))
    for post in posts:
        assert post.place.level == PlaceLevel.COMMITTEE
        assert post.opened_on is not None
        assert post.opened_on <= AS_OF
    rows = engine.compute(AS_OF, level="centre", codes=["facility.smart_posts_new"])
    new = {row["unit_id"]: row["numerator"] for row in rows}
    for centre in centres:
        opened_this_year = [
            p
            for p in posts
            if p.parent_id == centre.pk and p.opened_on and p.opened_on >= date(AS_OF.year, 1, 1)
        ]
        assert new.get(centre.pk, 0) == len(opened_this_year), centre.name
    # Most centres open one in the year, not all: the figure differs between centres.
    assert 0 < sum(new.values()) < centres.count() or centres.count() == 1


def _register(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, date | None]]:
    # The district in the tests is small: a higher prevalence gives enough patients to count.
    monkeypatch.setattr(mental, "PREVALENCE", 0.2)
    mental.generate_mental_health(TEST_DISTRICT, as_of=AS_OF, seed=TEST_DISTRICT.seed)
    return sorted(
        Condition.objects.filter(source_system=mental.SOURCE_SYSTEM).values_list(
            "resident_id", "code", "onset_date"
        )
    )


def test_generated_patients_are_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = []
    for _ in range(2):
        with transaction.atomic():
            runs.append(_register(monkeypatch))
            transaction.set_rollback(True)
    assert runs[0] == runs[1]
    assert len(runs[0]) > 20


def test_rehabilitation_coverage_counts_the_generated_enrolments(monkeypatch: pytest.MonkeyPatch) -> None:
    patients = _register(monkeypatch)
    enrolments = ProgrammeEnrolment.objects.filter(programme=Programme.MENTAL_REHAB)
    assert 0.4 < enrolments.count() / len(patients) < 0.9
    assert all(code.startswith(("F20", "F22", "F25", "F29", "F31")) for _, code, _ in patients)
    [row] = engine.compute(AS_OF, level="district", codes=["mental.community_rehab_coverage"])
    # Everyone the generator registers is alive and 15+ on the reference date; 常住 ones count.
    living = set(
        Resident.objects.filter(pk__in=[p[0] for p in patients], is_resident=True).values_list(
            "pk", flat=True
        )
    )
    in_rehab = set(
        enrolments.filter(resident_id__in=living)
        .exclude(status=EnrolmentStatus.ENDED, ended_on__lt=date(AS_OF.year, 1, 1))
        .values_list("resident_id", flat=True)
    )
    assert (row["numerator"], row["denominator"]) == (len(in_rehab), len(living))
    assert row["value"] is not None
