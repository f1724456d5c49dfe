"""Pure rules of the health account: unit normalisation, plausibility, ICD-10 codes, dates, and the
completeness of the 65+ yearly exam form.

No database and no clock: callers pass `now`. Every refusal is a ValueError whose text names the field
and the value, so an import can hand it to the sender unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jiayi.records.choices import ObservationCode

# Conversion factors from the brief's clinical chemistry: molar masses of glucose (180.16 g/mol),
# cholesterol (386.7) and triglycerides (885.7, as triolein), and creatinine's 88.4 µmol/L per mg/dL.
GLUCOSE_MG_DL_PER_MMOL_L = 18.016
CHOLESTEROL_MG_DL_PER_MMOL_L = 38.67
TRIGLYCERIDES_MG_DL_PER_MMOL_L = 88.57
CREATININE_UMOL_L_PER_MG_DL = 88.4
MMHG_PER_KPA = 7.50062

# Devices and sending systems keep their own clocks: a reading a few minutes "ahead" of ours is a clock
# difference, not a date typed wrong.
CLOCK_SKEW = timedelta(minutes=10)

Converter = Callable[[float], float]


def _identity(value: float) -> float:
    return value


def _scale(factor: float) -> Converter:
    def convert(value: float) -> float:
        return value * factor

    return convert


def _fahrenheit_to_celsius(value: float) -> float:
    return (value - 32) * 5 / 9


def _ifcc_to_ngsp(value: float) -> float:
    """HbA1c from IFCC mmol/mol to NGSP % (the master equation used by labs)."""
    return value * 0.09148 + 2.152


@dataclass(frozen=True, slots=True)
class ObservationSpec:
    """How one kind of measurement is stored: its canonical UCUM unit, the other units accepted and how
    to convert them, the plausible range in the canonical unit, and the decimals worth keeping."""

    code: ObservationCode
    unit: str
    low: float
    high: float
    decimals: int
    conversions: Mapping[str, Converter] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How messages name the measure: "systolic blood pressure (8480-6)", "BMI (39156-5)"."""
        english = str(self.code.label).split(" ", 1)[1]
        first, _, rest = english.partition(" ")
        # Lower-case a plain first word for the middle of a sentence, but leave BMI or HbA1c alone.
        if first[1:].islower():
            first = first.lower()
        return f"{' '.join(filter(None, [first, rest]))} ({self.code.value})"


_PRESSURE = {"mmHg": _identity, "kPa": _scale(MMHG_PER_KPA)}
_GLUCOSE = {"mg/dL": _scale(1 / GLUCOSE_MG_DL_PER_MMOL_L)}
_CHOLESTEROL = {"mg/dL": _scale(1 / CHOLESTEROL_MG_DL_PER_MMOL_L)}
_PER_MINUTE = {"{beats}/min": _identity, "{breaths}/min": _identity, "bpm": _identity}
_LENGTH = {"m": _scale(100), "mm": _scale(0.1)}

# Plausible ranges are the brief's where it gives one; the others (lipids, creatinine, temperature,
# respiratory rate) are an operational choice wide enough for any living patient, meant to catch unit
# mix-ups and typing slips rather than to judge the value clinically.
SPECS: dict[str, ObservationSpec] = {
    spec.code.value: spec
    for spec in (
        ObservationSpec(ObservationCode.SYSTOLIC_BP, "mm[Hg]", 50, 300, 0, _PRESSURE),
        ObservationSpec(ObservationCode.DIASTOLIC_BP, "mm[Hg]", 20, 200, 0, _PRESSURE),
        ObservationSpec(ObservationCode.FASTING_GLUCOSE, "mmol/L", 1, 40, 2, _GLUCOSE),
        ObservationSpec(ObservationCode.RANDOM_GLUCOSE, "mmol/L", 1, 40, 2, _GLUCOSE),
        ObservationSpec(ObservationCode.HBA1C, "%", 3, 20, 1, {"mmol/mol": _ifcc_to_ngsp}),
        ObservationSpec(ObservationCode.HEIGHT, "cm", 30, 250, 1, _LENGTH),
        ObservationSpec(ObservationCode.WEIGHT, "kg", 1, 400, 1, {"g": _scale(0.001)}),
        ObservationSpec(ObservationCode.BMI, "kg/m2", 8, 80, 1, {"kg/m^2": _identity}),
        ObservationSpec(ObservationCode.WAIST, "cm", 30, 200, 1, _LENGTH),
        ObservationSpec(ObservationCode.HEART_RATE, "/min", 20, 250, 0, _PER_MINUTE),
        ObservationSpec(ObservationCode.TOTAL_CHOLESTEROL, "mmol/L", 0.5, 30, 2, _CHOLESTEROL),
        ObservationSpec(ObservationCode.HDL, "mmol/L", 0.1, 10, 2, _CHOLESTEROL),
        ObservationSpec(ObservationCode.LDL, "mmol/L", 0.1, 20, 2, _CHOLESTEROL),
        ObservationSpec(
            ObservationCode.TRIGLYCERIDES,
            "mmol/L",
            0.1,
            100,
            2,
            {"mg/dL": _scale(1 / TRIGLYCERIDES_MG_DL_PER_MMOL_L)},
        ),
        ObservationSpec(
            ObservationCode.CREATININE,
            "umol/L",
            5,
            3000,
            0,
            {"mg/dL": _scale(CREATININE_UMOL_L_PER_MG_DL)},
        ),
        ObservationSpec(
            ObservationCode.BODY_TEMPERATURE,
            "Cel",
            25,
            45,
            1,
            {"°C": _identity, "[degF]": _fahrenheit_to_celsius, "°F": _fahrenheit_to_celsius},
        ),
        ObservationSpec(ObservationCode.RESPIRATORY_RATE, "/min", 4, 80, 0, _PER_MINUTE),
    )
}


