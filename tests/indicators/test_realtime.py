"""Recording one follow-up (or one signing) changes the doctor's, the centre's and the district's
figures at once: the fact rows change in the writer's own transaction."""

from __future__ import annotations

from datetime import date

import pytest

from jiayi.care import services as care
from jiayi.care.models import FollowUp
from jiayi.indicators import engine, facts

from .world import AS_OF, World, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def _figure(code: str, level: str, unit_id: int) -> tuple[int, int]:
    for row in engine.compute(AS_OF, level=level, codes=[code]):
        if row["unit_id"] == unit_id:
            return row["numerator"], row["denominator"]
    return 0, 0


def _figures(world: World, code: str) -> list[tuple[int, int]]:
    return [
        _figure(code, "doctor", world.doctor.pk),
        _figure(code, "centre", world.centre.pk),
        _figure(code, "district", world.district.pk),
    ]


def test_recording_one_follow_up_changes_doctor_centre_and_district(world: World, personas) -> None:
    patient = world.resident(date(1960, 5, 5))
    world.sign(patient)
    condition = world.diagnose(patient, "I10", date(2024, 3, 1))
    # Enrolled on 5 January: one full quarter under management by 30 June, so one follow-up is due.
    care.do_enrol(personas.doctor, patient, condition, today=date(2026, 1, 5))
    facts.ensure_period("year", AS_OF)
    before = _figures(world, "htn.signed_standard_rate")
    assert before[0] == (0, 1)

    scheduled = FollowUp.objects.get(resident=patient, status="scheduled")
    care.do_record_follow_up(
        personas.doctor,
        scheduled,
        care.FollowUpInput(performed_on=date(2026, 3, 2), sbp=132, dbp=82),
        today=date(2026, 3, 2),
    )

    after = _figures(world, "htn.signed_standard_rate")
    assert [(n - b[0], d - b[1]) for (n, d), b in zip(after, before, strict=True)] == [(1, 0)] * 3


def test_recording_one_signing_changes_doctor_centre_and_district(world: World) -> None:
    resident = world.resident(date(1990, 1, 1))
    facts.ensure_period("year", AS_OF)
    before = _figures(world, "signing.coverage")
    world.sign(resident)
    after = _figures(world, "signing.coverage")
    assert [(n - b[0], d - b[1]) for (n, d), b in zip(after, before, strict=True)] == [(1, 0)] * 3


def test_a_rolled_back_write_leaves_the_figures(world: World) -> None:
    from django.db import transaction

    resident = world.resident(date(1990, 1, 1))
    facts.ensure_period("year", AS_OF)
    before = _figures(world, "signing.coverage")
    with transaction.atomic():
        world.sign(resident)
        transaction.set_rollback(True)
    assert _figures(world, "signing.coverage") == before
