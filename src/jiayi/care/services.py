"""Health-management writes: the one path for assessments, enrolments, follow-ups, contacts and tasks.

`do_*` functions validate (raising `CareValidationError` with every problem as (field, message)), write
atomically and append the audit entry in the same transaction, so a refused input leaves nothing
behind. They trust their caller on access: pages and the API ask `jiayi.access` first. The clinical
rules come from the pure modules `risk`, `rules` and `plan`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.care import plan, risk, rules
from jiayi.care.choices import (
    CareTaskKind,
    CareTaskStatus,
    ContactChannel,
    ContactOutcome,
    DrinkingFrequency,
    EnrolmentStatus,
    ExerciseFrequency,
    FollowUpChannel,
    FollowUpStatus,
    MedicationAdherence,
    Programme,
    SaltIntake,
    SmokingStatus,
)
from jiayi.care.models import (
    Assessment,
    CareTask,
    Contact,
    ElderlyCareYear,
    FollowUp,
    PlanItem,
    ProgrammeEnrolment,
)
from jiayi.records.choices import ClinicalStatus, ObservationCode
from jiayi.records.models import Condition, ElderlyExam, Observation
from jiayi.registry.identity import age_on
from jiayi.registry.models import Resident, Staff, Team

Actor = User | AnonymousUser | None
FieldError = tuple[str, str]
NOTE_MAX_LENGTH = 200


class CareError(Exception):
    """A health-management record cannot be written as asked."""


class CareValidationError(CareError):
    """Invalid input, with every problem found as (field, message)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors))


class CareStateError(CareError):
    """The record's state does not allow the change (a done follow-up cannot be recorded again)."""


def staff_of(actor: Actor) -> Staff | None:
    """The staff member behind a login, if any."""
    account = getattr(actor, "account", None) if isinstance(actor, User) else None
    return account.staff if account is not None and account.staff_id is not None else None


def elderly_bp_target_150() -> bool:
    """Whether SBP < 150 counts as controlled from the 65th birthday (setting JIAYI_ELDERLY_BP_TARGET_150)."""
    return bool(getattr(settings, "JIAYI_ELDERLY_BP_TARGET_150", True))


def _field_of(exc: ValueError, known: Iterable[str], default: str) -> str:
    # The pure rules start their messages with the input's name; map it back to the form's field.
    first = str(exc).split(" ", 1)[0]
    return first if first in set(known) else default


# --- Diagnoses and prefill ----------------------------------------------------------------------------

HYPERTENSION_PREFIXES = ("I10", "I11", "I12", "I13", "I14", "I15")
DIABETES_PREFIXES = ("E11",)
STROKE_OR_MI_PREFIXES = ("I21", "I22", "I60", "I61", "I63", "I64")
ACTIVE_CLINICAL = (ClinicalStatus.ACTIVE, ClinicalStatus.RECURRENCE, ClinicalStatus.RELAPSE)


def programme_for_code(code: str) -> str | None:
    """The programme a diagnosis code enrols in: hypertension I10–I15, type-2 diabetes E11."""
    upper = code.strip().upper()
    if upper.startswith(HYPERTENSION_PREFIXES):
        return Programme.HYPERTENSION
    if upper.startswith(DIABETES_PREFIXES):
        return Programme.DIABETES
    return None


def _codes_match(codes: Iterable[str], prefixes: tuple[str, ...]) -> bool:
    return any(code.upper().startswith(prefixes) for code in codes)


# Observation code → assessment field.
PREFILL_OBSERVATIONS = {
    ObservationCode.HEIGHT: "height_cm",
    ObservationCode.WEIGHT: "weight_kg",
    ObservationCode.BMI: "bmi",
    ObservationCode.WAIST: "waist_cm",
    ObservationCode.SYSTOLIC_BP: "sbp",
    ObservationCode.DIASTOLIC_BP: "dbp",
    ObservationCode.HEART_RATE: "heart_rate",
    ObservationCode.FASTING_GLUCOSE: "fasting_glucose_mmol",
    ObservationCode.TOTAL_CHOLESTEROL: "total_cholesterol_mmol",
    ObservationCode.HDL: "hdl_mmol",
}
INTEGER_FIELDS = frozenset({"sbp", "dbp", "heart_rate"})


