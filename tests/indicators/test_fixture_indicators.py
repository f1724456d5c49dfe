"""Every indicator on a hand-built street whose expected numerators and denominators are worked out
below, resident by resident. Reference date 2026-06-30, year to date (two full quarters).

    A  born 1955-03-01 (71), 常住, signed (district hospital in the combination), complete record;
       hypertension since 2020, clinic BP 2026-02-01 150/85 and 2026-05-01 135/80 (2 follow-ups ≥ 2
       quarters: managed to spec; last reading below 150/90: controlled); complete 65+ exam 2026-03-10;
       visits: the centre 2026-02-01, the district hospital 2026-04-01, and a municipal hospital outside
       the combination 2026-03-15 on the family doctor's up-referral (recorded by the referral desk);
       contacts in Q1 and Q2.
    B  born 1986-01-01 (40), 常住, unsigned, record; type-2 diabetes since 2025; one clinic fasting
       glucose 6.5 on 2026-03-01 (1 follow-up < 2: not to spec; controlled); visit at the hospital;
       schizophrenia (F20.0) since 2018, in community rehabilitation since 2019.
    C  born 1996-01-01 (30), 常住, signed, no health record; yearly report generated 2026-03-01;
       yearly assessment 2026-04-01; a visit to the municipal hospital 2026-03-20 from the hospital's
       own records, linked afterwards to the family doctor's up-referral.
    D  born 1946-01-01 (80), registered but not 常住, signed, record without a phone (incomplete);
       complete exam 2026-04-01.
    E  born 1960-01-01 (66), 常住, signed, complete record; incomplete exam 2026-02-01; contact in Q1 only;
       a visit to the municipal hospital 2026-02-15 without a referral (outside the combination).
    F  born 1976-01-01, died 2026-01-15 while signed: neither 常住 nor signed on the reference date.
    G  born 2022-01-01 (4), 常住, unsigned, no record: key population (child 0–6).
    H  born 1980-01-01 (46), 常住, record, signing terminated 2026-03-01, declared disabled (key);
       bipolar disorder (F31.9) since 2020, community rehabilitation ended 2025-06-01 (before the year).
    Smart health posts in the street: one opened 2026-02-01 (new this year), one 2024-05-01 (not new),
    one to open 2026-08-01 (not yet open); the centre opened in 2010.
    The district hospital's slots are in `add_slots` (their figures: test_fixture_hospital_slots.py).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from jiayi.care.choices import EnrolmentEndReason, EnrolmentStatus, Programme
from jiayi.care.models import Assessment, Contact, ProgrammeEnrolment, YearlyReport
from jiayi.indicators import engine
from jiayi.records.choices import ObservationCode
from jiayi.records.models import Condition, Encounter
from jiayi.referrals.choices import AppointmentStatus, Direction, Pool, ReferralStatus, ServiceKind
from jiayi.referrals.models import Appointment, Department, Referral, Slot
from jiayi.referrals.services import ENCOUNTER_SOURCE
from jiayi.registry.choices import InstitutionKind, KeyPopulation, PlaceLevel
from jiayi.registry.models import Institution, KeyPopulationDeclaration, Resident
from jiayi.signing.choices import SigningStatus

from .world import AS_OF, World, build_world, moment

pytestmark = pytest.mark.django_db

# code → (numerator, denominator) on the street
EXPECTED: dict[str, tuple[int, int]] = {
    # 常住 alive: A B C E G H = 6; signed among them: A C E
    "signing.coverage": (3, 6),
    # key among 常住: A (65+, htn) B (dm) E (65+) G (0–6) H (declared) = 5; signed: A E
    "signing.key_coverage": (2, 5),
    # signed residents' visits: A's three (centre, district hospital, referral) and C's one (linked
    # to a referral) count; E's visit outside the combination without a referral does not
    "signing.visit_compliance": (4, 5),
    # at the signing centre: A's one of the five
    "signing.community_visit_rate": (1, 5),
    # signed hypertensive: A, managed to spec
    "htn.signed_standard_rate": (1, 1),
    # no signed diabetic
    "dm.signed_standard_rate": (0, 0),
    # one post opened this year / one centre
    "facility.smart_posts_new": (1, 1),
    # 常住 65+: A E; managed (record + complete exam): A
    "elderly.management_rate": (1, 2),
    # signed 65+: A D E; managed: A D (D has a record and a complete exam)
    "elderly.signed_management_rate": (2, 3),
    # 常住 65+ examined: A E / signed 65+: A D E
    "elderly.exam_to_signed": (2, 3),
    # 常住 with a record: A B E H / 6
    "ehr.filing_rate": (4, 6),
    # signed A C D E; complete and dynamic: A E (C has no record, D no phone)
    "ehr.signed_standard_rate": (2, 4),
    # one GP / six 常住 residents (per 10,000)
    "workforce.gp_per_10k": (1, 6),
    "committee.designated_doctor": (1, 1),
    # signed A C D E: C assessed
    "signing.annual_assessment_rate": (1, 4),
    # reached in Q1 and Q2: A (E only in Q1)
    "signing.quarterly_contact_rate": (1, 4),
    # report generated for C
    "signing.annual_report_rate": (1, 4),
    # 常住 visits: A's 3, B's 1, C's 1 and E's 1; at primary care: A's centre visit
    "community.outpatient_share": (1, 6),
    # 常住 with a severe mental disorder: B and H; in rehabilitation this year: B
    "mental.community_rehab_coverage": (1, 2),
    # 常住 hypertensive: A, to spec and controlled
    "htn.standard_rate": (1, 1),
    "htn.control_rate": (1, 1),
    # 常住 diabetic: B, not to spec, controlled
    "dm.standard_rate": (0, 1),
    "dm.control_rate": (1, 1),
    # 常住 with a record: A B E H; with an entry in 12 months: A B E
    "ehr.use_rate": (3, 4),
}


def populate(world: World) -> None:
    a = world.resident(date(1955, 3, 1))
    world.sign(a, district_hospital=world.hospital)
    world.diagnose(a, "I10", date(2020, 1, 1))
    world.bp(a, date(2026, 2, 1), 150, 85)
    world.bp(a, date(2026, 5, 1), 135, 80)
    world.exam(a, date(2026, 3, 10))
    world.visit(a, date(2026, 2, 1))
    world.visit(a, date(2026, 4, 1), world.hospital)
    Contact.objects.create(resident=a, at=moment(date(2026, 2, 10)), channel="phone", outcome="reached")
    Contact.objects.create(resident=a, at=moment(date(2026, 5, 10)), channel="wechat", outcome="reached")

    municipal = Institution.objects.create(
        code=f"IND-M{world.street.pk}",
        name="测试市级医院",
        kind=InstitutionKind.MUNICIPAL_HOSPITAL,
        place=world.street,
    )
    desk_visit = world.visit(a, date(2026, 3, 15), municipal)
    desk_visit.source_system = ENCOUNTER_SOURCE
    desk_visit.save()
    refer_up(world, a, municipal, desk_visit)

    b = world.resident(date(1986, 1, 1))
    world.diagnose(b, "E11.9", date(2025, 1, 1))
    world.observe(b, ObservationCode.FASTING_GLUCOSE, 6.5, date(2026, 3, 1))
    world.visit(b, date(2026, 3, 1), world.hospital)
    rehab(b, world.diagnose(b, "F20.0", date(2018, 5, 1)), date(2019, 1, 1))

    c = world.resident(date(1996, 1, 1), record=False)
    world.sign(c)
    YearlyReport.objects.create(resident=c, year=2026, pdf=b"%PDF", generated_at=moment(date(2026, 3, 1)))
    Assessment.objects.create(resident=c, year=2026, performed_on=date(2026, 4, 1), classification="healthy")
    referral = refer_up(world, c, municipal, None)
    referral.encounter = world.visit(c, date(2026, 3, 20), municipal)
    referral.save()

    d = world.resident(date(1946, 1, 1), lives_here=False, phone="")
    world.sign(d)
    world.exam(d, date(2026, 4, 1))

    e = world.resident(date(1960, 1, 1))
    world.sign(e)
    world.exam(e, date(2026, 2, 1), complete=False)
    Contact.objects.create(resident=e, at=moment(date(2026, 1, 20)), channel="phone", outcome="reached")
    world.visit(e, date(2026, 2, 15), municipal)

    f = world.resident(date(1976, 1, 1), died=date(2026, 1, 15))
    world.sign(f)

    world.resident(date(2022, 1, 1), record=False)

    h = world.resident(date(1980, 1, 1))
    world.sign(
        h,
        starts_on=date(2025, 1, 1),
        status=SigningStatus.TERMINATED,
        status_changed_at=moment(date(2026, 3, 1)),
    )
    KeyPopulationDeclaration.objects.create(
        resident=h,
        key_population=KeyPopulation.DISABLED,
        declared_at=timezone.now(),
        valid_from=date(2025, 1, 1),
    )
    rehab(
        h,
        world.diagnose(h, "F31.9", date(2020, 3, 1)),
        date(2020, 6, 1),
        ended_on=date(2025, 6, 1),
    )
    add_slots(world, a)
    for suffix, opened in (("new", date(2026, 2, 1)), ("old", date(2024, 5, 1)), ("next", date(2026, 8, 1))):
        Institution.objects.create(
            code=f"POST-{world.street.pk}-{suffix}",
            name=f"智慧健康驿站{suffix}",
            kind=InstitutionKind.SMART_HEALTH_POST,
            place=world.committee,
            parent=world.centre,
            opened_on=opened,
        )


def add_slots(world: World, resident: Resident) -> dict[str, Slot]:
    """Twelve slots at the district hospital, ten of them starting in 2026 up to the reference date:

    S1  reserved, 2026-02-02, booked by the family doctor for A             reserved, taken
    S2  reserved, 2026-02-02, seen (fulfilled) after the doctor booked it   reserved, taken
    S3  reserved, 2026-02-02, the doctor's booking cancelled                reserved
    S4  reserved, 2026-02-03, released 2026-02-01, then booked by the public reserved, released
    S5  reserved, 2026-02-03, released 2026-02-01, never booked             reserved, released
    S6  reserved, 2026-06-30 15:00, still free                              reserved
    S7  public,   2026-05-10, booked by the public
    S8–S10 public, 2026-03-02, free
    S11 reserved, 2026-07-01, booked: after the reference date (not counted)
    S12 reserved, 2025-12-29, booked: before the year (not counted)
    """
    department = Department.objects.create(hospital=world.hospital, code="CARD", name="心内科")
    made: dict[str, Slot] = {}

    def slot(name: str, day: date, hour: int, pool: str, released: date | None = None) -> Slot:
        start = moment(day, hour)
        made[name] = Slot.objects.create(
            hospital=world.hospital,
            department=department,
            service_kind=ServiceKind.CONSULTATION,
            start=start,
            end=start + timedelta(minutes=30),
            pool=Pool.PUBLIC if released else pool,
            released_at=moment(released) if released else None,
        )
        return made[name]

    def book(target: Slot, status: str, by_doctor: bool) -> None:
        at = moment(date(2026, 1, 10))
        Appointment.objects.create(
            slot=target,
            resident=resident,
            status=status,
            pool=target.pool,
            family_doctor=world.doctor if by_doctor else None,
            created_at=at,
            status_changed_at=at,
        )

    book(slot("S1", date(2026, 2, 2), 9, Pool.RESERVED), AppointmentStatus.BOOKED, True)
    book(slot("S2", date(2026, 2, 2), 10, Pool.RESERVED), AppointmentStatus.FULFILLED, True)
    book(slot("S3", date(2026, 2, 2), 11, Pool.RESERVED), AppointmentStatus.CANCELLED, True)
    book(slot("S4", date(2026, 2, 3), 9, Pool.RESERVED, date(2026, 2, 1)), AppointmentStatus.BOOKED, False)
    slot("S5", date(2026, 2, 3), 10, Pool.RESERVED, date(2026, 2, 1))
    slot("S6", date(2026, 6, 30), 15, Pool.RESERVED)
    book(slot("S7", date(2026, 5, 10), 9, Pool.PUBLIC), AppointmentStatus.BOOKED, False)
    for name, hour in (("S8", 9), ("S9", 10), ("S10", 11)):
        slot(name, date(2026, 3, 2), hour, Pool.PUBLIC)
    book(slot("S11", date(2026, 7, 1), 9, Pool.RESERVED), AppointmentStatus.BOOKED, True)
    book(slot("S12", date(2025, 12, 29), 9, Pool.RESERVED), AppointmentStatus.BOOKED, True)
    return made


def refer_up(world: World, resident: Resident, hospital: Institution, visit: Encounter | None) -> Referral:
    """A family doctor's up-referral to `hospital`, seen there in `visit`."""
    at = moment(date(2026, 3, 1))
    return Referral.objects.create(
        direction=Direction.UP,
        resident=resident,
        family_doctor=world.doctor,
        centre=world.centre,
        hospital=hospital,
        reason="专科会诊",
        status=ReferralStatus.SEEN,
        encounter=visit,
        created_at=at,
        status_changed_at=at,
    )


