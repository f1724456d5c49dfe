"""Risk scores of the yearly assessment: China-PAR, the Chinese Diabetes Risk Score, the 2018 hypertension
stratification table and the assessment class."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiayi.care.risk import (
    CDRS_MAX,
    AssessmentClass,
    ChinaParCategory,
    HypertensionRiskStratum,
    assessment_class,
    china_par,
    china_par_category,
    china_par_terms,
    diabetes_risk_score,
    hypertension_risk_stratum,
    needs_ogtt,
)

# --- China-PAR ---------------------------------------------------------------------------------------


def par(**overrides: Any) -> float:
    """China-PAR for a 55-year-old southern urban man, non-smoker, changed by `overrides`."""
    person: dict[str, Any] = {
        "sex": "male",
        "age": 55,
        "sbp": 130,
        "on_bp_treatment": False,
        "total_cholesterol_mmol": 5.0,
        "hdl_mmol": 1.3,
        "waist_cm": 85,
        "smoker": False,
        "diabetes": False,
        "north": False,
        "urban": True,
        "family_history_ascvd": False,
    }
    person.update(overrides)
    return china_par(**person)


# The published paper's own worked example could not be checked here, so these two cases are computed by
# hand from the coefficient table: each term is βx with x = ln of the measurement (cholesterol first
# converted to mg/dL by ÷ 0.0259), the terms are summed, and risk = 1 − S10^exp(sum − mean).
#
# Man, 55, SBP 145 untreated, TC 5.2 mmol/L (200.772 mg/dL), HDL 1.1 mmol/L (42.471 mg/dL), waist 90 cm,
# smoker, no diabetes, south, urban, no family history.
#   ln 55 = 4.00733319; ln 145 = 4.97673374; ln 200.772 = 5.30217094; ln 42.471 = 3.74882249;
#   ln 90 = 4.49980967
#   ln age           31.96604 × 4.00733319                =  128.09857289
#   ln SBP untreated 26.14876 × 4.97673374                =  130.13541621
#   ln TC             0.6209  × 5.30217094                =    3.29211793
#   ln HDL           −0.69373 × 3.74882249                =   −2.60067063
#   ln waist         −0.712   × 4.49980967                =   −3.20386449
#   smoker            3.96    × 1                         =    3.96
#   urban            −0.16    × 1                         =   −0.16
#   ln age × ln SBP  −5.73074 × 4.00733319 × 4.97673374   = −114.29061364
#   ln age × smoker  −0.94    × 4.00733319                =   −3.76689319
#   sum = 141.46406509; sum − mean 140.68 = 0.78406509; exp(0.78406509) = 2.19035820
#   S10 0.9707: 0.9707^2.19035820 = exp(2.19035820 × −0.02973782) = exp(−0.06513647) = 0.93693959
#   risk = 1 − 0.93693959 = 0.06306041 → medium
MAN_TERMS = {
    "ln_age": 128.09857289,
    "ln_sbp": 130.13541621,
    "ln_total_cholesterol": 3.29211793,
    "ln_hdl": -2.60067063,
    "ln_waist": -3.20386449,
    "smoker": 3.96,
    "urban": -0.16,
    "ln_age_x_ln_sbp": -114.29061364,
    "ln_age_x_smoker": -3.76689319,
}
MAN_SUM = 141.46406509
MAN_RISK = 0.06306041

# Woman, 60, SBP 150 on antihypertensives, TC 5.6 mmol/L (216.216 mg/dL), HDL 1.3 mmol/L (50.193 mg/dL),
# waist 82 cm, non-smoker, diabetes, south, urban (no urban term for women).
#   ln 60 = 4.09434456; ln 150 = 5.01063529; ln 216.216 = 5.37627891; ln 50.193 = 3.91587657;
#   ln 82 = 4.40671925
#   ln age           24.87 × 4.09434456              =  101.82634926
#   ln SBP treated   20.71 × 5.01063529              =  103.77025694
#   ln TC             0.06 × 5.37627891              =    0.32257673
#   ln HDL           −0.22 × 3.91587657              =   −0.86149285
#   ln waist          1.48 × 4.40671925              =    6.52194449
#   diabetes          0.57 × 1                       =    0.57
#   ln age × ln SBP  −4.53 × 4.09434456 × 5.01063529 =  −92.93416118
#   sum = 119.21547339; sum − mean 117.26 = 1.95547339; exp(1.95547339) = 7.06726382
#   S10 0.9851: 0.9851^7.06726382 = exp(7.06726382 × −0.01501212) = exp(−0.10609461) = 0.89933955
#   risk = 1 − 0.89933955 = 0.10066045 → high
WOMAN_TERMS = {
    "ln_age": 101.82634926,
    "ln_sbp": 103.77025694,
    "ln_total_cholesterol": 0.32257673,
    "ln_hdl": -0.86149285,
    "ln_waist": 6.52194449,
    "diabetes": 0.57,
    "ln_age_x_ln_sbp": -92.93416118,
}
WOMAN_SUM = 119.21547339
WOMAN_RISK = 0.10066045

MAN: dict[str, Any] = {
    "sex": "male",
    "age": 55,
    "sbp": 145,
    "on_bp_treatment": False,
    "total_cholesterol_mmol": 5.2,
    "hdl_mmol": 1.1,
    "waist_cm": 90,
    "smoker": True,
    "diabetes": False,
    "north": False,
    "urban": True,
    "family_history_ascvd": False,
}
WOMAN: dict[str, Any] = {
    "sex": "female",
    "age": 60,
    "sbp": 150,
    "on_bp_treatment": True,
    "total_cholesterol_mmol": 5.6,
    "hdl_mmol": 1.3,
    "waist_cm": 82,
    "smoker": False,
    "diabetes": True,
    "north": False,
    "urban": True,
    "family_history_ascvd": False,
}


@pytest.mark.parametrize(
    ("person", "terms", "total", "risk", "category"),
    [
        (MAN, MAN_TERMS, MAN_SUM, MAN_RISK, ChinaParCategory.MEDIUM),
        (WOMAN, WOMAN_TERMS, WOMAN_SUM, WOMAN_RISK, ChinaParCategory.HIGH),
    ],
    ids=["man", "woman"],
)
def test_it_matches_the_hand_computed_examples(
    person: dict[str, Any], terms: dict[str, float], total: float, risk: float, category: ChinaParCategory
) -> None:
    computed = dict(china_par_terms(**person))
    for name, value in terms.items():
        assert computed[name] == pytest.approx(value, abs=1e-7), name
    assert all(computed[name] == 0 for name in computed.keys() - terms.keys())
    assert math.fsum(computed.values()) == pytest.approx(total, abs=1e-7)
    assert china_par(**person) == pytest.approx(risk, abs=1e-8)
    assert china_par_category(china_par(**person)) == category


def test_it_converts_cholesterol_from_mmol_to_mg_dl() -> None:
    # 5.18 mmol/L ÷ 0.0259 = 200 mg/dL exactly; 1.295 mmol/L = 50 mg/dL.
    terms = dict(china_par_terms(**{**MAN, "total_cholesterol_mmol": 5.18, "hdl_mmol": 1.295}))
    assert terms["ln_total_cholesterol"] == pytest.approx(0.6209 * math.log(200))
    assert terms["ln_hdl"] == pytest.approx(-0.69373 * math.log(50))


def test_it_ignores_urban_and_family_history_for_women() -> None:
    # The women's table has neither term.
    base = {**WOMAN, "urban": False, "family_history_ascvd": False}
    assert china_par(**{**base, "urban": True, "family_history_ascvd": True}) == china_par(**base)


def test_it_counts_urban_and_family_history_for_men() -> None:
    assert par(urban=True) < par(urban=False)  # urban −0.16
    assert par(age=45, family_history_ascvd=True) > par(age=45)  # 6.22 − 1.53 × ln 45 = 0.40 > 0


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"age": 34}, "age"),
        ({"age": 75}, "age"),
        ({"sbp": 49}, "sbp"),
        ({"sbp": 301}, "sbp"),
        ({"sbp": -120}, "sbp"),
        ({"sbp": math.nan}, "sbp"),
        ({"total_cholesterol_mmol": -5.0}, "total_cholesterol_mmol"),
        ({"total_cholesterol_mmol": 0}, "total_cholesterol_mmol"),
        ({"total_cholesterol_mmol": 193}, "total_cholesterol_mmol"),  # mg/dL typed as mmol/L
        ({"hdl_mmol": 0}, "hdl_mmol"),
        ({"hdl_mmol": -1.2}, "hdl_mmol"),
        ({"hdl_mmol": 50}, "hdl_mmol"),
        ({"waist_cm": -85}, "waist_cm"),
        ({"waist_cm": 0}, "waist_cm"),
        ({"sex": "unknown"}, "sex"),
        ({"sex": "M"}, "sex"),
        ({"age": "55"}, "age"),
        ({"sbp": True}, "sbp"),
    ],
)
def test_it_refuses_china_par_inputs_out_of_range(overrides: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} "):
        par(**overrides)


def test_it_accepts_numpy_scalars() -> None:
    # Population runs read measurements from data frames.
    assert par(age=np.int64(55), sbp=np.float64(130.0)) == par(age=55, sbp=130.0)


@pytest.mark.parametrize("age", [35, 74])
def test_it_accepts_the_ends_of_the_age_range(age: int) -> None:
    assert 0 < par(age=age) < 1


@pytest.mark.parametrize(
    ("risk", "category"),
    [
        (0.0, ChinaParCategory.LOW),
        (0.0499, ChinaParCategory.LOW),
        (0.04999999, ChinaParCategory.LOW),
        (0.05, ChinaParCategory.MEDIUM),
        (0.0999, ChinaParCategory.MEDIUM),
        (0.0996, ChinaParCategory.MEDIUM),  # displays as 10.0 % but is below 10 %
        (0.10, ChinaParCategory.HIGH),
        (0.35, ChinaParCategory.HIGH),
        (1.0, ChinaParCategory.HIGH),
    ],
)
def test_it_bands_china_par_risk(risk: float, category: ChinaParCategory) -> None:
    assert china_par_category(risk) == category
    assert china_par_category(risk) == category.value  # a StrEnum compares equal to its string


@pytest.mark.parametrize("risk", [-0.01, 1.01, 10.0, math.nan])
def test_it_refuses_a_risk_that_is_not_a_fraction(risk: float) -> None:
    with pytest.raises(ValueError, match=r"^risk "):
        china_par_category(risk)


sexes = st.sampled_from(["male", "female"])
ages = st.integers(35, 74)
sbps = st.floats(50, 300)
flags = st.booleans()


def people_with(
    *, sbp: tuple[float, float], tc: tuple[float, float], hdl: tuple[float, float], waist: tuple[float, float]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "sex": sexes,
            "age": ages,
            "sbp": st.floats(*sbp),
            "on_bp_treatment": flags,
            "total_cholesterol_mmol": st.floats(*tc),
            "hdl_mmol": st.floats(*hdl),
            "waist_cm": st.floats(*waist),
            "smoker": flags,
            "diabetes": flags,
            "north": flags,
            "urban": flags,
            "family_history_ascvd": flags,
        }
    )


# Everything the function accepts, and the range a clinic actually sees. At the accepted extremes (a
# treated male smoker of 35–40 with SBP near 300 and HDL near 0.1 mmol/L) the equation's fraction rounds
# to 1.0 in double precision, so strict inequalities are asserted on the realistic range only.
people = people_with(sbp=(50, 300), tc=(0.5, 25), hdl=(0.1, 10), waist=(40, 250))
realistic_people = people_with(sbp=(80, 220), tc=(2, 12), hdl=(0.5, 3), waist=(50, 150))


@settings(deadline=None)
@given(person=people)
def test_it_keeps_china_par_a_fraction(person: dict[str, Any]) -> None:
    assert 0 < china_par(**person) <= 1


@settings(deadline=None)
@given(person=realistic_people)
def test_it_keeps_china_par_strictly_between_0_and_1(person: dict[str, Any]) -> None:
    assert 0 < china_par(**person) < 1


@settings(deadline=None)
@given(person=people, higher=sbps)
def test_it_raises_risk_with_sbp(person: dict[str, Any], higher: float) -> None:
    # ∂/∂ln SBP = β_sbp + β_age×sbp · ln age stays positive over 35–74 for both sexes, treated or not.
    lower = person["sbp"]
    if higher <= lower:
        lower, higher = higher, lower
    # Inputs an ulp apart may round either way; monotonicity is judged beyond floating-point noise.
    assert china_par(**{**person, "sbp": lower}) <= china_par(**{**person, "sbp": higher}) * (1 + 1e-12)


@settings(deadline=None)
@given(person=people, older=ages)
def test_it_raises_risk_with_age(person: dict[str, Any], older: int) -> None:
    # The ln age × ln SBP, × smoking and × family-history interactions make ∂/∂ln age negative for very high
    # SBP (a treated male smoker with a family history from about SBP 135); the property is asserted for
    # SBP ≤ 130, where it holds for every combination of the binary factors.
    person = {**person, "sbp": min(person["sbp"], 130)}
    younger = person["age"]
    if older < younger:
        younger, older = older, younger
    assert china_par(**{**person, "age": younger}) <= china_par(**{**person, "age": older}) * (1 + 1e-12)


@settings(deadline=None)
@given(person=realistic_people)
def test_it_never_lowers_risk_with_smoking_or_family_history(person: dict[str, Any]) -> None:
    # Over the whole valid age range 35–74: the men's age interactions are floored (`_never_protective`).
    for factor in ("smoker", "family_history_ascvd"):
        assert china_par(**{**person, factor: False}) <= china_par(**{**person, factor: True})


@settings(deadline=None)
@given(person=realistic_people)
def test_it_raises_risk_with_smoking_while_the_equation_does(person: dict[str, Any]) -> None:
    # For men the smoking effect 3.96 − 0.94 × ln age is positive below age exp(3.96/0.94) ≈ 67.5.
    if person["sex"] == "male":
        person = {**person, "age": min(person["age"], 67)}
    assert china_par(**{**person, "smoker": False}) < china_par(**{**person, "smoker": True})


@pytest.mark.parametrize("age", [68, 70, 74])
def test_it_scores_an_old_male_smoker_as_a_non_smoker_not_lower(age: int) -> None:
    # Read literally the equation gives 3.96 − 0.94 × ln 70 = −0.03: smoking would "protect". Floored at 0.
    terms = dict(china_par_terms(**{**MAN, "age": age}))
    assert terms["smoker"] + terms["ln_age_x_smoker"] == pytest.approx(0)
    assert china_par(**{**MAN, "age": age}) == china_par(**{**MAN, "age": age, "smoker": False})


def test_it_keeps_the_published_interactions_below_the_floor_ages() -> None:
    terms = dict(china_par_terms(**{**MAN, "age": 67, "family_history_ascvd": True}))
    assert terms["ln_age_x_smoker"] == pytest.approx(-0.94 * math.log(67))
    # Family history: 6.22 − 1.53 × ln age is positive only below about 58.3.
    assert terms["family_history"] + terms["ln_age_x_family_history"] == pytest.approx(0)
    young = dict(china_par_terms(**{**MAN, "age": 50, "family_history_ascvd": True}))
    assert young["ln_age_x_family_history"] == pytest.approx(-1.53 * math.log(50))
    assert young["family_history"] + young["ln_age_x_family_history"] > 0


@settings(deadline=None)
@given(person=realistic_people, other=st.floats(2, 12))
def test_it_raises_risk_with_total_cholesterol(person: dict[str, Any], other: float) -> None:
    low, high = sorted((person["total_cholesterol_mmol"], other))
    assert china_par(**{**person, "total_cholesterol_mmol": low}) <= china_par(
        **{**person, "total_cholesterol_mmol": high}
    ) * (1 + 1e-12)


@settings(deadline=None)
@given(person=realistic_people, other=st.floats(0.5, 3))
def test_it_lowers_risk_with_hdl(person: dict[str, Any], other: float) -> None:
    low, high = sorted((person["hdl_mmol"], other))
    assert china_par(**{**person, "hdl_mmol": high}) <= china_par(**{**person, "hdl_mmol": low}) * (1 + 1e-12)


@settings(deadline=None)
@given(person=realistic_people, other=st.floats(50, 150))
def test_it_moves_risk_with_waist_as_the_coefficient_signs_say(person: dict[str, Any], other: float) -> None:
    # The spec's men's ln waist coefficient is −0.712 (waist adjusted for SBP, lipids and diabetes), the
    # women's +1.48: risk falls slightly with waist for men and rises for women.
    small, large = sorted((person["waist_cm"], other))
    at_small = china_par(**{**person, "waist_cm": small})
    at_large = china_par(**{**person, "waist_cm": large})
    if person["sex"] == "male":
        assert at_large <= at_small * (1 + 1e-12)
    else:
        assert at_small <= at_large * (1 + 1e-12)


@settings(deadline=None)
@given(person=realistic_people)
def test_it_raises_risk_with_diabetes_and_northern_residence(person: dict[str, Any]) -> None:
    assert china_par(**{**person, "diabetes": False}) < china_par(**{**person, "diabetes": True})
    assert china_par(**{**person, "north": False}) < china_par(**{**person, "north": True})


# --- Chinese Diabetes Risk Score ---------------------------------------------------------------------


def cdrs(**overrides: Any) -> int:
    """Score of a woman who scores 0 on every item, changed by `overrides`."""
    person: dict[str, Any] = {
        "sex": "female",
        "age": 20,
        "sbp": 100,
        "bmi": 20.0,
        "waist_cm": 60.0,
        "family_history_diabetes": False,
    }
    person.update(overrides)
    return diabetes_risk_score(**person)


def test_it_scores_zero_for_the_lowest_band_of_everything() -> None:
    assert cdrs() == 0


@pytest.mark.parametrize(
    ("age", "points"),
    [
        (20, 0),
        (24, 0),
        (25, 4),
        (34, 4),
        (35, 8),
        (39, 8),
        (40, 11),
        (44, 11),
        (45, 12),
        (49, 12),
        (50, 13),
        (54, 13),
        (55, 15),
        (59, 15),
        (60, 16),
        (64, 16),
        (65, 18),
        (74, 18),
    ],
)
def test_it_scores_age_bands(age: int, points: int) -> None:
    assert cdrs(age=age) == points


@pytest.mark.parametrize(
    ("sbp", "points"),
    [
        (50, 0),
        (109, 0),
        (109.9, 0),
        (110, 1),
        (119, 1),
        (120, 3),
        (129, 3),
        (130, 6),
        (139, 6),
        (140, 7),
        (149, 7),
        (150, 8),
        (159, 8),
        (160, 10),
        (230, 10),
    ],
)
def test_it_scores_sbp_bands(sbp: float, points: int) -> None:
    assert cdrs(sbp=sbp) == points


@pytest.mark.parametrize(
    ("bmi", "points"),
    [(18.0, 0), (21.9, 0), (22.0, 1), (23.9, 1), (24.0, 3), (29.9, 3), (30.0, 5), (42.0, 5)],
)
def test_it_scores_bmi_bands(bmi: float, points: int) -> None:
    assert cdrs(bmi=bmi) == points


@pytest.mark.parametrize(
    ("sex", "waist_cm", "points"),
    [
        ("male", 74.9, 0),
        ("male", 75.0, 3),
        ("male", 79.9, 3),
        ("male", 80.0, 5),
        ("male", 84.9, 5),
        ("male", 85.0, 7),
        ("male", 89.9, 7),
        ("male", 90.0, 8),
        ("male", 94.9, 8),
        ("male", 95.0, 10),
        ("male", 120.0, 10),
        ("female", 69.9, 0),
        ("female", 70.0, 3),
        ("female", 74.9, 3),
        ("female", 75.0, 5),
        ("female", 79.9, 5),
        ("female", 80.0, 7),
        ("female", 84.9, 7),
        ("female", 85.0, 8),
        ("female", 89.9, 8),
        ("female", 90.0, 10),
        ("female", 120.0, 10),
    ],
)
def test_it_scores_waist_bands_by_sex(sex: str, waist_cm: float, points: int) -> None:
    male_points = 2 if sex == "male" else 0
    assert cdrs(sex=sex, waist_cm=waist_cm) == points + male_points


def test_it_adds_family_history_and_male_sex() -> None:
    assert cdrs(family_history_diabetes=True) == 6
    assert cdrs(sex="male") == 2


@pytest.mark.parametrize(
    ("person", "total", "ogtt"),
    [
        # Man 52 (13) + SBP 135 (6) + BMI 25.3 (3) + waist 88 (7) + family history (6) + male (2) = 37.
        (
            {
                "sex": "male",
                "age": 52,
                "sbp": 135,
                "bmi": 25.3,
                "waist_cm": 88,
                "family_history_diabetes": True,
            },
            37,
            True,
        ),
        # Woman 38 (8) + SBP 118 (1) + BMI 22.5 (1) + waist 72 (3) = 13.
        (
            {
                "sex": "female",
                "age": 38,
                "sbp": 118,
                "bmi": 22.5,
                "waist_cm": 72,
                "family_history_diabetes": False,
            },
            13,
            False,
        ),
        # Woman 47 (12) + SBP 128 (3) + BMI 24.0 (3) + waist 71 (3) + family history (6) = 27: just over 25.
        (
            {
                "sex": "female",
                "age": 47,
                "sbp": 128,
                "bmi": 24.0,
                "waist_cm": 71,
                "family_history_diabetes": True,
            },
            27,
            True,
        ),
        # Every item at its top band: 18 + 10 + 5 + 10 + 6 + 2 = 51.
        (
            {
                "sex": "male",
                "age": 70,
                "sbp": 170,
                "bmi": 31,
                "waist_cm": 100,
                "family_history_diabetes": True,
            },
            51,
            True,
        ),
    ],
)
def test_it_totals_worked_examples(person: dict[str, Any], total: int, ogtt: bool) -> None:
    score = diabetes_risk_score(**person)
    assert score == total
    assert needs_ogtt(score) is ogtt


@pytest.mark.parametrize(("score", "ogtt"), [(0, False), (24, False), (25, True), (51, True)])
def test_it_calls_for_an_ogtt_from_25(score: int, ogtt: bool) -> None:
    assert needs_ogtt(score) is ogtt


@pytest.mark.parametrize("score", [-1, 52])
def test_it_refuses_an_impossible_score(score: int) -> None:
    with pytest.raises(ValueError, match=r"^score "):
        needs_ogtt(score)


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"age": 19}, "age"),
        ({"age": 75}, "age"),
        ({"sbp": 49}, "sbp"),
        ({"sbp": 301}, "sbp"),
        ({"bmi": 0}, "bmi"),
        ({"bmi": -22}, "bmi"),
        ({"waist_cm": -80}, "waist_cm"),
        ({"sex": "unknown"}, "sex"),
    ],
)
def test_it_refuses_diabetes_score_inputs_out_of_range(overrides: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} "):
        cdrs(**overrides)


cdrs_people = st.fixed_dictionaries(
    {
        "sex": sexes,
        "age": st.integers(20, 74),
        "sbp": sbps,
        "bmi": st.floats(10, 80),
        "waist_cm": st.floats(40, 250),
        "family_history_diabetes": flags,
    }
)


@given(person=cdrs_people)
def test_it_keeps_the_diabetes_score_within_0_to_51(person: dict[str, Any]) -> None:
    assert 0 <= diabetes_risk_score(**person) <= CDRS_MAX


@given(person=cdrs_people, field=st.sampled_from(["age", "sbp", "bmi", "waist_cm"]), step=st.integers(0, 30))
def test_it_never_lowers_the_diabetes_score_as_a_measurement_rises(
    person: dict[str, Any], field: str, step: int
) -> None:
    limits = {"age": 74, "sbp": 300, "bmi": 80, "waist_cm": 250}
    higher = {**person, field: min(person[field] + step, limits[field])}
    assert diabetes_risk_score(**person) <= diabetes_risk_score(**higher)


# --- Hypertension risk stratification (中国高血压防治指南 2018) ----------------------------------------

S = HypertensionRiskStratum
NO_FACTORS: dict[str, Any] = {
    "risk_factor_count": 0,
    "target_organ_damage": False,
    "ckd_stage": None,
    "diabetes": False,
    "diabetes_complicated": False,
    "clinical_complications": False,
}
ROWS: dict[str, dict[str, Any]] = {
    "none": NO_FACTORS,
    "1 factor": {**NO_FACTORS, "risk_factor_count": 1},
    "2 factors": {**NO_FACTORS, "risk_factor_count": 2},
    "3 factors": {**NO_FACTORS, "risk_factor_count": 3},
    "organ damage": {**NO_FACTORS, "target_organ_damage": True},
    "CKD 3": {**NO_FACTORS, "ckd_stage": 3},
    "diabetes": {**NO_FACTORS, "diabetes": True},
    "complications": {**NO_FACTORS, "clinical_complications": True},
    "CKD 4": {**NO_FACTORS, "ckd_stage": 4},
    "CKD 5": {**NO_FACTORS, "ckd_stage": 5},
    "complicated diabetes": {**NO_FACTORS, "diabetes": True, "diabetes_complicated": True},
}
# Columns: 130–139/85–89, grade 1, grade 2, grade 3.
COLUMNS = [(135, 80), (150, 85), (170, 95), (185, 100)]
TABLE = {
    "none": (S.NOT_STRATIFIED, S.LOW, S.MEDIUM, S.HIGH),
    "1 factor": (S.LOW, S.MEDIUM, S.MEDIUM_HIGH, S.VERY_HIGH),
    "2 factors": (S.LOW, S.MEDIUM, S.MEDIUM_HIGH, S.VERY_HIGH),
    "3 factors": (S.MEDIUM_HIGH, S.HIGH, S.HIGH, S.VERY_HIGH),
    "organ damage": (S.MEDIUM_HIGH, S.HIGH, S.HIGH, S.VERY_HIGH),
    "CKD 3": (S.MEDIUM_HIGH, S.HIGH, S.HIGH, S.VERY_HIGH),
    "diabetes": (S.MEDIUM_HIGH, S.HIGH, S.HIGH, S.VERY_HIGH),
    "complications": (S.HIGH_VERY_HIGH, S.VERY_HIGH, S.VERY_HIGH, S.VERY_HIGH),
    "CKD 4": (S.HIGH_VERY_HIGH, S.VERY_HIGH, S.VERY_HIGH, S.VERY_HIGH),
    "CKD 5": (S.HIGH_VERY_HIGH, S.VERY_HIGH, S.VERY_HIGH, S.VERY_HIGH),
    "complicated diabetes": (S.HIGH_VERY_HIGH, S.VERY_HIGH, S.VERY_HIGH, S.VERY_HIGH),
}


@pytest.mark.parametrize(
    ("row", "column", "stratum"),
    [(row, column, TABLE[row][column]) for row in TABLE for column in range(4)],
)
def test_it_reads_every_cell_of_the_table(row: str, column: int, stratum: HypertensionRiskStratum) -> None:
    sbp, dbp = COLUMNS[column]
    assert hypertension_risk_stratum(sbp=sbp, dbp=dbp, **ROWS[row]) == stratum


@pytest.mark.parametrize(
    ("sbp", "dbp", "stratum"),
    [
        (129, 84, S.NOT_STRATIFIED),  # below the table
        (130, 70, S.LOW),  # 130–139/85–89 by SBP
        (125, 85, S.LOW),  # … or by DBP
        (139, 89, S.LOW),
        (140, 70, S.MEDIUM),  # grade 1
        (135, 90, S.MEDIUM),
        (159, 99, S.MEDIUM),
        (160, 70, S.MEDIUM_HIGH),  # grade 2
        (145, 100, S.MEDIUM_HIGH),  # the higher of the two columns wins
        (179, 109, S.MEDIUM_HIGH),
        (180, 80, S.VERY_HIGH),  # grade 3
        (150, 110, S.VERY_HIGH),
    ],
)
def test_it_takes_the_higher_column_of_sbp_and_dbp(
    sbp: int, dbp: int, stratum: HypertensionRiskStratum
) -> None:
    assert hypertension_risk_stratum(sbp=sbp, dbp=dbp, **ROWS["1 factor"]) == stratum


@pytest.mark.parametrize("ckd_stage", [1, 2])
def test_it_does_not_move_the_row_for_early_ckd(ckd_stage: int) -> None:
    assert hypertension_risk_stratum(sbp=150, dbp=85, **{**NO_FACTORS, "ckd_stage": ckd_stage}) == S.LOW


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"risk_factor_count": -1}, "risk_factor_count"),
        ({"ckd_stage": 0}, "ckd_stage"),
        ({"ckd_stage": 6}, "ckd_stage"),
        ({"diabetes_complicated": True}, "diabetes_complicated"),
        ({"sbp": 301}, "sbp"),
        ({"dbp": 10}, "dbp"),
        ({"sbp": 90, "dbp": 150}, "dbp"),  # swapped
    ],
)
def test_it_refuses_impossible_stratification_inputs(overrides: dict[str, Any], name: str) -> None:
    kwargs = {"sbp": 150, "dbp": 90, **NO_FACTORS, **overrides}
    with pytest.raises(ValueError, match=f"^{name} "):
        hypertension_risk_stratum(**kwargs)


# --- Assessment class (seed 001) ---------------------------------------------------------------------

NOTHING: dict[str, Any] = {"chronic_disease_under_management": False, "discharged_or_in_rehab": False}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, AssessmentClass.HEALTHY),
        ({"chronic_disease_under_management": True}, AssessmentClass.PATIENT),
        ({"chronic_disease_under_management": True, "discharged_or_in_rehab": True}, AssessmentClass.PATIENT),
        ({"chronic_disease_under_management": True, "china_par_risk": 0.3}, AssessmentClass.PATIENT),
        ({"discharged_or_in_rehab": True}, AssessmentClass.RECOVERING),
        ({"discharged_or_in_rehab": True, "screening_positive": True}, AssessmentClass.RECOVERING),
        ({"china_par_risk": 0.0999}, AssessmentClass.HEALTHY),
        ({"china_par_risk": 0.10}, AssessmentClass.HIGH_RISK),
        ({"diabetes_score": 24}, AssessmentClass.HEALTHY),
        ({"diabetes_score": 25}, AssessmentClass.HIGH_RISK),
        ({"hypertension_stratum": S.MEDIUM_HIGH}, AssessmentClass.HEALTHY),
        ({"hypertension_stratum": S.HIGH}, AssessmentClass.HIGH_RISK),
        ({"hypertension_stratum": S.HIGH_VERY_HIGH}, AssessmentClass.HIGH_RISK),
        ({"hypertension_stratum": "very_high"}, AssessmentClass.HIGH_RISK),  # as stored in a column
        ({"screening_positive": True}, AssessmentClass.HIGH_RISK),
        (
            {"china_par_risk": 0.02, "diabetes_score": 10, "hypertension_stratum": S.LOW},
            AssessmentClass.HEALTHY,
        ),
    ],
)
def test_it_classes_the_assessment_in_the_seed_order(
    overrides: dict[str, Any], expected: AssessmentClass
) -> None:
    assert assessment_class(**{**NOTHING, **overrides}) == expected


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"china_par_risk": 12.0}, "china_par_risk"),  # a percentage passed as a fraction
        ({"chronic_disease_under_management": True, "china_par_risk": -0.1}, "china_par_risk"),
        ({"diabetes_score": 60}, "diabetes_score"),
        ({"hypertension_stratum": "severe"}, "hypertension_stratum"),
    ],
)
def test_it_refuses_impossible_assessment_inputs(overrides: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} "):
        assessment_class(**{**NOTHING, **overrides})