def prefill_assessment(resident: Resident, *, today: date) -> dict[str, Any]:
    """Initial values of a yearly assessment from the health account: the latest value of each
    measurement up to `today`, and the history the diagnoses show."""
    values: dict[str, Any] = {}
    latest = (
        Observation.objects.filter(
            resident=resident, code__in=list(PREFILL_OBSERVATIONS), effective_at__date__lte=today
        )
        .order_by("code", "-effective_at", "-id")
        .values_list("code", "value")
    )
    for code, value in latest:
        name = PREFILL_OBSERVATIONS[ObservationCode(code)]
        if name not in values:
            values[name] = round(value) if name in INTEGER_FIELDS else round(value, 1)
    if values.get("bmi") is None and values.get("height_cm") and values.get("weight_kg"):
        values["bmi"] = round(values["weight_kg"] / (values["height_cm"] / 100) ** 2, 1)
    codes = list(
        Condition.objects.filter(resident=resident, clinical_status__in=ACTIVE_CLINICAL).values_list(
            "code", flat=True
        )
    )
    values["history"] = sorted(set(codes))
    values["has_hypertension"] = _codes_match(codes, HYPERTENSION_PREFIXES)
    values["has_diabetes"] = _codes_match(codes, DIABETES_PREFIXES)
    values["prior_stroke_or_mi"] = _codes_match(codes, STROKE_OR_MI_PREFIXES)
    values["on_bp_treatment"] = values["has_hypertension"]
    return values


# --- Yearly assessment ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssessmentInput:
    """The assessment form: questionnaire and measurements (measurements may be left out)."""

    performed_on: date
    smoking: str = SmokingStatus.NEVER
    cigarettes_per_day: int = 0
    drinking: str = DrinkingFrequency.NEVER
    exercise: str = ExerciseFrequency.NONE
    diet: str = "balanced"
    salt_intake: str = SaltIntake.MEDIUM
    symptoms: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    on_bp_treatment: bool = False
    has_hypertension: bool = False
    has_diabetes: bool = False
    prior_stroke_or_mi: bool = False
    ckd_stage: int | None = None
    discharged_or_in_rehab: bool = False
    family_history_ascvd: bool = False
    family_history_diabetes: bool = False
    family_history_hypertension: bool = False
    self_care_ability: str = "independent"
    urban: bool = True
    north: bool = False
    height_cm: float | None = None
    weight_kg: float | None = None
    bmi: float | None = None
    waist_cm: float | None = None
    sbp: int | None = None
    dbp: int | None = None
    heart_rate: int | None = None
    fasting_glucose_mmol: float | None = None
    total_cholesterol_mmol: float | None = None
    hdl_mmol: float | None = None


@dataclass(frozen=True)
class RiskResult:
    china_par_risk: float | None
    diabetes_score: int | None
    hypertension_stratum: str
    classification: risk.AssessmentClass


MEASUREMENT_RANGES: dict[str, tuple[float, float, str]] = {
    "height_cm": (40, 250, " cm"),
    "weight_kg": (2, 400, " kg"),
    "bmi": (10, 80, " kg/m²"),
    "waist_cm": (40, 250, " cm"),
    "heart_rate": (20, 300, " beats/min"),
    "fasting_glucose_mmol": (0.5, 100, " mmol/L"),
    "total_cholesterol_mmol": (1, 20, " mmol/L"),
    "hdl_mmol": (0.1, 5, " mmol/L"),
}
ASSESSMENT_FIELDS = frozenset(AssessmentInput.__dataclass_fields__)


def _check_assessment(data: AssessmentInput, today: date) -> list[FieldError]:
    errors: list[FieldError] = []
    if data.performed_on > today:
        errors.append(("performed_on", f"{data.performed_on.isoformat()} is in the future"))
    choices = {
        "smoking": SmokingStatus.values,
        "drinking": DrinkingFrequency.values,
        "exercise": ExerciseFrequency.values,
        "salt_intake": SaltIntake.values,
        "diet": ["balanced", "meat_heavy", "vegetable_heavy"],
        "self_care_ability": ["independent", "mild", "moderate", "dependent"],
    }
    for name, allowed in choices.items():
        value = getattr(data, name)
        if value not in allowed:
            errors.append((name, f"{value!r} is not one of {sorted(allowed)}"))
    for name, (low, high, unit) in MEASUREMENT_RANGES.items():
        value = getattr(data, name)
        if value is not None:
            try:
                risk.check_range(name, value, low, high, unit)
            except ValueError as exc:
                errors.append((name, str(exc)))
    if (data.sbp is None) != (data.dbp is None):
        errors.append(("dbp" if data.dbp is None else "sbp", "sbp and dbp must be given together"))
    elif data.sbp is not None and data.dbp is not None:
        try:
            risk.check_blood_pressure(data.sbp, data.dbp)
        except ValueError as exc:
            errors.append((_field_of(exc, ("sbp", "dbp"), "dbp"), str(exc)))
    if data.ckd_stage is not None and not 1 <= data.ckd_stage <= 5:
        errors.append(("ckd_stage", f"must be between 1 and 5, got {data.ckd_stage}"))
    if not 0 <= data.cigarettes_per_day <= 200:
        errors.append(("cigarettes_per_day", f"must be between 0 and 200, got {data.cigarettes_per_day}"))
    return errors