def rehab(resident: Resident, condition: Condition, since: date, ended_on: date | None = None) -> None:
    """Enrol a severe mental disorder patient in community rehabilitation (ended when `ended_on`)."""
    ProgrammeEnrolment.objects.create(
        resident=resident,
        programme=Programme.MENTAL_REHAB,
        enrolled_on=since,
        source_condition=condition,
        source_code=condition.code,
        status=EnrolmentStatus.ENDED if ended_on else EnrolmentStatus.ACTIVE,
        ended_on=ended_on,
        end_reason=EnrolmentEndReason.DECLINED if ended_on else "",
    )


@pytest.fixture
def world() -> World:
    built = build_world()
    populate(built)
    return built


def test_every_indicator_on_the_hand_built_street(world: World) -> None:
    rows = engine.compute(AS_OF, level="street")
    mine = {row["code"]: row for row in rows if row["unit_id"] == world.street.pk}
    street_codes = {i.code for i in engine.select_indicators(None) if "street" in i.levels}
    assert set(EXPECTED) == street_codes
    for code, (numerator, denominator) in EXPECTED.items():
        row = mine.get(code, {"numerator": 0, "denominator": 0})
        assert (row["numerator"], row["denominator"]) == (numerator, denominator), code


def test_values_targets_and_met(world: World) -> None:
    rows = engine.compute(AS_OF, level="street", codes=["signing.coverage", "workforce.gp_per_10k"])
    by_code = {row["code"]: row for row in rows if row["unit_id"] == world.street.pk}
    coverage = by_code["signing.coverage"]
    assert coverage["value"] == 0.5
    assert coverage["target"] == 0.48  # raised from 45% from 2025 on
    assert coverage["met"] is True
    assert coverage["unit_name"] == world.street.name
    density = by_code["workforce.gp_per_10k"]
    assert density["value"] == pytest.approx(10000 / 6)


