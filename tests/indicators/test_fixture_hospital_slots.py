"""Reserved-slot figures per hospital on the hand-built street's district hospital (its twelve slots are
listed in `add_slots`), and visits on a family doctor's referral counted as they are recorded.

Year to 2026-06-30, slots S1–S10 count (S11 starts after the reference date, S12 before the year):
    reserved: S1–S6 = 6 of 10 slots                            → referral.reserved_share 6/10
    taken from the reserve by the family doctor: S1, S2        → utilisation 2/6
      (S3's booking was cancelled; S4 was booked by the public after its release)
    released to the public pool: S4, S5                        → release rate 2/6
Quarter to 2026-06-30 (from 1 April): S6 (reserved, free) and S7 (public) only.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from jiayi.indicators import catalogue, engine, facts
from jiayi.indicators.catalogue import Indicator, Side
from jiayi.referrals import services
from jiayi.referrals.choices import AppointmentStatus, Destination, Direction, Pool, ReferralStatus
from jiayi.referrals.indicators import came_through_referral, reserved_slot_use
from jiayi.referrals.models import Appointment, Referral, Slot
from jiayi.registry.models import Resident

from .test_fixture_indicators import populate
from .world import AS_OF, World, build_world, moment

pytestmark = pytest.mark.django_db

SLOT_CODES = [
    "referral.reserved_share",
    "referral.reserved_slot_utilisation",
    "referral.reserved_slot_release_rate",
]


@pytest.fixture
def world() -> World:
    built = build_world()
    populate(built)
    return built


def _figures(world: World, level: str = "hospital", period: str = "year") -> dict[str, dict[str, object]]:
    unit = world.hospital.pk if level == "hospital" else world.district.pk
    rows = engine.compute(AS_OF, level=level, codes=SLOT_CODES, period=period)
    return {row["code"]: row for row in rows if row["unit_id"] == unit}


def _pair(row: dict[str, object]) -> tuple[object, object]:
    return row["numerator"], row["denominator"]


def test_reserved_slot_figures_of_the_hospital(world: World) -> None:
    figures = _figures(world)
    assert _pair(figures["referral.reserved_share"]) == (6, 10)
    assert _pair(figures["referral.reserved_slot_utilisation"]) == (2, 6)
    assert _pair(figures["referral.reserved_slot_release_rate"]) == (2, 6)
    share = figures["referral.reserved_share"]
    assert share["unit_name"] == world.hospital.name
    # The test district is Changning: 20% of slots reserved for family doctors.
    assert share["target"] == 0.20
    assert share["met"] is True
    assert figures["referral.reserved_slot_utilisation"]["target"] is None


def test_quarter_to_date(world: World) -> None:
    figures = _figures(world, period="quarter")
    assert _pair(figures["referral.reserved_share"]) == (1, 2)
    assert _pair(figures["referral.reserved_slot_utilisation"]) == (0, 1)
    assert _pair(figures["referral.reserved_slot_release_rate"]) == (0, 1)


def test_the_district_sums_its_hospitals(world: World) -> None:
    district = _figures(world, level="district")
    hospitals = engine.compute(AS_OF, level="hospital", codes=SLOT_CODES)
    # The test database holds one district: every hospital is in it.
    for code in SLOT_CODES:
        mine = [r for r in hospitals if r["code"] == code]
        assert _pair(district[code]) == (
            sum(r["numerator"] for r in mine),
            sum(r["denominator"] for r in mine),
        )


def test_the_figures_agree_with_the_referral_desk(world: World) -> None:
    start = timezone.make_aware(datetime.combine(date(2026, 1, 1), time.min))
    end = timezone.make_aware(datetime.combine(AS_OF + timedelta(days=1), time.min))
    use = reserved_slot_use(start, end)[world.hospital.pk]
    figures = _figures(world)
    assert _pair(figures["referral.reserved_slot_utilisation"]) == (
        use.booked_by_family_doctors,
        use.reserved,
    )
    assert _pair(figures["referral.reserved_slot_release_rate"]) == (use.released, use.reserved)


def test_duckdb_gives_the_same_slot_figures(world: World) -> None:
    for level in ("hospital", "district"):
        expected = engine.compute(AS_OF, level=level, codes=SLOT_CODES, engine="db")
        assert expected, level
        got = engine.compute(AS_OF, level=level, codes=SLOT_CODES, engine="duckdb")
        assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True), level


@pytest.mark.slow
def test_spark_gives_the_same_slot_figures(world: World) -> None:
    expected = engine.compute(AS_OF, level="hospital", codes=SLOT_CODES, engine="db")
    assert engine.compute(AS_OF, level="hospital", codes=SLOT_CODES, engine="spark") == expected


def test_a_booking_and_a_release_show_at_once(world: World) -> None:
    facts.ensure_period("year", AS_OF)
    six = Slot.objects.get(hospital=world.hospital, start=moment(date(2026, 6, 30), 15))
    a = Resident.objects.filter(committee=world.committee).order_by("id").first()
    assert a is not None
    with transaction.atomic():
        appointment = services.do_book(
            None, six.pk, a, family_doctor=world.doctor, now=moment(date(2026, 6, 1))
        )
        # Inside the booking's transaction the figure has moved: S6 is taken from the reserve.
        assert _pair(_figures(world)["referral.reserved_slot_utilisation"]) == (3, 6)
        transaction.set_rollback(True)
    assert not Appointment.objects.filter(pk=appointment.pk).exists()
    assert _pair(_figures(world)["referral.reserved_slot_utilisation"]) == (2, 6)
    # Nobody books S6; the release run six hours before it starts gives it to the public.
    result = services.do_release_reserved_slots(moment(date(2026, 6, 30), 9), lead_hours=24)
    assert six.pk in result.slot_ids
    assert _pair(_figures(world)["referral.reserved_slot_release_rate"]) == (3, 6)


def test_a_cancellation_shows_at_once(world: World) -> None:
    """Cancelling a family doctor's booking gives the slot back to the reserve inside the same
    transaction: utilisation 2/6 → 3/6 on booking S6, back to 2/6 on cancelling it."""
    facts.ensure_period("year", AS_OF)
    six = Slot.objects.get(hospital=world.hospital, start=moment(date(2026, 6, 30), 15))
    a = Resident.objects.filter(committee=world.committee).order_by("id").first()
    assert a is not None
    appointment = services.do_book(None, six.pk, a, family_doctor=world.doctor, now=moment(date(2026, 6, 1)))
    assert _pair(_figures(world)["referral.reserved_slot_utilisation"]) == (3, 6)
    with transaction.atomic():
        services.do_cancel(None, appointment, now=moment(date(2026, 6, 2)))
        assert _pair(_figures(world)["referral.reserved_slot_utilisation"]) == (2, 6)


def test_a_recorded_referral_visit_counts_toward_visit_compliance(world: World) -> None:
    """E (signed, no district hospital in the combination) is referred up to the district hospital and
    seen there on 2026-06-10: the visit joins both sides (compliance 4/5 → 5/6)."""
    facts.ensure_period("year", AS_OF)
    e = Resident.objects.get(committee=world.committee, birth_date=date(1960, 1, 1))
    start = moment(date(2026, 6, 10), 9)
    slot = Slot.objects.create(
        hospital=world.hospital,
        department=Slot.objects.filter(hospital=world.hospital).first().department,  # type: ignore[union-attr]
        service_kind="consultation",
        start=start,
        end=start + timedelta(minutes=30),
        pool=Pool.RESERVED,
    )
    appointment = services.do_book(None, slot.pk, e, family_doctor=world.doctor, now=moment(date(2026, 6, 1)))
    at = moment(date(2026, 6, 1))
    referral = Referral.objects.create(
        direction=Direction.UP,
        resident=e,
        family_doctor=world.doctor,
        centre=world.centre,
        hospital=world.hospital,
        reason="胸闷待查",
        status=ReferralStatus.BOOKED,
        appointment=appointment,
        created_at=at,
        status_changed_at=at,
    )
    before = engine.compute(AS_OF, level="street", codes=["signing.visit_compliance"])
    assert [(r["numerator"], r["denominator"]) for r in before if r["unit_id"] == world.street.pk] == [(4, 5)]
    with transaction.atomic():
        seen = services.do_record_visit(None, referral, now=moment(date(2026, 6, 10), 10))
        assert seen.encounter is not None
        assert came_through_referral(seen.encounter)
        after = engine.compute(AS_OF, level="street", codes=["signing.visit_compliance"])
        assert [(r["numerator"], r["denominator"]) for r in after if r["unit_id"] == world.street.pk] == [
            (5, 6)
        ]
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.FULFILLED


def test_a_down_referral_does_not_make_a_visit_compliant(world: World) -> None:
    """E's visit to the municipal hospital (outside the combination) stays outside when the only
    referral linked to it is a hospital's down-referral."""
    e = Resident.objects.get(committee=world.committee, birth_date=date(1960, 1, 1))
    visit = e.encounters.get(start=moment(date(2026, 2, 15)))
    at = moment(date(2026, 2, 16))
    Referral.objects.create(
        direction=Direction.DOWN,
        destination=Destination.FOLLOW_UP,
        resident=e,
        family_doctor=world.doctor,
        centre=world.centre,
        hospital=visit.institution,
        reason="出院随访",
        status=ReferralStatus.SENT,
        encounter=visit,
        created_at=at,
        status_changed_at=at,
    )
    assert not came_through_referral(visit)
    rows = engine.compute(AS_OF, level="street", codes=["signing.visit_compliance"])
    assert [(r["numerator"], r["denominator"]) for r in rows if r["unit_id"] == world.street.pk] == [(4, 5)]