def compute_risks(*, sex: str, age: int, data: AssessmentInput, under_management: bool) -> RiskResult:
    """Scores and class of an assessment; a score whose inputs are missing or out of its age range is
    None (not assessed). Raises `CareValidationError` naming the field when a rule refuses an input."""
    smoker = data.smoking == SmokingStatus.CURRENT
    china_par_risk: float | None = None
    diabetes_score: int | None = None
    stratum = ""
    known_sex = sex in risk.SEXES
    try:
        lo, hi = risk.CHINA_PAR_AGES
        needed = (data.sbp, data.total_cholesterol_mmol, data.hdl_mmol, data.waist_cm)
        if known_sex and lo <= age <= hi and all(value is not None for value in needed):
            assert data.sbp is not None
            assert data.total_cholesterol_mmol is not None
            assert data.hdl_mmol is not None
            assert data.waist_cm is not None
            china_par_risk = risk.china_par(
                sex=sex,  # type: ignore[arg-type]  # checked: known_sex
                age=age,
                sbp=data.sbp,
                on_bp_treatment=data.on_bp_treatment,
                total_cholesterol_mmol=data.total_cholesterol_mmol,
                hdl_mmol=data.hdl_mmol,
                waist_cm=data.waist_cm,
                smoker=smoker,
                diabetes=data.has_diabetes,
                north=data.north,
                urban=data.urban,
                family_history_ascvd=data.family_history_ascvd,
            )
        lo, hi = risk.CDRS_AGES
        if (
            known_sex
            and not data.has_diabetes
            and lo <= age <= hi
            and data.sbp is not None
            and data.bmi is not None
            and data.waist_cm is not None
        ):
            diabetes_score = risk.diabetes_risk_score(
                sex=sex,  # type: ignore[arg-type]  # checked: known_sex
                age=age,
                sbp=data.sbp,
                bmi=data.bmi,
                waist_cm=data.waist_cm,
                family_history_diabetes=data.family_history_diabetes,
            )
        if data.sbp is not None and data.dbp is not None:
            stratum = risk.hypertension_risk_stratum(
                sbp=data.sbp,
                dbp=data.dbp,
                risk_factor_count=plan.hypertension_risk_factor_count(
                    sex=sex,
                    age=age,
                    smoker=smoker,
                    total_cholesterol_mmol=data.total_cholesterol_mmol,
                    hdl_mmol=data.hdl_mmol,
                    fasting_glucose_mmol=data.fasting_glucose_mmol,
                    waist_cm=data.waist_cm,
                    bmi=data.bmi,
                    family_history_ascvd=data.family_history_ascvd,
                ),
                target_organ_damage=False,
                ckd_stage=data.ckd_stage,
                diabetes=data.has_diabetes,
                diabetes_complicated=False,
                clinical_complications=data.prior_stroke_or_mi,
            ).value
    except ValueError as exc:
        raise CareValidationError([(_field_of(exc, ASSESSMENT_FIELDS, "__all__"), str(exc))]) from None
    glucose = data.fasting_glucose_mmol
    low, high = plan.IMPAIRED_FASTING_GLUCOSE
    classification = risk.assessment_class(
        chronic_disease_under_management=under_management,
        discharged_or_in_rehab=data.discharged_or_in_rehab,
        china_par_risk=china_par_risk,
        diabetes_score=diabetes_score,
        hypertension_stratum=risk.HypertensionRiskStratum(stratum) if stratum else None,
        screening_positive=glucose is not None and low <= glucose < high,
    )
    return RiskResult(china_par_risk, diabetes_score, stratum, classification)


def _under_management(resident: Resident, data: AssessmentInput) -> bool:
    enrolled = ProgrammeEnrolment.objects.filter(resident=resident, status=EnrolmentStatus.ACTIVE).exists()
    return enrolled or data.has_hypertension or data.has_diabetes


