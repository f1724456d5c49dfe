"""Risk scores of the yearly health assessment (健康评估) and the assessment class they lead to.

Sources, as distilled in the project's indicator spec (`indicators.md`, "Risk scores for the yearly
assessment"):

- China-PAR 10-year ASCVD risk (动脉粥样硬化性心血管疾病): Yang X et al., "Predicting the 10-Year Risks of
  Atherosclerotic Cardiovascular Disease in Chinese Population: The China-PAR Project", Circulation
  2016;134:1430–40, supplemental coefficient tables.
- Chinese Diabetes Risk Score (中国糖尿病风险评分表), 中国2型糖尿病防治指南 (Chinese Diabetes Society).
- Cardiovascular risk stratification of raised blood pressure (血压升高患者心血管风险水平分层),
  中国高血压防治指南 2018年修订版.
- The assessment classes (healthy / high risk / patient / recovering) of the district's seed document 001.

Every function is pure: no clock, no database. Impossible or out-of-range inputs raise `ValueError` with a
message naming the input, because a silently wrong risk is worse than a visible refusal.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

Sex = Literal["male", "female"]
SEXES: Final = ("male", "female")

# Plausible physiological ranges. They catch unit mistakes (mg/dL typed as mmol/L, a swapped SBP/DBP)
# as much as typing errors; they are wider than anything a living patient shows.
SBP_RANGE: Final = (50, 300)  # mmHg
DBP_RANGE: Final = (20, 200)  # mmHg


def check_range(name: str, value: float, low: float, high: float, unit: str = "") -> None:
    """Raise `ValueError` naming `name` unless `low <= value <= high` (NaN and booleans are refused)."""
    # numbers.Real, not int | float, so numpy scalars from a data frame pass; a bool is an int but no
    # measurement.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:  # also true for NaN, which compares false with everything
        raise ValueError(f"{name} must be between {low} and {high}{unit}, got {value}")


def check_sex(sex: str) -> None:
    """Raise `ValueError` unless `sex` is "male" or "female": every score here has sex-specific terms."""
    if sex not in SEXES:
        raise ValueError(f"sex must be 'male' or 'female', got {sex!r}")


def check_blood_pressure(sbp: float, dbp: float, *, names: tuple[str, str] = ("sbp", "dbp")) -> None:
    """Raise `ValueError` for an implausible reading or a diastolic not below the systolic (swapped entry).

    `names` are the caller's parameter names, used in the message.
    """
    sbp_name, dbp_name = names
    check_range(sbp_name, sbp, *SBP_RANGE, " mmHg")
    check_range(dbp_name, dbp, *DBP_RANGE, " mmHg")
    if dbp >= sbp:
        raise ValueError(f"{dbp_name} must be lower than {sbp_name}, got {sbp}/{dbp} mmHg (swapped?)")


# --- China-PAR ---------------------------------------------------------------------------------------

CHINA_PAR_AGES: Final = (35, 74)
MG_DL_PER_MMOL_DIVISOR: Final = 0.0259  # cholesterol: mmol/L ÷ 0.0259 = mg/dL, as in the paper's supplement


@dataclass(frozen=True, slots=True)
class ChinaParCoefficients:
    """One sex's China-PAR equation: Σ βᵢxᵢ with continuous inputs as natural logs, its mean and S10."""

    ln_age: float
    ln_sbp_treated: float
    ln_sbp_untreated: float
    ln_total_cholesterol: float
    ln_hdl: float
    ln_waist: float
    smoker: float
    diabetes: float
    north: float
    urban: float
    family_history: float
    ln_age_x_ln_sbp_treated: float
    ln_age_x_ln_sbp_untreated: float
    ln_age_x_smoker: float
    ln_age_x_family_history: float
    mean: float
    baseline_survival_10y: float


CHINA_PAR_MEN: Final = ChinaParCoefficients(
    ln_age=31.96604,
    ln_sbp_treated=27.39,
    ln_sbp_untreated=26.14876,
    ln_total_cholesterol=0.6209,
    ln_hdl=-0.69373,
    ln_waist=-0.712,
    smoker=3.96,
    diabetes=0.36,
    north=0.48,
    urban=-0.16,
    family_history=6.22,
    ln_age_x_ln_sbp_treated=-6.02,
    ln_age_x_ln_sbp_untreated=-5.73074,
    ln_age_x_smoker=-0.94,
    ln_age_x_family_history=-1.53,
    mean=140.68,
    baseline_survival_10y=0.9707,
)