def test_a_unit_with_no_denominator_has_no_value(world: World) -> None:
    rows = engine.compute(AS_OF, level="street", codes=["dm.signed_standard_rate"])
    row = next(r for r in rows if r["unit_id"] == world.street.pk)
    assert row["value"] is None
    assert row["met"] is None


def test_the_doctor_counts_signed_and_designated_residents(world: World) -> None:
    rows = engine.compute(AS_OF, level="doctor", codes=["signing.coverage"])
    row = next(r for r in rows if r["unit_id"] == world.doctor.pk)
    # Every resident of the committee counts at its designated doctor, signed or not.
    assert (row["numerator"], row["denominator"]) == (3, 6)


def test_quarter_to_date(world: World) -> None:
    # Q2 to 30 June: A's follow-up of 1 May is the one in the quarter (1 full quarter: to spec).
    rows = engine.compute(
        AS_OF, level="street", codes=["htn.standard_rate", "community.outpatient_share"], period="quarter"
    )
    by_code = {row["code"]: row for row in rows if row["unit_id"] == world.street.pk}
    assert (by_code["htn.standard_rate"]["numerator"], by_code["htn.standard_rate"]["denominator"]) == (1, 1)
    # Visits in Q2: A's hospital visit only (not primary care).
    share = by_code["community.outpatient_share"]
    assert (share["numerator"], share["denominator"]) == (0, 1)