def do_record_assessment(
    actor: Actor,
    resident: Resident,
    data: AssessmentInput,
    *,
    today: date,
    request: HttpRequest | None = None,
) -> Assessment:
    """Record (or replace) the resident's assessment of the year of `performed_on`, with its risks,
    class and plan. Replacing keeps one assessment a year and rebuilds the plan it owns."""
    errors = _check_assessment(data, today)
    if errors:
        raise CareValidationError(errors)
    age = age_on(resident.birth_date, data.performed_on)
    result = compute_risks(
        sex=resident.sex, age=age, data=data, under_management=_under_management(resident, data)
    )
    values = {name: getattr(data, name) for name in ASSESSMENT_FIELDS}
    values.update(
        china_par_risk=result.china_par_risk,
        diabetes_score=result.diabetes_score,
        hypertension_stratum=result.hypertension_stratum,
        classification=result.classification.value,
        performed_by=staff_of(actor),
    )
    entries = plan.build_plan(
        plan.PlanInputs(
            performed_on=data.performed_on,
            age=age,
            classification=result.classification,
            smoker=data.smoking == SmokingStatus.CURRENT,
            drinks_daily=data.drinking == DrinkingFrequency.DAILY,
            exercises_rarely=data.exercise in (ExerciseFrequency.NONE, ExerciseFrequency.OCCASIONAL),
            salt_heavy=data.salt_intake == SaltIntake.HEAVY,
            bmi=data.bmi,
            sbp=data.sbp,
            fasting_glucose_mmol=data.fasting_glucose_mmol,
            total_cholesterol_mmol=data.total_cholesterol_mmol,
            diabetes_score=result.diabetes_score,
            china_par_risk=result.china_par_risk,
            has_hypertension=data.has_hypertension,
            has_diabetes=data.has_diabetes,
        )
    )
    with transaction.atomic():
        assessment, created = Assessment.objects.update_or_create(
            resident=resident, year=data.performed_on.year, defaults=values
        )
        PlanItem.objects.filter(assessment=assessment).delete()
        PlanItem.objects.bulk_create(
            PlanItem(
                resident=resident,
                assessment=assessment,
                kind=entry.kind,
                code=entry.code,
                text=entry.text,
                due_on=entry.due_on,
            )
            for entry in entries
        )
        record(
            request=request,
            actor=actor,
            action=Action.CREATE if created else Action.UPDATE,
            resource_type="care_assessment",
            resource_id=assessment.pk,
            resident_id=resident.pk,
            detail={"year": assessment.year, "classification": assessment.classification},
        )
    return assessment


# --- Programme enrolment ----------------------------------------------------------------------------------


# Operational choice: the first visit after enrolment checks the start of treatment within 2 weeks.
FIRST_FOLLOW_UP_DAYS = rules.SHORT_INTERVAL_DAYS


def do_enrol(
    actor: Actor,
    resident: Resident,
    condition: Condition,
    *,
    today: date,
    request: HttpRequest | None = None,
) -> ProgrammeEnrolment:
    """Enrol a resident in the programme of a diagnosis (I10–I15 hypertension, E11 diabetes) and
    schedule the first follow-up. An active enrolment in that programme is returned unchanged."""
    errors: list[FieldError] = []
    programme = programme_for_code(condition.code)
    if condition.resident_id != resident.pk:
        errors.append(("source_condition", f"condition #{condition.pk} belongs to another resident"))
    if programme is None:
        errors.append(
            ("source_condition", f"diagnosis {condition.code} enrols in no programme (I10–I15 or E11)")
        )
    if resident.date_of_death is not None:
        errors.append(("resident", f"resident #{resident.pk} has died"))
    if errors:
        raise CareValidationError(errors)
    assert programme is not None
    with transaction.atomic():
        existing = (
            ProgrammeEnrolment.objects.select_for_update()
            .filter(resident=resident, programme=programme, status=EnrolmentStatus.ACTIVE)
            .first()
        )
        if existing is not None:
            return existing
        enrolment = ProgrammeEnrolment.objects.create(
            resident=resident,
            programme=programme,
            enrolled_on=today,
            enrolled_by=staff_of(actor),
            source_condition=condition,
            source_code=condition.code,
        )
        FollowUp.objects.create(
            enrolment=enrolment,
            resident=resident,
            programme=programme,
            scheduled_on=today + timedelta(days=FIRST_FOLLOW_UP_DAYS),
        )
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="care_enrolment",
            resource_id=enrolment.pk,
            resident_id=resident.pk,
            detail={"programme": programme, "code": condition.code},
        )
    return enrolment


def do_enrol_from_diagnoses(
    actor: Actor, resident: Resident, *, today: date, request: HttpRequest | None = None
) -> list[ProgrammeEnrolment]:
    """Enrol the resident in every programme an active diagnosis calls for."""
    enrolments: list[ProgrammeEnrolment] = []
    seen: set[str] = set()
    conditions = Condition.objects.filter(resident=resident, clinical_status__in=ACTIVE_CLINICAL).order_by(
        "recorded_date", "id"
    )
    for condition in conditions:
        programme = programme_for_code(condition.code)
        if programme is None or programme in seen:
            continue
        seen.add(programme)
        enrolments.append(do_enrol(actor, resident, condition, today=today, request=request))
    return enrolments


# --- Follow-up -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpInput:
    """The follow-up form."""

    performed_on: date
    channel: str = FollowUpChannel.CLINIC
    sbp: int | None = None
    dbp: int | None = None
    fasting_glucose_mmol: float | None = None
    heart_rate: int | None = None
    danger_symptoms: frozenset[str] = frozenset()
    medication_adherence: str = MedicationAdherence.REGULAR
    adverse_reaction: bool = False
    adverse_reaction_note: str = ""
    new_or_worse_complication: bool = False
    pregnant_or_lactating: bool = False
    ketoacidosis_signs: bool = False
    temperature_c: float | None = None
    lifestyle: dict[str, Any] = field(default_factory=dict)
    note: str = ""


