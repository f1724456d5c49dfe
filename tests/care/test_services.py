"""Health-management services: assessment with risks and plan, enrolment, follow-up recording with
classification, next visit and emergency task, rescheduling, contacts and the 65+ care year."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from jiayi.audit.models import AuditEntry
from jiayi.care import services
from jiayi.care.models import Assessment, CareTask, Contact, ElderlyCareYear, FollowUp, PlanItem
from jiayi.records import lib
from jiayi.records.models import ElderlyExam
from jiayi.referrals.models import Referral
from jiayi.registry.models import Institution, Resident
from jiayi.signing.models import Signing

from .helpers import diagnose, enrol, observe, scheduled

pytestmark = pytest.mark.django_db
DAY = date(2026, 3, 2)


def _adult(panel_residents: list[Resident], sex: str = "male") -> Resident:
    resident = panel_residents[0]
    resident.sex = sex
    resident.birth_date = date(1970, 5, 1)  # 55 on DAY
    resident.save(update_fields=["sex", "birth_date"])
    return resident


# --- Assessment ------------------------------------------------------------------------------------------


def test_prefill_takes_the_latest_measurements_and_the_diagnoses(panel_residents: list[Resident]) -> None:
    resident = panel_residents[0]
    observe(resident, "8480-6", 150, "mm[Hg]", date(2025, 1, 5))
    observe(resident, "8480-6", 138, "mm[Hg]", date(2025, 9, 5))
    observe(resident, "8462-4", 86, "mm[Hg]", date(2025, 9, 5))
    observe(resident, "8302-2", 170, "cm", date(2025, 9, 5))
    observe(resident, "29463-7", 72.25, "kg", date(2025, 9, 5))
    observe(resident, "8480-6", 120, "mm[Hg]", date(2026, 6, 1))  # after the assessment day: ignored
    diagnose(resident, "I10")

    values = services.prefill_assessment(resident, today=DAY)

    assert (values["sbp"], values["dbp"], values["height_cm"], values["weight_kg"]) == (138, 86, 170, 72.2)
    assert values["bmi"] == 25.0  # 72.2 / 1.70²
    assert values["has_hypertension"] is True
    assert values["on_bp_treatment"] is True
    assert values["has_diabetes"] is False
    assert "I10" in values["history"]


def test_an_assessment_stores_risks_class_and_a_plan_with_due_dates(panel_residents: list[Resident]) -> None:
    resident = _adult(panel_residents)
    data = services.AssessmentInput(
        performed_on=DAY,
        smoking="current",
        cigarettes_per_day=10,
        exercise="none",
        family_history_diabetes=True,
        height_cm=170,
        weight_kg=80,
        bmi=27.7,
        waist_cm=92,
        sbp=150,
        dbp=92,
        total_cholesterol_mmol=5.6,
        hdl_mmol=0.9,
        fasting_glucose_mmol=5.4,
    )

    assessment = services.do_record_assessment(None, resident, data, today=DAY)

    # CDRS: age 55 → 15, SBP 150 → 8, BMI 27.7 → 3, waist 92 (men) → 8, family history 6, male 2 = 42.
    assert assessment.diabetes_score == 42
    assert assessment.china_par_risk is not None
    assert 0 < assessment.china_par_risk < 1
    # Grade 1 with age, smoking, dyslipidaemia and abdominal obesity (≥ 3 factors) → high.
    assert assessment.hypertension_stratum == "high"
    assert assessment.classification == "high_risk"
    codes = {item.code: item.due_on for item in PlanItem.objects.filter(assessment=assessment)}
    assert codes["follow_up:high_risk"] == DAY + timedelta(days=182)
    assert codes["screening:ogtt"] == DAY + timedelta(days=30)
    assert codes["goal:quit_smoking"] == DAY + timedelta(days=90)
    assert "goal:exercise" in codes
    assert "education:cvd_prevention" in codes
    assert AuditEntry.objects.filter(resource_type="care_assessment", resident_id=resident.pk).exists()


def test_a_second_assessment_in_the_year_replaces_the_first_and_its_plan(
    panel_residents: list[Resident],
) -> None:
    resident = _adult(panel_residents)
    services.do_record_assessment(
        None, resident, services.AssessmentInput(performed_on=DAY, smoking="current"), today=DAY
    )
    services.do_record_assessment(None, resident, services.AssessmentInput(performed_on=DAY), today=DAY)

    assert Assessment.objects.filter(resident=resident, year=2026).count() == 1
    assert not PlanItem.objects.filter(resident=resident, code="goal:quit_smoking").exists()


def test_a_patient_under_management_is_classed_patient(panel_residents: list[Resident]) -> None:
    resident = _adult(panel_residents)
    enrol(resident, "E11.9", on=DAY)

    assessment = services.do_record_assessment(
        None, resident, services.AssessmentInput(performed_on=DAY, has_diabetes=True), today=DAY
    )

    assert assessment.classification == "patient"
    assert assessment.diabetes_score is None  # not screened: already diagnosed


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sbp": 320, "dbp": 90}, "sbp"),
        ({"sbp": 120, "dbp": 130}, "dbp"),
        ({"sbp": 120}, "dbp"),
        ({"hdl_mmol": 9.0}, "hdl_mmol"),
        ({"waist_cm": 20.0}, "waist_cm"),
        ({"smoking": "sometimes"}, "smoking"),
        ({"performed_on": DAY + timedelta(days=1)}, "performed_on"),
    ],
)
def test_out_of_range_input_is_refused_naming_the_field_and_nothing_is_stored(
    panel_residents: list[Resident], changes: dict[str, Any], field: str
) -> None:
    resident = _adult(panel_residents)
    data = services.AssessmentInput(**{"performed_on": DAY, **changes})

    with pytest.raises(services.CareValidationError) as caught:
        services.do_record_assessment(None, resident, data, today=DAY)

    assert field in [name for name, _message in caught.value.errors]
    assert not Assessment.objects.filter(resident=resident).exists()
    assert not PlanItem.objects.filter(resident=resident).exists()


def test_china_par_is_left_out_outside_its_ages(panel_residents: list[Resident]) -> None:
    resident = _adult(panel_residents)
    resident.birth_date = date(1996, 1, 1)  # 30
    resident.save(update_fields=["birth_date"])
    data = services.AssessmentInput(
        performed_on=DAY, sbp=120, dbp=80, total_cholesterol_mmol=4.5, hdl_mmol=1.3, waist_cm=80, bmi=22
    )

    assessment = services.do_record_assessment(None, resident, data, today=DAY)

    assert assessment.china_par_risk is None
    assert assessment.diabetes_score is not None
    assert assessment.classification == "healthy"


# --- Enrolment --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "programme"), [("I10", "hypertension"), ("I15.0", "hypertension"), ("E11.9", "diabetes")]
)
def test_enrolment_follows_the_diagnosis_and_schedules_a_first_visit(
    panel_residents: list[Resident], code: str, programme: str
) -> None:
    enrolment = enrol(panel_residents[0], code, on=DAY)

    assert enrolment.programme == programme
    assert scheduled(enrolment).scheduled_on == DAY + timedelta(days=14)


def test_enrolling_twice_keeps_one_active_enrolment(panel_residents: list[Resident]) -> None:
    first = enrol(panel_residents[0], "I10", on=DAY)
    again = enrol(panel_residents[0], "I11.9", on=DAY)

    assert again.pk == first.pk
    assert FollowUp.objects.filter(enrolment=first).count() == 1


@pytest.mark.parametrize("code", ["I16", "E10", "J45"])
def test_a_diagnosis_outside_the_programmes_is_refused(panel_residents: list[Resident], code: str) -> None:
    with pytest.raises(services.CareValidationError) as caught:
        services.do_enrol(None, panel_residents[0], diagnose(panel_residents[0], code), today=DAY)

    assert caught.value.errors[0][0] == "source_condition"


def test_enrol_from_diagnoses_takes_every_programme_once(panel_residents: list[Resident]) -> None:
    resident = panel_residents[0]
    for code in ("I10", "E11.9", "I11.9", "J45"):
        diagnose(resident, code)

    enrolments = services.do_enrol_from_diagnoses(None, resident, today=DAY)

    assert sorted(e.programme for e in enrolments) == ["diabetes", "hypertension"]


# --- Follow-up --------------------------------------------------------------------------------------------


def _record(follow_up: FollowUp, **values: Any) -> services.FollowUpOutcome:
    on = values.pop("performed_on", follow_up.scheduled_on)
    return services.do_record_follow_up(
        None, follow_up, services.FollowUpInput(performed_on=on, **values), today=on
    )


@pytest.mark.parametrize(
    ("sbp", "dbp", "expected", "days"),
    [
        (139, 89, "controlled", 90),
        (140, 89, "first_uncontrolled", 14),
        (139, 90, "first_uncontrolled", 14),
    ],
)
def test_a_hypertension_follow_up_is_classified_and_the_next_visit_set(
    panel_residents: list[Resident], sbp: int, dbp: int, expected: str, days: int
) -> None:
    follow_up = scheduled(enrol(_adult(panel_residents), "I10", on=DAY))

    outcome = _record(follow_up, sbp=sbp, dbp=dbp)

    assert outcome.follow_up.classification == expected
    assert outcome.follow_up.next_visit_on == follow_up.scheduled_on + timedelta(days=days)
    assert outcome.next_follow_up.scheduled_on == outcome.follow_up.next_visit_on
    assert outcome.next_follow_up.status == "scheduled"
    assert outcome.task is None


def test_two_uncontrolled_visits_in_a_row_are_uncontrolled_twice(panel_residents: list[Resident]) -> None:
    enrolment = enrol(_adult(panel_residents), "I10", on=DAY)

    first = _record(scheduled(enrolment), sbp=150, dbp=85)
    second = _record(first.next_follow_up, sbp=152, dbp=88)

    assert first.follow_up.classification == "first_uncontrolled"
    assert second.follow_up.classification == "uncontrolled_twice"


def _turns_65_on(resident: Resident, day: date) -> None:
    resident.birth_date = day.replace(year=day.year - 65)
    resident.save(update_fields=["birth_date"])


def test_the_elderly_target_applies_from_the_65th_birthday(panel_residents: list[Resident]) -> None:
    resident = panel_residents[0]
    enrolment = enrol(resident, "I10", on=DAY)
    follow_up = scheduled(enrolment)
    _turns_65_on(resident, follow_up.scheduled_on + timedelta(days=1))  # 64 on the visit day

    assert _record(follow_up, sbp=145, dbp=80).follow_up.classification == "first_uncontrolled"


def test_at_65_a_reading_of_145_is_controlled(panel_residents: list[Resident]) -> None:
    resident = panel_residents[0]
    follow_up = scheduled(enrol(resident, "I10", on=DAY))
    _turns_65_on(resident, follow_up.scheduled_on)

    assert _record(follow_up, sbp=145, dbp=80).follow_up.classification == "controlled"


@override_settings(JIAYI_ELDERLY_BP_TARGET_150=False)
def test_with_the_setting_off_65_year_olds_keep_140(panel_residents: list[Resident]) -> None:
    resident = panel_residents[0]
    follow_up = scheduled(enrol(resident, "I10", on=DAY))
    _turns_65_on(resident, follow_up.scheduled_on)

    assert _record(follow_up, sbp=145, dbp=80).follow_up.classification == "first_uncontrolled"


@pytest.mark.parametrize(("glucose", "expected"), [(6.9, "controlled"), (7.0, "first_uncontrolled")])
def test_a_diabetes_follow_up_is_classified_on_fasting_glucose(
    panel_residents: list[Resident], glucose: float, expected: str
) -> None:
    follow_up = scheduled(enrol(_adult(panel_residents), "E11.9", on=DAY))

    assert _record(follow_up, fasting_glucose_mmol=glucose).follow_up.classification == expected


@pytest.mark.parametrize(("glucose", "emergency"), [(16.6, False), (16.7, True), (3.9, True), (4.0, False)])
def test_the_glucose_emergency_thresholds_raise_an_urgent_task(
    panel_residents: list[Resident], signed: list[Signing], glucose: float, emergency: bool
) -> None:
    resident = panel_residents[0]
    follow_up = scheduled(enrol(resident, "E11.9", on=DAY))

    outcome = _record(follow_up, fasting_glucose_mmol=glucose)

    assert (outcome.task is not None) is emergency
    if emergency:
        assert outcome.task is not None
        assert outcome.task.kind == "emergency_referral"
        assert outcome.task.assigned_to_id == signed[0].family_doctor_id
        assert outcome.task.team_id == signed[0].team_id
        assert outcome.follow_up.next_visit_on == follow_up.scheduled_on + timedelta(days=14)
        assert outcome.task.referral_id is not None
        referral = Referral.objects.get(pk=outcome.task.referral_id)
        assert referral.follow_up_id == outcome.follow_up.pk
        assert referral.resident_id == resident.pk


def test_a_bp_of_180_raises_an_emergency_task_with_its_reason(panel_residents: list[Resident]) -> None:
    follow_up = scheduled(enrol(_adult(panel_residents), "I10", on=DAY))

    outcome = _record(follow_up, sbp=180, dbp=100, danger_symptoms=frozenset({"severe_headache"}))

    assert outcome.task is not None
    assert outcome.task.referral_id is None  # no family doctor signed: the task alone
    assert outcome.task.reasons == ["sbp_at_least_180", "severe_headache"]
    assert outcome.follow_up.emergency_reasons == ["sbp_at_least_180", "severe_headache"]
    assert CareTask.objects.filter(resident=follow_up.resident, status="open").count() == 1


def test_a_follow_up_without_its_reading_is_refused_and_stays_scheduled(
    panel_residents: list[Resident],
) -> None:
    follow_up = scheduled(enrol(_adult(panel_residents), "I10", on=DAY))

    with pytest.raises(services.CareValidationError) as caught:
        _record(follow_up, sbp=150)

    assert caught.value.errors == [("dbp", "a hypertension follow-up needs the blood pressure")]
    follow_up.refresh_from_db()
    assert follow_up.status == "scheduled"
    assert FollowUp.objects.filter(enrolment=follow_up.enrolment).count() == 1


def test_a_swapped_reading_is_refused_naming_the_field(panel_residents: list[Resident]) -> None:
    follow_up = scheduled(enrol(_adult(panel_residents), "I10", on=DAY))

    with pytest.raises(services.CareValidationError) as caught:
        _record(follow_up, sbp=80, dbp=120)

    assert caught.value.errors[0][0] == "dbp"


def test_a_done_follow_up_cannot_be_recorded_again(panel_residents: list[Resident]) -> None:
    follow_up = scheduled(enrol(_adult(panel_residents), "I10", on=DAY))
    _record(follow_up, sbp=130, dbp=80)

    with pytest.raises(services.CareStateError):
        _record(follow_up, sbp=130, dbp=80)


def test_a_follow_up_can_be_rescheduled_and_keeps_its_first_date(panel_residents: list[Resident]) -> None:
    follow_up = scheduled(enrol(_adult(panel_residents), "I10", on=DAY))
    first = follow_up.scheduled_on

    services.do_reschedule(None, follow_up, DAY + timedelta(days=20), today=DAY)
    services.do_reschedule(None, follow_up, DAY + timedelta(days=25), today=DAY)

    follow_up.refresh_from_db()
    assert (follow_up.scheduled_on, follow_up.rescheduled_from) == (DAY + timedelta(days=25), first)
    with pytest.raises(services.CareValidationError):
        services.do_reschedule(None, follow_up, DAY - timedelta(days=1), today=DAY)


# --- Contacts and quarters ---------------------------------------------------------------------------


def _at(day: date) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, 10, 0))


def test_quarter_status_is_reached_tried_or_none(panel_residents: list[Resident]) -> None:
    reached, tried, untouched = panel_residents[:3]
    services.do_log_contact(None, tried, channel="phone", outcome="unreachable", at=_at(date(2026, 2, 3)))
    services.do_log_contact(None, reached, channel="wechat", outcome="unreachable", at=_at(date(2026, 1, 3)))
    services.do_log_contact(None, reached, channel="visit", outcome="reached", at=_at(date(2026, 3, 31)))
    services.do_log_contact(None, untouched, channel="phone", outcome="reached", at=_at(date(2026, 4, 1)))

    statuses = services.quarter_contact_statuses([r.pk for r in (reached, tried, untouched)], 2026, 1)

    assert statuses == {reached.pk: "reached", tried.pk: "tried", untouched.pk: "none"}


def test_a_contact_with_a_bad_channel_is_refused(panel_residents: list[Resident]) -> None:
    with pytest.raises(services.CareValidationError) as caught:
        services.do_log_contact(None, panel_residents[0], channel="fax", outcome="reached", at=timezone.now())

    assert caught.value.errors[0][0] == "channel"
    assert not Contact.objects.filter(resident=panel_residents[0]).exists()


# --- 65+ care year -------------------------------------------------------------------------------------


def _exam(resident: Resident, on: date, *, drop: str | None = None) -> ElderlyExam:
    parts: dict[str, dict[str, str]] = {
        part: dict.fromkeys(items, "正常") for part, items in lib.ELDERLY_EXAM_PARTS.items()
    }
    if drop is not None:
        part, item = drop.split(".")
        del parts[part][item]
    institution = Institution.objects.order_by("id").first()
    assert institution is not None
    return ElderlyExam.objects.create(
        resident=resident,
        institution=institution,
        source_system="test",
        source_id=f"care-exam-{resident.pk}-{on.isoformat()}-{drop}",
        received_at=timezone.now(),
        exam_date=on,
        **parts,
    )


def test_a_care_year_counts_only_with_a_complete_exam_form(panel_residents: list[Resident]) -> None:
    resident = panel_residents[0]
    _exam(resident, date(2026, 4, 1), drop="tests.ecg")

    year = services.do_sync_elderly_year(resident, 2026)

    assert year.complete is False
    assert year.lifestyle_assessed_on == date(2026, 4, 1)
    assert year.physical_exam_on == date(2026, 4, 1)
    assert year.tests_on is None
    assert year.guidance_on == date(2026, 4, 1)

    complete = _exam(resident, date(2026, 5, 2))
    year = services.do_sync_elderly_year(resident, 2026)

    assert year.complete is True
    assert year.exam_id == complete.pk
    assert year.tests_on == date(2026, 5, 2)
    assert ElderlyCareYear.objects.filter(resident=resident).count() == 1


def test_a_saved_exam_form_of_a_65_year_old_updates_their_care_year(
    panel_residents: list[Resident], django_capture_on_commit_callbacks: Any
) -> None:
    resident = panel_residents[0]
    resident.birth_date = date(1960, 1, 1)
    resident.save(update_fields=["birth_date"])

    with django_capture_on_commit_callbacks(execute=True):
        _exam(resident, date(2026, 6, 1))

    assert ElderlyCareYear.objects.get(resident=resident, year=2026).complete is True


def test_an_exam_form_under_65_makes_no_care_year(
    panel_residents: list[Resident], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _exam(panel_residents[0], date(2026, 6, 1))

    assert not ElderlyCareYear.objects.filter(resident=panel_residents[0]).exists()


def test_a_follow_up_done_in_the_quarter_counts_as_reached(panel_residents: list[Resident]) -> None:
    follow_up = scheduled(enrol(_adult(panel_residents), "I10", on=DAY))
    _record(follow_up, sbp=130, dbp=80)  # on 16 March

    statuses = services.quarter_contact_statuses([follow_up.resident_id], 2026, 1)

    assert statuses == {follow_up.resident_id: "reached"}
