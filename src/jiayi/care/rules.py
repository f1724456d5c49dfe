"""Follow-up rules for hypertension and type-2 diabetes management (高血压 / 2型糖尿病患者健康管理).

Source: 国家基本公共卫生服务规范（第三版）, National Health and Family Planning Commission, 2017, as
distilled in the project's indicator spec (`indicators.md`). Each face-to-face follow-up (面对面随访) is
classified (此次随访分类), and the class sets the next visit:

- 控制满意 (controlled), no adverse drug reaction, no new or worse complication: routine visit within
  3 months;
- first 控制不满意 (uncontrolled), or an adverse drug reaction: adjust the drugs, visit within 2 weeks;
- 控制不满意 twice in a row, or a new or worse complication: refer (转诊), follow up within 2 weeks.

Emergency referral (紧急转诊) comes before all of that. Where the spec leaves a choice, it is marked
**operational choice**, kept as a parameter or a named constant, and documented here.

Every function is pure: dates come in as parameters and nothing reads the clock.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from jiayi.care.risk import check_blood_pressure, check_range


class FollowUpClass(StrEnum):
    """Classification of one follow-up (此次随访分类)."""

    CONTROLLED = "controlled"
    FIRST_UNCONTROLLED = "first_uncontrolled"
    UNCONTROLLED_TWICE = "uncontrolled_twice"
    ADVERSE_REACTION = "adverse_reaction"
    COMPLICATION = "complication"

    @property
    def label(self) -> str:
        """The Chinese term shown in the Chinese UI."""
        return FOLLOW_UP_LABELS[self]


FOLLOW_UP_LABELS: Final = {
    FollowUpClass.CONTROLLED: "控制满意",
    FollowUpClass.FIRST_UNCONTROLLED: "控制不满意（首次）",
    FollowUpClass.UNCONTROLLED_TWICE: "连续两次控制不满意",
    FollowUpClass.ADVERSE_REACTION: "药物不良反应",
    FollowUpClass.COMPLICATION: "新发或加重的并发症",
}

CONTROLLED_SBP_BELOW: Final = 140  # mmHg
CONTROLLED_DBP_BELOW: Final = 90  # mmHg, the same at every age
# Operational choice (spec): <140/90 is relaxed to <150/90 from the 65th birthday, behind a flag; the
# 2018 hypertension guideline sets <150/90 as the first target at 65 and over.
ELDERLY_CONTROLLED_SBP_BELOW: Final = 150
ELDERLY_FROM_AGE: Final = 65
CONTROLLED_FASTING_GLUCOSE_BELOW: Final = 7.0  # mmol/L
ADULT_AGES: Final = (18, 130)  # adult BP targets; children are judged on percentiles, not these cuts
# Glucose in mmol/L: wide, because a real extreme reading must still reach the emergency rule.
GLUCOSE_RANGE: Final = (0.5, 100)

# Operational choice: "within 3 months" becomes 90 days; "within 2 weeks" is 14 days.
ROUTINE_INTERVAL_DAYS: Final = 90
SHORT_INTERVAL_DAYS: Final = 14

_UNCONTROLLED: Final = frozenset({FollowUpClass.FIRST_UNCONTROLLED, FollowUpClass.UNCONTROLLED_TWICE})
_REFERRED: Final = frozenset({FollowUpClass.UNCONTROLLED_TWICE, FollowUpClass.COMPLICATION})


def _as_class(value: str, name: str) -> FollowUpClass:
    # Accepts the plain string a database column holds, and names the input when it is not a class.
    try:
        return FollowUpClass(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a follow-up class") from None


def _previous(value: str | None) -> FollowUpClass | None:
    return None if value is None else _as_class(value, "previous_classification")


def hypertension_controlled(*, sbp: float, dbp: float, age: int, elderly_target_150: bool = True) -> bool:
    """Whether a reading is 控制满意: SBP < 140 and DBP < 90; from age 65, SBP < 150 if the flag is on."""
    check_blood_pressure(sbp, dbp)
    check_range("age", age, *ADULT_AGES, " years")
    elderly = elderly_target_150 and age >= ELDERLY_FROM_AGE
    sbp_below = ELDERLY_CONTROLLED_SBP_BELOW if elderly else CONTROLLED_SBP_BELOW
    return sbp < sbp_below and dbp < CONTROLLED_DBP_BELOW


def diabetes_controlled(fasting_glucose_mmol: float) -> bool:
    """Whether a fasting glucose is 控制满意: below 7.0 mmol/L."""
    check_range("fasting_glucose_mmol", fasting_glucose_mmol, *GLUCOSE_RANGE, " mmol/L")
    return fasting_glucose_mmol < CONTROLLED_FASTING_GLUCOSE_BELOW


def _classify(
    *,
    controlled: bool,
    previous: FollowUpClass | None,
    adverse_reaction: bool,
    new_or_worse_complication: bool,
) -> FollowUpClass:
    # One class per visit, the one that asks most of the team first. An uncontrolled reading outranks an
    # adverse reaction (both mean a visit in 2 weeks; the reaction has its own field on the form), so
    # the class keeps the control streak: "twice in a row" then needs only the previous class. A
    # previous adverse_reaction therefore means the previous reading was controlled; a previous
    # complication says nothing about control and does not start a streak.
    if new_or_worse_complication:
        return FollowUpClass.COMPLICATION
    if not controlled:
        if previous in _UNCONTROLLED:
            return FollowUpClass.UNCONTROLLED_TWICE
        return FollowUpClass.FIRST_UNCONTROLLED
    if adverse_reaction:
        return FollowUpClass.ADVERSE_REACTION
    return FollowUpClass.CONTROLLED


def classify_hypertension_follow_up(
    *,
    sbp: float,
    dbp: float,
    age: int,
    previous_classification: FollowUpClass | None,
    adverse_reaction: bool,
    new_or_worse_complication: bool,
    elderly_target_150: bool = True,
) -> FollowUpClass:
    """Classify a hypertension follow-up (高血压患者随访分类).

    Controlled is SBP < 140 and DBP < 90 (age ≥ 65 with `elderly_target_150`: SBP < 150 and DBP < 90),
    with `age` in completed years on the visit date (`jiayi.registry.identity.age_on`). A new or worse
    complication gives `complication`; an uncontrolled reading after an uncontrolled one gives
    `uncontrolled_twice`, otherwise `first_uncontrolled`; a controlled reading with an adverse drug
    reaction gives `adverse_reaction`. `previous_classification` is the class of the patient's previous
    follow-up, None for the first.
    """
    return _classify(
        controlled=hypertension_controlled(sbp=sbp, dbp=dbp, age=age, elderly_target_150=elderly_target_150),
        previous=_previous(previous_classification),
        adverse_reaction=adverse_reaction,
        new_or_worse_complication=new_or_worse_complication,
    )


def classify_diabetes_follow_up(
    *,
    fasting_glucose_mmol: float,
    previous_classification: FollowUpClass | None,
    adverse_reaction: bool,
    new_or_worse_complication: bool,
) -> FollowUpClass:
    """Classify a type-2 diabetes follow-up (2型糖尿病患者随访分类): controlled is fasting glucose < 7.0.

    The classes and their precedence are those of `classify_hypertension_follow_up`.
    """
    return _classify(
        controlled=diabetes_controlled(fasting_glucose_mmol),
        previous=_previous(previous_classification),
        adverse_reaction=adverse_reaction,
        new_or_worse_complication=new_or_worse_complication,
    )


def needs_referral(classification: FollowUpClass) -> bool:
    """Whether the class calls for referral to an upper-level hospital (uncontrolled twice, complication)."""
    return _as_class(classification, "classification") in _REFERRED


def next_visit_date(
    classification: FollowUpClass,
    visit_date: date,
    *,
    routine_days: int = ROUTINE_INTERVAL_DAYS,
    short_days: int = SHORT_INTERVAL_DAYS,
) -> date:
    """Date of the next follow-up after one of this class.

    Controlled: routine, within 3 months (`routine_days`, 90 by default, at most 92). Every other class:
    within 2 weeks (`short_days`, 14 by default, at most 14); after a referral this is the visit that
    checks the referral's outcome (2周内主动随访转诊情况).
    """
    check_range("routine_days", routine_days, 1, 92)
    check_range("short_days", short_days, 1, 14)
    if _as_class(classification, "classification") is FollowUpClass.CONTROLLED:
        return visit_date + timedelta(days=routine_days)
    return visit_date + timedelta(days=short_days)


# --- Emergency referral (紧急转诊) ---------------------------------------------------------------------


class DangerSymptom(StrEnum):
    """Danger symptoms of the hypertension spec that call for emergency referral."""

    ALTERED_CONSCIOUSNESS = "altered_consciousness"  # 意识改变
    SEVERE_HEADACHE = "severe_headache"  # 剧烈头痛
    VOMITING = "vomiting"  # 呕吐
    BLURRED_VISION = "blurred_vision"  # 视力模糊
    CHEST_TIGHTNESS = "chest_tightness"  # 胸闷
    PALPITATIONS = "palpitations"  # 心悸
    CANNOT_LIE_FLAT = "cannot_lie_flat"  # 喘憋不能平卧


class EmergencyReason(StrEnum):
    """Why a follow-up calls for emergency referral; danger symptoms are reported as their own codes."""

    SBP_AT_LEAST_180 = "sbp_at_least_180"
    DBP_AT_LEAST_110 = "dbp_at_least_110"
    GLUCOSE_AT_LEAST_16_7 = "glucose_at_least_16_7"
    GLUCOSE_AT_MOST_3_9 = "glucose_at_most_3_9"
    KETOACIDOSIS_SIGNS = "ketoacidosis_signs"
    HEART_RATE_ABOVE_100 = "heart_rate_above_100"
    TEMPERATURE_ABOVE_39 = "temperature_above_39"
    PREGNANT_OR_LACTATING_RAISED_BP = "pregnant_or_lactating_raised_bp"
    PREGNANT_OR_LACTATING = "pregnant_or_lactating"


EMERGENCY_SBP_FROM: Final = 180
EMERGENCY_DBP_FROM: Final = 110
EMERGENCY_GLUCOSE_FROM: Final = 16.7  # mmol/L
EMERGENCY_GLUCOSE_TO: Final = 3.9  # mmol/L
EMERGENCY_HEART_RATE_ABOVE: Final = 100  # beats/min
EMERGENCY_TEMPERATURE_ABOVE: Final = 39.0  # ℃
# Operational choice: "pregnancy or lactation with raised BP" (妊娠期或哺乳期同时血压高于正常) reads
# "raised" as the diagnostic threshold of hypertension, ≥ 140 and/or ≥ 90.
PREGNANCY_RAISED_SBP_FROM: Final = 140
PREGNANCY_RAISED_DBP_FROM: Final = 90


def _bp_emergency(sbp: float, dbp: float) -> list[str]:
    # "SBP ≥ 180 and/or DBP ≥ 110": either alone is enough.
    reasons: list[str] = []
    if sbp >= EMERGENCY_SBP_FROM:
        reasons.append(EmergencyReason.SBP_AT_LEAST_180)
    if dbp >= EMERGENCY_DBP_FROM:
        reasons.append(EmergencyReason.DBP_AT_LEAST_110)
    return reasons


def _danger_symptoms(codes: Iterable[str]) -> list[str]:
    present = set(codes)
    known = {symptom.value for symptom in DangerSymptom}
    unknown = sorted(present - known)
    if unknown:
        raise ValueError(f"danger_symptoms has unknown codes {unknown}; known: {sorted(known)}")
    return [symptom for symptom in DangerSymptom if symptom in present]  # in the spec's order


def hypertension_emergency(
    *, sbp: float, dbp: float, danger_symptoms: frozenset[str], pregnant_or_lactating: bool
) -> list[str]:
    """Reasons for emergency referral at a hypertension follow-up; empty if there are none.

    SBP ≥ 180 and/or DBP ≥ 110; any danger symptom (`DangerSymptom`: altered consciousness, severe
    headache, vomiting, blurred vision, chest tightness, palpitations, inability to lie flat); pregnancy or
    lactation with BP ≥ 140 and/or ≥ 90 (operational choice for "raised"). After an emergency referral
    the team follows up within 2 weeks.
    """
    check_blood_pressure(sbp, dbp)
    reasons = _bp_emergency(sbp, dbp)
    reasons += _danger_symptoms(danger_symptoms)
    raised = sbp >= PREGNANCY_RAISED_SBP_FROM or dbp >= PREGNANCY_RAISED_DBP_FROM
    if pregnant_or_lactating and raised:
        reasons.append(EmergencyReason.PREGNANT_OR_LACTATING_RAISED_BP)
    return reasons


def diabetes_emergency(
    *,
    glucose_mmol: float | None,
    sbp: float | None,
    dbp: float | None,
    heart_rate: int | None,
    temperature_c: float | None,
    ketoacidosis_signs: bool,
    pregnant_or_lactating: bool,
) -> list[str]:
    """Reasons for emergency referral at a type-2 diabetes follow-up; empty if there are none.

    Glucose (fasting or random) ≥ 16.7 or ≤ 3.9 mmol/L; SBP ≥ 180 and/or DBP ≥ 110; signs of ketoacidosis
    (altered consciousness or behaviour, acetone breath, deep breathing, vomiting, abdominal pain…, judged
    by the clinician); persistent heart rate > 100/min (pass the rate after rest or a repeat, a single
    reading cannot show persistence); temperature > 39 ℃; pregnancy or lactation, which the spec lists
    without a further condition. A measurement not taken is None and triggers nothing.
    """
    reasons: list[str] = []
    if glucose_mmol is not None:
        check_range("glucose_mmol", glucose_mmol, *GLUCOSE_RANGE, " mmol/L")
        if glucose_mmol >= EMERGENCY_GLUCOSE_FROM:
            reasons.append(EmergencyReason.GLUCOSE_AT_LEAST_16_7)
        if glucose_mmol <= EMERGENCY_GLUCOSE_TO:
            reasons.append(EmergencyReason.GLUCOSE_AT_MOST_3_9)
    if sbp is not None and dbp is not None:
        check_blood_pressure(sbp, dbp)
        reasons += _bp_emergency(sbp, dbp)
    elif sbp is not None or dbp is not None:
        raise ValueError("sbp and dbp must be given together")
    if ketoacidosis_signs:
        reasons.append(EmergencyReason.KETOACIDOSIS_SIGNS)
    if heart_rate is not None:
        check_range("heart_rate", heart_rate, 20, 300, " beats/min")
        if heart_rate > EMERGENCY_HEART_RATE_ABOVE:
            reasons.append(EmergencyReason.HEART_RATE_ABOVE_100)
    if temperature_c is not None:
        check_range("temperature_c", temperature_c, 30, 45, " ℃")
        if temperature_c > EMERGENCY_TEMPERATURE_ABOVE:
            reasons.append(EmergencyReason.TEMPERATURE_ABOVE_39)
    if pregnant_or_lactating:
        reasons.append(EmergencyReason.PREGNANT_OR_LACTATING)
    return reasons


# --- Managed to spec (规范管理) -----------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def full_quarters_under_management(management_start: date, period_start: date, period_end: date) -> int:
    """Number of whole 3-month spans under management inside the period, both ends inclusive.

    Operational choice: the spans run from the later of `management_start` and `period_start` (each
    boundary counted from that date, month ends clamped), so any full year holds 4, a calendar year to
    the end of June holds 2, and a patient enrolled on 15 February holds 3 by 31 December. A management
    that ended in the period (death, moving away) is passed as an earlier `period_end`.
    """
    if period_end < period_start:
        raise ValueError(
            f"period_end {period_end.isoformat()} is before period_start {period_start.isoformat()}"
        )
    start = max(management_start, period_start)
    quarters = 0
    while _add_months(start, 3 * (quarters + 1)) - timedelta(days=1) <= period_end:
        quarters += 1
    return quarters


def managed_to_spec(
    follow_up_dates_with_bp: Sequence[date], management_start: date, period_start: date, period_end: date
) -> bool:
    """Whether a patient was managed to spec (规范管理) in the period.

    Operational choice (spec): the follow-ups in the period number at least the full quarters under
    management in the period (`full_quarters_under_management`; 4 for a full year). Pass only the dates of
    face-to-face follow-ups that recorded BP (for diabetes, fasting glucose). Dates before management
    started or outside the period do not count; two follow-ups on one day count once.

    A patient with no full quarter in the period needs no follow-up and is managed to spec; whether such
    patients belong in the rate's denominator is the indicator's decision (Simple leaves out patients
    registered less than 3 months before the period ends).
    """
    required = full_quarters_under_management(management_start, period_start, period_end)
    start = max(management_start, period_start)
    done = len({day for day in follow_up_dates_with_bp if start <= day <= period_end})
    return done >= required


# --- Overdue patients ---------------------------------------------------------------------------------

HIGH_RISK_OVERDUE_AFTER_DAYS: Final = 30


def overdue_days(scheduled: date, today: date) -> int:
    """Days since a scheduled follow-up passed without a visit; 0 when it is not yet due."""
    return max(0, (today - scheduled).days)


def high_risk_overdue(
    *, days_overdue: int, last_sbp: float | None, last_dbp: float | None, prior_stroke_or_mi: bool
) -> bool:
    """Whether an overdue patient is high risk and should be called first (Simple's rule, adapted).

    Overdue more than 30 days, and the last BP ≥ 180 and/or ≥ 110, or a prior stroke or myocardial
    infarction with the last BP ≥ 140 and/or ≥ 90. A patient with no BP on record is not high risk by this
    rule (the overdue list shows them anyway).
    """
    check_range("days_overdue", days_overdue, 0, 36_500, " days")
    if (last_sbp is None) != (last_dbp is None):
        raise ValueError("last_sbp and last_dbp must be given together")
    if last_sbp is None or last_dbp is None:
        return False
    check_blood_pressure(last_sbp, last_dbp, names=("last_sbp", "last_dbp"))
    if days_overdue <= HIGH_RISK_OVERDUE_AFTER_DAYS:
        return False
    if last_sbp >= EMERGENCY_SBP_FROM or last_dbp >= EMERGENCY_DBP_FROM:
        return True
    raised = last_sbp >= CONTROLLED_SBP_BELOW or last_dbp >= CONTROLLED_DBP_BELOW
    return prior_stroke_or_mi and raised


# --- Failed attempts to reach a resident --------------------------------------------------------------

# The national spec asks for every managed patient to be followed up each quarter (at least four
# face-to-face follow-ups a year) and every signed resident to be contacted each quarter; it does not
# number the attempts. Operational choice: a failed attempt (电话/微信未联系上) is recorded, the resident
# is tried again after 3 days, and from the third failed attempt in a quarter the team is asked to visit
# the home (上门随访) instead of calling again.
RETRY_AFTER_DAYS: Final = 3
HOME_VISIT_AFTER_FAILED_ATTEMPTS: Final = 3


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """What follows a failed attempt to reach a resident."""

    next_attempt_on: date
    home_visit: bool


def after_failed_attempt(*, failed_this_quarter: int, today: date) -> FailedAttempt:
    """The next attempt's date and whether to ask for a home visit, after `failed_this_quarter` failed
    attempts (this one included) in the current calendar quarter."""
    check_range("failed_this_quarter", failed_this_quarter, 1, 1_000)
    return FailedAttempt(
        next_attempt_on=today + timedelta(days=RETRY_AFTER_DAYS),
        home_visit=failed_this_quarter >= HOME_VISIT_AFTER_FAILED_ATTEMPTS,
    )