def test_only_slot_figures_may_be_counted_at_hospitals(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = Indicator(
        "test.wrong_level",
        "错误",
        "Wrong",
        Side("resident", ()),
        Side("resident", ()),
        "percent",
        (),
        "A resident figure declared at the hospital level, which has no column in the resident facts.",
        levels=("district", "hospital"),
    )
    monkeypatch.setattr(catalogue, "INDICATORS", (*catalogue.INDICATORS, wrong))
    assert catalogue.check_catalogue() == [
        "test.wrong_level: only slot figures can be counted at the hospital level"
    ]


def test_the_boards_show_the_slot_figures(personas: Any, world: World) -> None:
    client = Client()
    assert client.login(username=personas.manager.username, password=personas.password)
    district = client.get(f"/indicators/?level=district&as_of={AS_OF.isoformat()}")
    assert district.status_code == 200
    assert "预留号源使用率" in district.content.decode()
    hospital = client.get(f"/indicators/?level=hospital&unit={world.hospital.pk}&as_of={AS_OF.isoformat()}")
    assert hospital.status_code == 200
    html = hospital.content.decode()
    assert world.hospital.name in html
    assert "预留号源释放率" in html
    assert "常住居民签约覆盖率" not in html  # resident figures have no hospital level
    ranking = client.get(
        f"/indicators/ranking.json?level=hospital&code=referral.reserved_share&as_of={AS_OF.isoformat()}"
    )
    assert ranking.status_code == 200
    units = {u["id"]: u for u in ranking.json()["units"]}
    assert (units[world.hospital.pk]["numerator"], units[world.hospital.pk]["denominator"]) == (6, 10)


def test_every_indicator_has_a_hand_built_fixture() -> None:
    from .test_fixture_indicators import EXPECTED

    # The street's figures cover every indicator counted at streets; the hospital's the rest.
    assert set(EXPECTED) | set(SLOT_CODES) == set(catalogue.BY_CODE)
    assert all("street" not in catalogue.get(code).levels for code in SLOT_CODES)