# The women's table has no urban term, no family-history term and no age interactions with smoking or
# family history: those inputs are accepted for one calling convention and contribute nothing. S10 is
# 0.9851 because the printed 0.99 is a rounding of it (spec); using 0.99 would cut every woman's risk by
# about a third.
CHINA_PAR_WOMEN: Final = ChinaParCoefficients(
    ln_age=24.87,
    ln_sbp_treated=20.71,
    ln_sbp_untreated=19.98,
    ln_total_cholesterol=0.06,
    ln_hdl=-0.22,
    ln_waist=1.48,
    smoker=0.49,
    diabetes=0.57,
    north=0.54,
    urban=0.0,
    family_history=0.0,
    ln_age_x_ln_sbp_treated=-4.53,
    ln_age_x_ln_sbp_untreated=-4.36,
    ln_age_x_smoker=0.0,
    ln_age_x_family_history=0.0,
    mean=117.26,
    baseline_survival_10y=0.9851,
)


def _never_protective(main: float, interaction: float) -> float:
    """The age interaction of a risk factor, capped so that main + interaction stays ≥ 0.

    With the men's coefficients the smoking effect 3.96 − 0.94·ln age turns negative from age 67.5 and the
    family-history effect 6.22 − 1.53·ln age from age 58.3: read literally, the equation would tell a
    70-year-old smoker that smoking lowers his risk. A current smoker or a resident with a family history
    is therefore never scored below the same resident without the factor (the factor's hazard ratio is
    floored at 1). Below those ages the equation is used unchanged.
    """
    return max(interaction, -main)


def china_par_terms(
    *,
    sex: Sex,
    age: int,
    sbp: float,
    on_bp_treatment: bool,
    total_cholesterol_mmol: float,
    hdl_mmol: float,
    waist_cm: float,
    smoker: bool,
    diabetes: bool,
    north: bool,
    urban: bool,
    family_history_ascvd: bool,
) -> tuple[tuple[str, float], ...]:
    """The named terms βᵢxᵢ of the China-PAR sum, in the order of the coefficient table.

    Exposed so the assessment page can show which factors weigh most; `china_par` sums them.
    Arguments and validation as for `china_par`.
    """
    check_sex(sex)
    check_range("age", age, *CHINA_PAR_AGES, " years (China-PAR was derived at 35–74)")
    check_range("sbp", sbp, *SBP_RANGE, " mmHg")
    check_range("total_cholesterol_mmol", total_cholesterol_mmol, 0.5, 25, " mmol/L")
    check_range("hdl_mmol", hdl_mmol, 0.1, 10, " mmol/L")
    check_range("waist_cm", waist_cm, 40, 250, " cm")
    c = CHINA_PAR_MEN if sex == "male" else CHINA_PAR_WOMEN
    ln_age = math.log(age)
    ln_sbp = math.log(sbp)
    # "Treated" means antihypertensive drugs taken in the last two weeks (paper's definition): the
    # treated and untreated SBP slopes differ, as in the US pooled cohort equations.
    if on_bp_treatment:
        b_sbp, b_age_sbp = c.ln_sbp_treated, c.ln_age_x_ln_sbp_treated
    else:
        b_sbp, b_age_sbp = c.ln_sbp_untreated, c.ln_age_x_ln_sbp_untreated
    return (
        ("ln_age", c.ln_age * ln_age),
        ("ln_sbp", b_sbp * ln_sbp),
        (
            "ln_total_cholesterol",
            c.ln_total_cholesterol * math.log(total_cholesterol_mmol / MG_DL_PER_MMOL_DIVISOR),
        ),
        ("ln_hdl", c.ln_hdl * math.log(hdl_mmol / MG_DL_PER_MMOL_DIVISOR)),
        ("ln_waist", c.ln_waist * math.log(waist_cm)),
        ("smoker", c.smoker * smoker),
        ("diabetes", c.diabetes * diabetes),
        ("north", c.north * north),
        ("urban", c.urban * urban),
        ("family_history", c.family_history * family_history_ascvd),
        ("ln_age_x_ln_sbp", b_age_sbp * ln_age * ln_sbp),
        ("ln_age_x_smoker", _never_protective(c.smoker, c.ln_age_x_smoker * ln_age) * smoker),
        (
            "ln_age_x_family_history",
            _never_protective(c.family_history, c.ln_age_x_family_history * ln_age) * family_history_ascvd,
        ),
    )