FOLLOW_UP_FIELDS = frozenset(FollowUpInput.__dataclass_fields__) | {"glucose_mmol"}


def _check_follow_up(follow_up: FollowUp, data: FollowUpInput, today: date) -> list[FieldError]:
    errors: list[FieldError] = []
    if data.performed_on > today:
        errors.append(("performed_on", f"{data.performed_on.isoformat()} is in the future"))
    if data.performed_on < follow_up.enrolment.enrolled_on:
        errors.append(("performed_on", "is before the enrolment"))
    if data.channel not in FollowUpChannel.values:
        errors.append(("channel", f"{data.channel!r} is not one of {FollowUpChannel.values}"))
    if data.medication_adherence not in MedicationAdherence.values:
        errors.append(
            (
                "medication_adherence",
                f"{data.medication_adherence!r} is not one of {MedicationAdherence.values}",
            )
        )
    if follow_up.programme == Programme.HYPERTENSION:
        if data.sbp is None:
            errors.append(("sbp", "a hypertension follow-up needs the blood pressure"))
        if data.dbp is None:
            errors.append(("dbp", "a hypertension follow-up needs the blood pressure"))
    elif data.fasting_glucose_mmol is None:
        errors.append(("fasting_glucose_mmol", "a diabetes follow-up needs the fasting glucose"))
    if len(data.note) > NOTE_MAX_LENGTH or len(data.adverse_reaction_note) > NOTE_MAX_LENGTH:
        errors.append(("note", f"at most {NOTE_MAX_LENGTH} characters"))
    return errors


@dataclass(frozen=True)
class FollowUpOutcome:
    follow_up: FollowUp
    next_follow_up: FollowUp
    task: CareTask | None


def _previous_class(follow_up: FollowUp) -> rules.FollowUpClass | None:
    previous = (
        FollowUp.objects.filter(enrolment=follow_up.enrolment_id, status=FollowUpStatus.DONE)
        .exclude(pk=follow_up.pk)
        .exclude(classification="")
        .order_by("-performed_on", "-id")
        .values_list("classification", flat=True)
        .first()
    )
    return rules.FollowUpClass(previous) if previous else None


def _classify(follow_up: FollowUp, data: FollowUpInput) -> tuple[rules.FollowUpClass, list[str]]:
    resident = follow_up.resident
    age = age_on(resident.birth_date, data.performed_on)
    previous = _previous_class(follow_up)
    if follow_up.programme == Programme.HYPERTENSION:
        assert data.sbp is not None
        assert data.dbp is not None
        classification = rules.classify_hypertension_follow_up(
            sbp=data.sbp,
            dbp=data.dbp,
            age=age,
            previous_classification=previous,
            adverse_reaction=data.adverse_reaction,
            new_or_worse_complication=data.new_or_worse_complication,
            elderly_target_150=elderly_bp_target_150(),
        )
        reasons = rules.hypertension_emergency(
            sbp=data.sbp,
            dbp=data.dbp,
            danger_symptoms=data.danger_symptoms,
            pregnant_or_lactating=data.pregnant_or_lactating,
        )
    else:
        assert data.fasting_glucose_mmol is not None
        classification = rules.classify_diabetes_follow_up(
            fasting_glucose_mmol=data.fasting_glucose_mmol,
            previous_classification=previous,
            adverse_reaction=data.adverse_reaction,
            new_or_worse_complication=data.new_or_worse_complication,
        )
        reasons = rules.diabetes_emergency(
            glucose_mmol=data.fasting_glucose_mmol,
            sbp=data.sbp,
            dbp=data.dbp,
            heart_rate=data.heart_rate,
            temperature_c=data.temperature_c,
            ketoacidosis_signs=data.ketoacidosis_signs,
            pregnant_or_lactating=data.pregnant_or_lactating,
        )
        reasons += [code for code in rules.DangerSymptom if code in data.danger_symptoms]
    return classification, [str(reason) for reason in reasons]


def signed_team_of(resident: Resident) -> tuple[Staff | None, Team | None]:
    """The family doctor and team of the resident's active signing, if any."""
    from jiayi.signing.choices import SigningStatus
    from jiayi.signing.models import Signing

    signing = (
        Signing.objects.filter(resident=resident, status=SigningStatus.ACTIVE)
        .select_related("family_doctor", "team")
        .first()
    )
    if signing is None:
        return None, None
    return signing.family_doctor, signing.team