def test_district_target_override() -> None:
    from jiayi.indicators import catalogue

    compliance = catalogue.get("signing.visit_compliance")
    assert compliance.target_for("310118", 2026) == 0.85
    assert compliance.target_for("310105", 2026) == 0.80
    coverage = catalogue.get("signing.coverage")
    assert coverage.target_for("310105", 2024) == 0.45
    assert coverage.target_for("310105", 2025) == 0.48


def test_every_declaration_is_well_formed() -> None:
    from jiayi.indicators import catalogue

    assert catalogue.check_catalogue() == []
    core = {
        "signing.coverage",
        "signing.key_coverage",
        "signing.visit_compliance",
        "htn.signed_standard_rate",
        "dm.signed_standard_rate",
        "facility.smart_posts_new",
        "elderly.management_rate",
        "elderly.signed_management_rate",
        "elderly.exam_to_signed",
        "ehr.filing_rate",
        "ehr.signed_standard_rate",
        "workforce.gp_per_10k",
        "committee.designated_doctor",
        "signing.annual_assessment_rate",
        "signing.quarterly_contact_rate",
        "signing.annual_report_rate",
        "community.outpatient_share",
        "mental.community_rehab_coverage",
        "signing.community_visit_rate",
    }
    assert core <= set(catalogue.BY_CODE)
    for indicator in catalogue.INDICATORS:
        assert indicator.name_zh
        assert indicator.name_en
        assert len(indicator.description) > 40


def test_unknown_code_and_level_are_refused() -> None:
    with pytest.raises(engine.EngineError, match="unknown indicator"):
        engine.compute(AS_OF, level="district", codes=["no.such"])
    with pytest.raises(engine.EngineError, match="level"):
        engine.compute(AS_OF, level="planet")


def test_district_level_row_exists(world: World) -> None:
    rows = engine.compute(AS_OF, level="district", codes=["signing.coverage"])
    assert [r["unit_id"] for r in rows] == [world.district.pk]
    assert world.district.level == PlaceLevel.DISTRICT