def china_par(
    *,
    sex: Sex,
    age: int,
    sbp: float,
    on_bp_treatment: bool,
    total_cholesterol_mmol: float,
    hdl_mmol: float,
    waist_cm: float,
    smoker: bool,
    diabetes: bool,
    north: bool,
    urban: bool,
    family_history_ascvd: bool,
) -> float:
    """10-year risk of a first ASCVD event as a fraction: 1 − S10^exp(Σβx − mean).

    The fraction lies in (0, 1); only at accepted but physiologically extreme corners (a treated male
    smoker under 40 with SBP near 300 and HDL near 0.1 mmol/L) does it round to 1.0 in double precision.

    China-PAR (Yang X et al., Circulation 2016;134:1430–40). Age 35–74 in completed years; SBP in mmHg;
    total and HDL cholesterol in mmol/L (converted to mg/dL by ÷ 0.0259, the unit of the coefficients);
    waist in cm. `north`: residence north of the Yangtze (Shanghai is south, so False); `urban`: True
    unless the residence is rural; `family_history_ascvd`: premature ASCVD in a parent or sibling.

    Men's equation has urban and family-history terms and age interactions with smoking and family
    history; the women's table has none of these, so for women `urban` and `family_history_ascvd` are
    accepted and ignored. The men's age interactions are floored so that smoking and family history never
    lower the risk (see `_never_protective`): from age 68 for smoking and 59 for family history this
    departs from the equation read literally, on purpose.

    Raises `ValueError` naming the input for an unknown sex, an age outside 35–74, SBP outside 50–300,
    cholesterol outside 0.5–25 or HDL outside 0.1–10 mmol/L (so mg/dL typed as mmol/L is refused), or a
    waist outside 40–250 cm.
    """
    terms = china_par_terms(
        sex=sex,
        age=age,
        sbp=sbp,
        on_bp_treatment=on_bp_treatment,
        total_cholesterol_mmol=total_cholesterol_mmol,
        hdl_mmol=hdl_mmol,
        waist_cm=waist_cm,
        smoker=smoker,
        diabetes=diabetes,
        north=north,
        urban=urban,
        family_history_ascvd=family_history_ascvd,
    )
    c = CHINA_PAR_MEN if sex == "male" else CHINA_PAR_WOMEN
    linear = math.fsum(value for _, value in terms)
    # 1 − S^e written as −expm1(e·ln S): the same number, without losing the digits of a small risk.
    return -math.expm1(math.exp(linear - c.mean) * math.log(c.baseline_survival_10y))