def do_record_follow_up(
    actor: Actor,
    follow_up: FollowUp,
    data: FollowUpInput,
    *,
    today: date,
    request: HttpRequest | None = None,
) -> FollowUpOutcome:
    """Record a scheduled follow-up: classify it, set the next visit (`rules.next_visit_date`; within
    2 weeks after an emergency), schedule it, and raise an urgent task when an emergency threshold is
    met. The classification, the next visit and the task are written in one transaction."""
    if follow_up.status != FollowUpStatus.SCHEDULED:
        raise CareStateError(f"follow-up #{follow_up.pk} is {follow_up.status}, not scheduled")
    errors = _check_follow_up(follow_up, data, today)
    if errors:
        raise CareValidationError(errors)
    try:
        classification, reasons = _classify(follow_up, data)
    except ValueError as exc:
        raise CareValidationError([(_field_of(exc, FOLLOW_UP_FIELDS, "__all__"), str(exc))]) from None
    next_on = rules.next_visit_date(classification, data.performed_on)
    if reasons:
        next_on = min(next_on, data.performed_on + timedelta(days=rules.SHORT_INTERVAL_DAYS))
    with transaction.atomic():
        locked = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if locked.status != FollowUpStatus.SCHEDULED:
            raise CareStateError(f"follow-up #{follow_up.pk} is {locked.status}, not scheduled")
        follow_up.performed_on = data.performed_on
        follow_up.channel = data.channel
        follow_up.performed_by = staff_of(actor)
        follow_up.sbp = data.sbp
        follow_up.dbp = data.dbp
        follow_up.fasting_glucose_mmol = data.fasting_glucose_mmol
        follow_up.heart_rate = data.heart_rate
        follow_up.symptoms = sorted(data.danger_symptoms)
        follow_up.medication_adherence = data.medication_adherence
        follow_up.adverse_reaction = data.adverse_reaction
        follow_up.adverse_reaction_note = data.adverse_reaction_note
        follow_up.new_or_worse_complication = data.new_or_worse_complication
        follow_up.lifestyle = data.lifestyle
        follow_up.note = data.note
        follow_up.classification = classification.value
        follow_up.emergency_reasons = reasons
        follow_up.next_visit_on = next_on
        follow_up.status = FollowUpStatus.DONE
        follow_up.save()
        next_follow_up = FollowUp.objects.create(
            enrolment_id=follow_up.enrolment_id,
            resident_id=follow_up.resident_id,
            programme=follow_up.programme,
            scheduled_on=next_on,
        )
        task = _raise_emergency(follow_up, reasons, today=today) if reasons else None
        closed = _close_home_visits(follow_up.resident_id)
        record(
            request=request,
            actor=actor,
            action=Action.UPDATE,
            resource_type="care_follow_up",
            resource_id=follow_up.pk,
            resident_id=follow_up.resident_id,
            detail={
                "classification": classification.value,
                "next_visit_on": next_on.isoformat(),
                "emergency": bool(reasons),
                **({"closed_tasks": list(closed)} if closed else {}),
            },
        )
    return FollowUpOutcome(follow_up, next_follow_up, task)


def _raise_emergency(follow_up: FollowUp, reasons: list[str], *, today: date) -> CareTask:
    """An urgent task for the resident's team and, when the resident has a family doctor, an urgent
    up-referral draft for the doctor to complete. A draft the referral rules refuse (no hospital to
    refer to) leaves the task alone, so the emergency is never lost."""
    from jiayi.referrals.services import ReferralError, draft_from_emergency

    doctor, team = signed_team_of(follow_up.resident)
    referral_id: int | None = None
    if doctor is not None:
        try:
            with transaction.atomic():
                referral = draft_from_emergency(
                    resident=follow_up.resident,
                    family_doctor=doctor,
                    reasons=reasons,
                    follow_up_id=follow_up.pk,
                )
            referral_id = referral.pk
        except ReferralError:
            referral_id = None
    return CareTask.objects.create(
        resident_id=follow_up.resident_id,
        kind=CareTaskKind.EMERGENCY_REFERRAL,
        reasons=reasons,
        due_on=today,
        team=team,
        assigned_to=doctor,
        follow_up=follow_up,
        referral_id=referral_id,
    )


def do_reschedule(
    actor: Actor,
    follow_up: FollowUp,
    new_date: date,
    *,
    today: date,
    request: HttpRequest | None = None,
) -> FollowUp:
    """Move a scheduled follow-up to another day (today or later); keeps the first planned date."""
    if follow_up.status != FollowUpStatus.SCHEDULED:
        raise CareStateError(f"follow-up #{follow_up.pk} is {follow_up.status}, not scheduled")
    if new_date < today:
        raise CareValidationError([("scheduled_on", f"{new_date.isoformat()} is in the past")])
    if new_date > today + timedelta(days=rules.ROUTINE_INTERVAL_DAYS):
        raise CareValidationError([("scheduled_on", "at most 90 days ahead")])
    with transaction.atomic():
        if follow_up.rescheduled_from is None:
            follow_up.rescheduled_from = follow_up.scheduled_on
        follow_up.scheduled_on = new_date
        follow_up.save(update_fields=["scheduled_on", "rescheduled_from"])
        record(
            request=request,
            actor=actor,
            action=Action.UPDATE,
            resource_type="care_follow_up",
            resource_id=follow_up.pk,
            resident_id=follow_up.resident_id,
            detail={"rescheduled_to": new_date.isoformat()},
        )
    return follow_up


