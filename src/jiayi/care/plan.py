"""The personal health-management plan (个人健康管理计划) a yearly assessment produces, and the pure
helpers around it: risk factors for the BP stratification, quarters, and contact status.

Pure functions: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from jiayi.care.risk import AssessmentClass

# Operational choices of the plan's due dates, in days from the assessment.
SOON_DAYS: Final = 30
QUARTER_DAYS: Final = 90
HALF_YEAR_DAYS: Final = 182
YEAR_DAYS: Final = 365
OGTT_FROM_SCORE: Final = 25
IMPAIRED_FASTING_GLUCOSE: Final = (6.1, 7.0)  # mmol/L, [6.1, 7.0): 空腹血糖受损
OVERWEIGHT_BMI_FROM: Final = 24.0
ELDERLY_FROM_AGE: Final = 65


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One plan item: kind (follow_up / screening / lifestyle_goal / education_topic), code, text, due."""

    kind: str
    code: str
    text: str
    due_on: date


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What the plan depends on, taken from the assessment."""

    performed_on: date
    age: int
    classification: AssessmentClass
    smoker: bool
    drinks_daily: bool
    exercises_rarely: bool
    salt_heavy: bool
    bmi: float | None
    sbp: float | None
    fasting_glucose_mmol: float | None
    total_cholesterol_mmol: float | None
    diabetes_score: int | None
    china_par_risk: float | None
    has_hypertension: bool
    has_diabetes: bool


def build_plan(inputs: PlanInputs) -> list[PlanEntry]:
    """The plan: a follow-up schedule by class, screenings due, lifestyle goals and education topics.

    Follow-up by class (seed 001's management by population): patient, in the chronic-disease programme
    (its visits are the programme's; the plan keeps a quarterly review); recovering, a visit within a
    month; high risk, a review in 6 months; healthy, the next yearly assessment.
    """
    day = inputs.performed_on

    def due(days: int) -> date:
        return day + timedelta(days=days)

    entries: list[PlanEntry] = []
    follow_up = {
        AssessmentClass.PATIENT: ("follow_up:programme", "慢病规范管理随访（每季度至少一次）", QUARTER_DAYS),
        AssessmentClass.RECOVERING: ("follow_up:recovery", "康复期随访", SOON_DAYS),
        AssessmentClass.HIGH_RISK: ("follow_up:high_risk", "高危人群复查评估", HALF_YEAR_DAYS),
        AssessmentClass.HEALTHY: ("follow_up:yearly", "年度健康评估", YEAR_DAYS),
    }[inputs.classification]
    entries.append(PlanEntry("follow_up", follow_up[0], follow_up[1], due(follow_up[2])))

    if inputs.diabetes_score is not None and inputs.diabetes_score >= OGTT_FROM_SCORE:
        entries.append(PlanEntry("screening", "screening:ogtt", "口服葡萄糖耐量试验（OGTT）", due(SOON_DAYS)))
    glucose = inputs.fasting_glucose_mmol
    if glucose is not None and IMPAIRED_FASTING_GLUCOSE[0] <= glucose < IMPAIRED_FASTING_GLUCOSE[1]:
        entries.append(PlanEntry("screening", "screening:glucose_repeat", "复查空腹血糖", due(QUARTER_DAYS)))
    if glucose is None and not inputs.has_diabetes and inputs.age >= 35:
        entries.append(PlanEntry("screening", "screening:glucose", "空腹血糖检测", due(QUARTER_DAYS)))
    if inputs.sbp is None:
        entries.append(PlanEntry("screening", "screening:bp", "血压测量", due(SOON_DAYS)))
    if inputs.total_cholesterol_mmol is None and inputs.age >= 35:
        entries.append(PlanEntry("screening", "screening:lipids", "血脂检测", due(QUARTER_DAYS)))
    if inputs.china_par_risk is not None and inputs.china_par_risk >= 0.10:
        entries.append(
            PlanEntry("screening", "screening:ascvd", "心血管风险复评（血脂、心电图）", due(QUARTER_DAYS))
        )
    if inputs.age >= ELDERLY_FROM_AGE:
        entries.append(PlanEntry("screening", "screening:elderly_exam", "老年人年度健康体检", due(YEAR_DAYS)))

    if inputs.smoker:
        entries.append(PlanEntry("lifestyle_goal", "goal:quit_smoking", "戒烟", due(QUARTER_DAYS)))
    if inputs.drinks_daily:
        entries.append(PlanEntry("lifestyle_goal", "goal:limit_alcohol", "限制饮酒", due(QUARTER_DAYS)))
    if inputs.exercises_rarely:
        entries.append(
            PlanEntry("lifestyle_goal", "goal:exercise", "每周至少150分钟中等强度运动", due(QUARTER_DAYS))
        )
    if inputs.salt_heavy or inputs.has_hypertension:
        entries.append(PlanEntry("lifestyle_goal", "goal:salt", "每日食盐少于5克", due(QUARTER_DAYS)))
    if inputs.bmi is not None and inputs.bmi >= OVERWEIGHT_BMI_FROM:
        entries.append(PlanEntry("lifestyle_goal", "goal:weight", "半年内体重下降5%", due(HALF_YEAR_DAYS)))

    topics: list[tuple[str, str]] = []
    if inputs.has_hypertension:
        topics.append(("education:hypertension", "高血压自我管理与家庭血压监测"))
    if inputs.has_diabetes:
        topics.append(("education:diabetes", "糖尿病饮食、运动与血糖监测"))
    if inputs.classification is AssessmentClass.HIGH_RISK:
        topics.append(("education:cvd_prevention", "心脑血管疾病预防"))
    if inputs.age >= ELDERLY_FROM_AGE:
        topics.append(("education:falls", "老年人防跌倒"))
    if not topics:
        topics.append(("education:healthy_lifestyle", "合理膳食与健康生活方式"))
    entries.extend(PlanEntry("education_topic", code, text, due(SOON_DAYS)) for code, text in topics)
    return entries


# --- Hypertension risk factors ------------------------------------------------------------------------

DYSLIPIDAEMIA_TC_FROM: Final = 5.2  # mmol/L
LOW_HDL_BELOW: Final = 1.0  # mmol/L
ABDOMINAL_OBESITY_WAIST_FROM: Final = {"male": 90.0, "female": 85.0}
OBESITY_BMI_FROM: Final = 28.0


def hypertension_risk_factor_count(
    *,
    sex: str,
    age: int,
    smoker: bool,
    total_cholesterol_mmol: float | None,
    hdl_mmol: float | None,
    fasting_glucose_mmol: float | None,
    waist_cm: float | None,
    bmi: float | None,
    family_history_ascvd: bool,
) -> int:
    """Other cardiovascular risk factors of the 2018 guideline's stratification, as far as measured.

    Age (men > 55, women > 65); smoking; dyslipidaemia (TC ≥ 5.2 or HDL < 1.0 mmol/L); impaired glucose
    (fasting 6.1–6.9 mmol/L); family history of early cardiovascular disease; abdominal obesity (waist ≥
    90 / 85 cm) or obesity (BMI ≥ 28). A factor not measured is not counted.
    """
    count = 0
    if (sex == "male" and age > 55) or (sex == "female" and age > 65):
        count += 1
    if smoker:
        count += 1
    if (total_cholesterol_mmol is not None and total_cholesterol_mmol >= DYSLIPIDAEMIA_TC_FROM) or (
        hdl_mmol is not None and hdl_mmol < LOW_HDL_BELOW
    ):
        count += 1
    low, high = IMPAIRED_FASTING_GLUCOSE
    if fasting_glucose_mmol is not None and low <= fasting_glucose_mmol < high:
        count += 1
    if family_history_ascvd:
        count += 1
    waist_from = ABDOMINAL_OBESITY_WAIST_FROM.get(sex)
    if (waist_cm is not None and waist_from is not None and waist_cm >= waist_from) or (
        bmi is not None and bmi >= OBESITY_BMI_FROM
    ):
        count += 1
    return count


# --- Quarters and quarterly contact -------------------------------------------------------------------


def quarter_of(day: date) -> tuple[int, int]:
    """(year, quarter 1–4) of a date."""
    return day.year, (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a calendar quarter."""
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter must be between 1 and 4, got {quarter}")
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, end - timedelta(days=1)


class ContactStatus:
    """A signed resident's contact status in a quarter (季度联系情况)."""

    REACHED = "reached"
    TRIED = "tried"  # only unreachable attempts so far
    NONE = "none"


def quarter_contact_status(outcomes: Iterable[str]) -> str:
    """Reached if any contact in the quarter reached the resident, tried if all attempts failed, none
    if nobody tried."""
    seen = False
    for outcome in outcomes:
        if outcome == "reached":
            return ContactStatus.REACHED
        seen = True
    return ContactStatus.TRIED if seen else ContactStatus.NONE