class ChinaParCategory(StrEnum):
    """China-PAR risk bands (低危 / 中危 / 高危)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


CHINA_PAR_MEDIUM_FROM: Final = 0.05
CHINA_PAR_HIGH_FROM: Final = 0.10


def china_par_category(risk: float) -> ChinaParCategory:
    """Band of a China-PAR risk fraction: < 5 % low, 5–9.9 % medium, ≥ 10 % high.

    Judged on the unrounded fraction: 0.0996 is medium even though it displays as "10.0 %".
    """
    check_range("risk", risk, 0, 1)
    if risk < CHINA_PAR_MEDIUM_FROM:
        return ChinaParCategory.LOW
    if risk < CHINA_PAR_HIGH_FROM:
        return ChinaParCategory.MEDIUM
    return ChinaParCategory.HIGH


# --- Chinese Diabetes Risk Score ---------------------------------------------------------------------

CDRS_AGES: Final = (20, 74)
# Bands as (lower bound, points); a value scores the last band whose lower bound it reaches, so the
# printed "22–23.9" is read as [22, 24). Round a measured BMI or waist to the printed one decimal first
# if the form shows one decimal.
CDRS_AGE_BANDS: Final = (
    (20, 0),
    (25, 4),
    (35, 8),
    (40, 11),
    (45, 12),
    (50, 13),
    (55, 15),
    (60, 16),
    (65, 18),
)
CDRS_SBP_BANDS: Final = ((0, 0), (110, 1), (120, 3), (130, 6), (140, 7), (150, 8), (160, 10))
CDRS_BMI_BANDS: Final = ((0.0, 0), (22.0, 1), (24.0, 3), (30.0, 5))
CDRS_WAIST_BANDS: Final = {
    "male": ((0.0, 0), (75.0, 3), (80.0, 5), (85.0, 7), (90.0, 8), (95.0, 10)),
    "female": ((0.0, 0), (70.0, 3), (75.0, 5), (80.0, 7), (85.0, 8), (90.0, 10)),
}
CDRS_FAMILY_HISTORY_POINTS: Final = 6
CDRS_MALE_POINTS: Final = 2
CDRS_MAX: Final = 51  # 18 age + 10 SBP + 5 BMI + 10 waist + 6 family history + 2 male
CDRS_OGTT_FROM: Final = 25


def _band_points(value: float, bands: Sequence[tuple[float, int]]) -> int:
    points = bands[0][1]
    for lower, band_points in bands:
        if value < lower:
            break
        points = band_points
    return points


def diabetes_risk_score(
    *, sex: Sex, age: int, sbp: float, bmi: float, waist_cm: float, family_history_diabetes: bool
) -> int:
    """Chinese Diabetes Risk Score (中国糖尿病风险评分), 0–51, for adults aged 20–74.

    Points (中国2型糖尿病防治指南): age 20–24 0, 25–34 4, 35–39 8, 40–44 11, 45–49 12, 50–54 13,
    55–59 15, 60–64 16, 65–74 18; SBP <110 0, 110–119 1, 120–129 3, 130–139 6, 140–149 7, 150–159 8,
    ≥160 10; BMI <22 0, 22–23.9 1, 24–29.9 3, ≥30 5; waist (men / women) <75/<70 0, 75–79.9/70–74.9 3,
    80–84.9/75–79.9 5, 85–89.9/80–84.9 7, 90–94.9/85–89.9 8, ≥95/≥90 10; diabetes in a parent or
    sibling 6; male 2. A total ≥ 25 calls for an OGTT (`needs_ogtt`).
    """
    check_sex(sex)
    check_range("age", age, *CDRS_AGES, " years (the score was derived at 20–74)")
    check_range("sbp", sbp, *SBP_RANGE, " mmHg")
    check_range("bmi", bmi, 10, 80, " kg/m²")
    check_range("waist_cm", waist_cm, 40, 250, " cm")
    return (
        _band_points(age, CDRS_AGE_BANDS)
        + _band_points(sbp, CDRS_SBP_BANDS)
        + _band_points(bmi, CDRS_BMI_BANDS)
        + _band_points(waist_cm, CDRS_WAIST_BANDS[sex])
        + (CDRS_FAMILY_HISTORY_POINTS if family_history_diabetes else 0)
        + (CDRS_MALE_POINTS if sex == "male" else 0)
    )


def needs_ogtt(score: int) -> bool:
    """Whether a diabetes risk score calls for an oral glucose tolerance test (OGTT): score ≥ 25."""
    check_range("score", score, 0, CDRS_MAX)
    return score >= CDRS_OGTT_FROM


# --- Hypertension risk stratification ----------------------------------------------------------------


class HypertensionRiskStratum(StrEnum):
    """Cells of the 2018 guideline's stratification table (心血管风险水平).

    `medium_high` is the table's 中/高危 and `high_very_high` its 高/很高危: cells the guideline leaves
    between two levels for the clinician to settle. `not_stratified` is the table's "–" cell and any
    reading below 130/85, where the table does not apply.
    """

    NOT_STRATIFIED = "not_stratified"
    LOW = "low"
    MEDIUM = "medium"
    MEDIUM_HIGH = "medium_high"
    HIGH = "high"
    HIGH_VERY_HIGH = "high_very_high"
    VERY_HIGH = "very_high"


_S = HypertensionRiskStratum
# Rows: other risk factors and disease history; columns: SBP 130–139 and/or DBP 85–89, grade 1, 2, 3.
HYPERTENSION_STRATA: Final = (
    (_S.NOT_STRATIFIED, _S.LOW, _S.MEDIUM, _S.HIGH),  # none
    (_S.LOW, _S.MEDIUM, _S.MEDIUM_HIGH, _S.VERY_HIGH),  # 1–2 other risk factors
    (_S.MEDIUM_HIGH, _S.HIGH, _S.HIGH, _S.VERY_HIGH),  # ≥3 factors, organ damage, CKD 3, plain diabetes
    (_S.HIGH_VERY_HIGH, _S.VERY_HIGH, _S.VERY_HIGH, _S.VERY_HIGH),  # complications, CKD ≥4, complicated DM
)
# Lower bounds of the columns; a reading takes the higher of its SBP and DBP columns ("和/或").
_SBP_COLUMNS: Final = (130, 140, 160, 180)
_DBP_COLUMNS: Final = (85, 90, 100, 110)


def _bp_column(value: float, bounds: Sequence[int]) -> int:
    """Index of the column a value falls in, −1 below the table."""
    return sum(1 for bound in bounds if value >= bound) - 1


def hypertension_risk_stratum(
    *,
    sbp: float,
    dbp: float,
    risk_factor_count: int,
    target_organ_damage: bool,
    ckd_stage: int | None,
    diabetes: bool,
    diabetes_complicated: bool,
    clinical_complications: bool,
) -> HypertensionRiskStratum:
    """Cardiovascular risk stratum of raised BP (中国高血压防治指南 2018, 血压升高患者心血管风险水平分层).

    Columns: 130–139/85–89 (正常高值), grade 1 (140–159/90–99), grade 2 (160–179/100–109), grade 3
    (≥180/≥110); a reading takes the higher column of its SBP and DBP. Rows, from the worst that applies:
    clinical complications, CKD stage ≥ 4 or diabetes with complications; ≥ 3 other risk factors, target
    organ damage, CKD stage 3 or diabetes without complications; 1–2 other risk factors; none.

    Cells as given in the spec (which records them from the guideline and asks for verification):
    none: –, low, medium, high; 1–2: low, medium, medium-high, very high; ≥3…: medium-high, high, high,
    very high; complications…: high-very high, very high, very high, very high.

    Stratify on the reading that established the diagnosis (untreated), not a controlled reading on
    drugs. `ckd_stage` is None without chronic kidney disease; stages 1–2 do not move the row.
    """
    check_blood_pressure(sbp, dbp)
    check_range("risk_factor_count", risk_factor_count, 0, 20)
    if ckd_stage is not None:
        check_range("ckd_stage", ckd_stage, 1, 5)
    if diabetes_complicated and not diabetes:
        raise ValueError("diabetes_complicated is set but diabetes is not")
    column = max(_bp_column(sbp, _SBP_COLUMNS), _bp_column(dbp, _DBP_COLUMNS))
    if column < 0:
        return HypertensionRiskStratum.NOT_STRATIFIED
    ckd = ckd_stage or 0
    if clinical_complications or ckd >= 4 or diabetes_complicated:
        row = 3
    elif risk_factor_count >= 3 or target_organ_damage or ckd == 3 or diabetes:
        row = 2
    elif risk_factor_count >= 1:
        row = 1
    else:
        row = 0
    return HYPERTENSION_STRATA[row][column]


# --- Assessment class ---------------------------------------------------------------------------------


class AssessmentClass(StrEnum):
    """Outcome of the yearly health assessment (seed 001): which management plan a resident gets."""

    HEALTHY = "healthy"
    HIGH_RISK = "high_risk"
    PATIENT = "patient"
    RECOVERING = "recovering"


HIGH_HYPERTENSION_STRATA: Final = frozenset(
    {HypertensionRiskStratum.HIGH, HypertensionRiskStratum.HIGH_VERY_HIGH, HypertensionRiskStratum.VERY_HIGH}
)


def _stratum(value: str) -> HypertensionRiskStratum:
    # Accepts the plain string a database column holds, and names the input when it is not a stratum.
    try:
        return HypertensionRiskStratum(value)
    except ValueError:
        raise ValueError(f"hypertension_stratum {value!r} is not a stratum") from None


def assessment_class(
    *,
    chronic_disease_under_management: bool,
    discharged_or_in_rehab: bool,
    china_par_risk: float | None = None,
    diabetes_score: int | None = None,
    hypertension_stratum: HypertensionRiskStratum | None = None,
    screening_positive: bool = False,
) -> AssessmentClass:
    """Class of a resident after the yearly assessment (健康人群 / 高危人群 / 患病人群 / 康复人群).

    Seed 001, in its order, the first that applies: **patient** (a diagnosed chronic disease under
    management); **recovering** (discharged, or in rehabilitation, within the period); **high risk** (any
    score in its high band, or a positive screening); **healthy** otherwise. The high bands are: China-PAR
    ≥ 10 %, a diabetes risk score ≥ 25 (the OGTT threshold, the score's only cut), and a hypertension
    stratum of high, high-very high or very high. A score left as None was not assessed (for instance
    China-PAR below 35) and counts as not high.
    """
    # Checked here so that a bad score is refused under its own name, whatever the class turns out to be.
    if china_par_risk is not None:
        check_range("china_par_risk", china_par_risk, 0, 1, " (a fraction, not a percentage)")
    if diabetes_score is not None:
        check_range("diabetes_score", diabetes_score, 0, CDRS_MAX)
    stratum = None if hypertension_stratum is None else _stratum(hypertension_stratum)
    if chronic_disease_under_management:
        return AssessmentClass.PATIENT
    if discharged_or_in_rehab:
        return AssessmentClass.RECOVERING
    if china_par_risk is not None and china_par_category(china_par_risk) is ChinaParCategory.HIGH:
        return AssessmentClass.HIGH_RISK
    if diabetes_score is not None and needs_ogtt(diabetes_score):
        return AssessmentClass.HIGH_RISK
    if stratum in HIGH_HYPERTENSION_STRATA:
        return AssessmentClass.HIGH_RISK
    if screening_positive:
        return AssessmentClass.HIGH_RISK
    return AssessmentClass.HEALTHY