# --- Contacts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactLogged:
    """A logged contact and what it changed: follow-ups moved to the next attempt, a home-visit task."""

    contact: Contact
    next_attempt_on: date | None = None
    moved_follow_ups: tuple[int, ...] = ()
    home_visit: CareTask | None = None
    closed_tasks: tuple[int, ...] = ()


def do_log_contact(
    actor: Actor,
    resident: Resident,
    *,
    channel: str,
    outcome: str,
    at: datetime,
    note: str = "",
    request: HttpRequest | None = None,
) -> Contact:
    """Log an active contact (主动联系); an unreachable one counts as tried, not as contacted.

    See `do_log_contact_attempt` for what an attempt changes besides the log."""
    return do_log_contact_attempt(
        actor, resident, channel=channel, outcome=outcome, at=at, note=note, request=request
    ).contact


def do_log_contact_attempt(
    actor: Actor,
    resident: Resident,
    *,
    channel: str,
    outcome: str,
    at: datetime,
    note: str = "",
    request: HttpRequest | None = None,
) -> ContactLogged:
    """Log a contact attempt and act on its outcome (`rules.after_failed_attempt`).

    Unreachable: the resident's follow-ups due by the attempt's day move to the next attempt (the
    first planned date is kept, so the visit still counts as overdue from it), and from the third failed
    attempt in the quarter an open home-visit task (上门随访) is raised for the signed team, once.
    Reached: an open home-visit task is no longer needed and is closed. Everything is written in one
    transaction with its audit entry."""
    errors: list[FieldError] = []
    if channel not in ContactChannel.values:
        errors.append(("channel", f"{channel!r} is not one of {ContactChannel.values}"))
    if outcome not in ContactOutcome.values:
        errors.append(("outcome", f"{outcome!r} is not one of {ContactOutcome.values}"))
    if len(note) > NOTE_MAX_LENGTH:
        errors.append(("note", f"at most {NOTE_MAX_LENGTH} characters"))
    if timezone.is_naive(at):
        errors.append(("at", "needs a time zone"))
    elif at > timezone.now() + timedelta(minutes=5):
        errors.append(("at", "is in the future"))
    if errors:
        raise CareValidationError(errors)
    day = timezone.localdate(at)
    with transaction.atomic():
        contact = Contact.objects.create(
            resident=resident, staff=staff_of(actor), at=at, channel=channel, outcome=outcome, note=note
        )
        result = ContactLogged(contact=contact)
        detail: dict[str, Any] = {"channel": channel, "outcome": outcome}
        if outcome == ContactOutcome.UNREACHABLE:
            result = _after_failed_attempt(contact, day)
            detail["next_attempt_on"] = result.next_attempt_on.isoformat() if result.next_attempt_on else None
            detail["moved_follow_ups"] = list(result.moved_follow_ups)
            if result.home_visit is not None:
                detail["home_visit_task"] = result.home_visit.pk
        else:
            closed = _close_home_visits(resident.pk)
            result = ContactLogged(contact=contact, closed_tasks=closed)
            if closed:
                detail["closed_tasks"] = list(closed)
        record(
            request=request,
            actor=actor,
            action=Action.CREATE,
            resource_type="care_contact",
            resource_id=contact.pk,
            resident_id=resident.pk,
            detail=detail,
        )
    return result