def _unit_key(unit: str) -> str:
    """Units compared without case and with the micro sign spelled the UCUM way (u)."""
    return unit.strip().replace("µ", "u").replace("μ", "u").casefold()


def spec_for(code: str) -> ObservationSpec:
    spec = SPECS.get(code)
    if spec is None:
        raise ValueError(f"observation code {code!r} is not one jiayi records")
    return spec


def normalise_unit(code: str, value: float, unit: str) -> tuple[float, str]:
    """The value in the canonical unit of its observation code, rounded to the decimals that matter.

    >>> normalise_unit("1558-6", 126.0, "mg/dL")
    (6.99, 'mmol/L')
    """
    spec = spec_for(code)
    conversions: dict[str, Converter] = {_unit_key(spec.unit): _identity}
    conversions.update((_unit_key(alias), convert) for alias, convert in spec.conversions.items())
    convert = conversions.get(_unit_key(unit))
    if convert is None:
        accepted = ", ".join([spec.unit, *spec.conversions])
        raise ValueError(
            f"{spec.label} unit {unit!r} is not accepted (value {value}); use one of: {accepted}"
        )
    return round(convert(float(value)), spec.decimals), spec.unit


def check_plausible(code: str, value: float) -> None:
    """Refuse a value (in the canonical unit) outside the plausible range for its kind, ends included."""
    spec = spec_for(code)
    if not spec.low <= value <= spec.high:
        raise ValueError(
            f"{spec.label} {value:g} {spec.unit} is outside the plausible range "
            f"{spec.low:g}–{spec.high:g} {spec.unit}"
        )


def normalise_observation(code: str, value: float, unit: str) -> tuple[float, str]:
    """Convert to the canonical unit, then check plausibility: what every import of a measurement does."""
    normalised, canonical = normalise_unit(code, value, unit)
    check_plausible(code, normalised)
    return normalised, canonical


def check_not_future(field_name: str, when: datetime, now: datetime) -> None:
    """Refuse a clinical time later than now (beyond a small clock skew)."""
    if when > now + CLOCK_SKEW:
        raise ValueError(f"{field_name} {when.isoformat()} is in the future")


# ICD-10: a letter, two digits, then an optional subdivision. The subdivision allows the national
# clinical edition's extensions (国家临床版 2.0, e.g. I10.x00x002) as well as WHO's E11.9.
_ICD10 = re.compile(r"^[A-Z]\d{2}(\.[0-9A-Za-z]{1,8})?$")
_ICD10_WITHOUT_DOT = re.compile(r"^[A-Z]\d{3,}$")


def normalise_icd10(code: str) -> str:
    """An ICD-10 code with its letter upper-cased and the dot after the category (E119 → E11.9)."""
    value = code.strip()
    if value[:1].islower():
        value = value[0].upper() + value[1:]
    if _ICD10_WITHOUT_DOT.match(value):
        value = f"{value[:3]}.{value[3:]}"
    if not _ICD10.match(value):
        raise ValueError(
            f"ICD-10 code {code!r} is not a valid code (a letter, two digits, optional .subdivision)"
        )
    return value


# The 65+ yearly exam form (老年人健康体检表) of the national basic public health service spec, 3rd ed.
# Each part lists the items the form asks for; a form is complete when every item has an answer.
ELDERLY_EXAM_PARTS: dict[str, tuple[str, ...]] = {
    # 生活方式和健康状况评估
    "assessment": (
        "exercise",
        "diet",
        "smoking",
        "drinking",
        "symptoms",
        "history",
        "medication",
        "self_care",
    ),
    # 体格检查
    "physical": (
        "temperature",
        "pulse",
        "respiration",
        "blood_pressure",
        "height",
        "weight",
        "waist",
        "skin",
        "lymph_nodes",
        "heart",
        "lungs",
        "abdomen",
        "mouth",
        "vision",
        "hearing",
        "motor",
    ),
    # 辅助检查
    "tests": (
        "blood_routine",
        "urine_routine",
        "liver_function",
        "kidney_function",
        "fasting_glucose",
        "lipids",
        "ecg",
        "abdominal_ultrasound",
    ),
    # 健康指导
    "guidance": ("guidance",),
}


def _answered(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | dict | tuple):
        return bool(value.strip() if isinstance(value, str) else value)
    return True


def elderly_exam_missing(parts: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The unanswered items of an exam form, as `part.item`, in the form's order."""
    missing: list[str] = []
    for part, items in ELDERLY_EXAM_PARTS.items():
        answers = parts.get(part) or {}
        missing.extend(f"{part}.{item}" for item in items if not _answered(answers.get(item)))
    return missing


def is_elderly_exam_complete(parts: Mapping[str, Mapping[str, Any]]) -> bool:
    """Complete (体检表完整) when all four parts have every item: one of the four conditions for a 65+
    resident to count as having received health management in the year."""
    return not elderly_exam_missing(parts)