def _after_failed_attempt(contact: Contact, day: date) -> ContactLogged:
    start, _end = plan.quarter_bounds(*plan.quarter_of(day))
    since = datetime.combine(start, time.min, tzinfo=timezone.get_current_timezone())
    failed = Contact.objects.filter(
        resident_id=contact.resident_id, outcome=ContactOutcome.UNREACHABLE, at__gte=since, at__lte=contact.at
    ).count()
    outcome = rules.after_failed_attempt(failed_this_quarter=failed, today=day)
    due = list(
        FollowUp.objects.select_for_update()
        .filter(resident_id=contact.resident_id, status=FollowUpStatus.SCHEDULED, scheduled_on__lte=day)
        .order_by("id")
    )
    for follow_up in due:
        if follow_up.rescheduled_from is None:
            follow_up.rescheduled_from = follow_up.scheduled_on
        follow_up.scheduled_on = outcome.next_attempt_on
        follow_up.save(update_fields=["scheduled_on", "rescheduled_from"])
    task = None
    if outcome.home_visit:
        already = CareTask.objects.filter(
            resident_id=contact.resident_id, kind=CareTaskKind.HOME_VISIT, status=CareTaskStatus.OPEN
        ).exists()
        if not already:
            doctor, team = signed_team_of(contact.resident)
            task = CareTask.objects.create(
                resident_id=contact.resident_id,
                kind=CareTaskKind.HOME_VISIT,
                reasons=[f"unreachable_{failed}_times"],
                due_on=outcome.next_attempt_on,
                team=team,
                assigned_to=doctor,
                follow_up=due[0] if due else None,
            )
    return ContactLogged(
        contact=contact,
        next_attempt_on=outcome.next_attempt_on,
        moved_follow_ups=tuple(f.pk for f in due),
        home_visit=task,
    )


def _close_home_visits(resident_id: int) -> tuple[int, ...]:
    """Close the resident's open home-visit tasks: the resident has been reached."""
    tasks = CareTask.objects.filter(
        resident_id=resident_id, kind=CareTaskKind.HOME_VISIT, status=CareTaskStatus.OPEN
    )
    closed = tuple(tasks.values_list("id", flat=True))
    if closed:
        CareTask.objects.filter(pk__in=closed).update(status=CareTaskStatus.DONE, closed_at=timezone.now())
    return closed


def quarter_contact_statuses(resident_ids: Iterable[int], year: int, quarter: int) -> dict[int, str]:
    """Each resident's contact status (`plan.ContactStatus`) in a calendar quarter, in one query."""
    start, end = plan.quarter_bounds(year, quarter)
    tz = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    ids = list(resident_ids)
    outcomes: dict[int, list[str]] = {resident_id: [] for resident_id in ids}
    rows = Contact.objects.filter(resident_id__in=ids, at__gte=since, at__lt=until).values_list(
        "resident_id", "outcome"
    )
    for resident_id, outcome in rows:
        outcomes[resident_id].append(outcome)
    # A follow-up done in the quarter is a contact that reached the resident.
    visited = FollowUp.objects.filter(
        resident_id__in=ids, status=FollowUpStatus.DONE, performed_on__range=(start, end)
    ).values_list("resident_id", flat=True)
    for resident_id in visited:
        outcomes[resident_id].append(ContactOutcome.REACHED)
    return {resident_id: plan.quarter_contact_status(found) for resident_id, found in outcomes.items()}


# --- Elderly care year ------------------------------------------------------------------------------------


def do_sync_elderly_year(resident: Resident, year: int) -> ElderlyCareYear:
    """Bring the resident's 65+ care year up to date with their exam forms of that year.

    A part counts as done on the date of the latest form that answers all its items; the year is
    complete only when one form is complete as a whole (`ElderlyExam.is_complete`).
    """
    from jiayi.records import lib

    exams = list(
        ElderlyExam.objects.filter(resident=resident, exam_date__year=year).order_by("exam_date", "id")
    )
    parts: dict[str, date | None] = dict.fromkeys(lib.ELDERLY_EXAM_PARTS)
    linked: ElderlyExam | None = None
    for exam in exams:
        missing = set(lib.elderly_exam_missing(exam.parts))
        for part, items in lib.ELDERLY_EXAM_PARTS.items():
            if not any(f"{part}.{item}" in missing for item in items):
                parts[part] = exam.exam_date
        # Link the latest complete form, else the latest form.
        if linked is None or exam.is_complete or not linked.is_complete:
            linked = exam
    with transaction.atomic():
        care_year, _created = ElderlyCareYear.objects.update_or_create(
            resident=resident,
            year=year,
            defaults={
                "exam": linked,
                "lifestyle_assessed_on": parts["assessment"],
                "physical_exam_on": parts["physical"],
                "tests_on": parts["tests"],
                "guidance_on": parts["guidance"],
                "complete": linked is not None and linked.is_complete,
            },
        )
    return care_year


# --- Tasks ---------------------------------------------------------------------------------------------


def do_close_task(
    actor: Actor, task: CareTask, *, cancelled: bool = False, request: HttpRequest | None = None
) -> CareTask:
    if task.status != CareTaskStatus.OPEN:
        raise CareStateError(f"task #{task.pk} is {task.status}")
    with transaction.atomic():
        task.status = CareTaskStatus.CANCELLED if cancelled else CareTaskStatus.DONE
        task.closed_at = timezone.now()
        task.save(update_fields=["status", "closed_at"])
        record(
            request=request,
            actor=actor,
            action=Action.UPDATE,
            resource_type="care_task",
            resource_id=task.pk,
            resident_id=task.resident_id,
            detail={"status": task.status},
        )
    return task
