"""Pure rules of the health account: unit conversions, plausible ranges, ICD-10 codes, future dates and
the 65+ exam form's completeness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jiayi.records import lib


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected", "canonical"),
    [
        ("1558-6", 126, "mg/dL", 6.99, "mmol/L"),  # 126 / 18.016: the diabetes threshold of 7.0
        ("2339-0", 200, "mg/dl", 11.1, "mmol/L"),
        ("1558-6", 5.6, "mmol/L", 5.6, "mmol/L"),
        ("2093-3", 200, "mg/dL", 5.17, "mmol/L"),  # ÷ 38.67
        ("2085-9", 40, "mg/dL", 1.03, "mmol/L"),
        ("18262-6", 130, "mg/dL", 3.36, "mmol/L"),
        ("2571-8", 150, "mg/dL", 1.69, "mmol/L"),  # ÷ 88.57
        ("2160-0", 1.0, "mg/dL", 88, "umol/L"),  # × 88.4
        ("2160-0", 70, "µmol/L", 70, "umol/L"),
        ("2160-0", 70, "μmol/L", 70, "umol/L"),
        ("8302-2", 1.72, "m", 172.0, "cm"),
        ("8302-2", 172, "cm", 172.0, "cm"),
        ("8280-0", 0.85, "m", 85.0, "cm"),
        ("8480-6", 16, "kPa", 120, "mm[Hg]"),  # × 7.50062
        ("8462-4", 80, "mmHg", 80, "mm[Hg]"),
        ("8462-4", 80, "mm[Hg]", 80, "mm[Hg]"),
        ("29463-7", 65000, "g", 65.0, "kg"),
        ("4548-4", 53, "mmol/mol", 7.0, "%"),  # IFCC → NGSP
        ("8310-5", 98.6, "[degF]", 37.0, "Cel"),
        ("8867-4", 72, "{beats}/min", 72, "/min"),
    ],
)
def test_it_converts_to_the_canonical_unit(code, value, unit, expected, canonical):
    assert lib.normalise_unit(code, value, unit) == (pytest.approx(expected), canonical)


def test_it_refuses_an_unknown_unit_naming_the_field_and_value():
    with pytest.raises(
        ValueError, match=r"fasting glucose \(1558-6\) unit 'g/L' is not accepted \(value 1.2\)"
    ):
        lib.normalise_unit("1558-6", 1.2, "g/L")


def test_it_refuses_an_unknown_code():
    with pytest.raises(ValueError, match="'1234-5' is not one jiayi records"):
        lib.normalise_unit("1234-5", 1, "mg")


# (code, low, high): each end is accepted and a step beyond it refused.
RANGES = [
    ("8480-6", 50, 300),
    ("8462-4", 20, 200),
    ("1558-6", 1, 40),
    ("2339-0", 1, 40),
    ("8867-4", 20, 250),
    ("8302-2", 30, 250),
    ("29463-7", 1, 400),
    ("8280-0", 30, 200),
    ("39156-5", 8, 80),
    ("4548-4", 3, 20),
]


@pytest.mark.parametrize(("code", "low", "high"), RANGES)
def test_it_accepts_the_ends_of_the_plausible_range(code, low, high):
    lib.check_plausible(code, low)
    lib.check_plausible(code, high)


@pytest.mark.parametrize(("code", "low", "high"), RANGES)
def test_it_refuses_values_beyond_the_plausible_range(code, low, high):
    label = lib.spec_for(code).label
    for value in (low - 0.1, high + 0.1):
        with pytest.raises(ValueError, match="outside the plausible range") as caught:
            lib.check_plausible(code, value)
        assert label in str(caught.value)
        assert f"{value:g}" in str(caught.value)


def test_it_checks_plausibility_after_converting():
    # 400 mg/dL of glucose is 22.2 mmol/L: plausible; 800 mmol/L is not.
    assert lib.normalise_observation("1558-6", 400, "mg/dL") == (pytest.approx(22.2, abs=0.01), "mmol/L")
    with pytest.raises(ValueError, match=r"fasting glucose \(1558-6\) 800 mmol/L is outside"):
        lib.normalise_observation("1558-6", 800, "mmol/L")


def test_it_refuses_future_times_beyond_clock_skew():
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    lib.check_not_future("effectiveDateTime", now + timedelta(minutes=5), now)
    with pytest.raises(ValueError, match=r"effectiveDateTime 2026-01-02T12:00:00\+00:00 is in the future"):
        lib.check_not_future("effectiveDateTime", now + timedelta(days=1), now)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("I10", "I10"),
        ("E11.9", "E11.9"),
        ("e11.9", "E11.9"),
        ("E119", "E11.9"),
        ("I10.x00x002", "I10.x00x002"),
    ],
)
def test_it_normalises_icd10_codes(code, expected):
    assert lib.normalise_icd10(code) == expected


@pytest.mark.parametrize("code", ["", "10", "I1", "II10", "I10.", "I10.123456789", "高血压"])
def test_it_refuses_malformed_icd10_codes(code):
    with pytest.raises(ValueError, match="is not a valid code"):
        lib.normalise_icd10(code)


def _complete_exam() -> dict[str, dict[str, object]]:
    return {part: dict.fromkeys(items, "normal") for part, items in lib.ELDERLY_EXAM_PARTS.items()}


def test_it_calls_an_exam_with_every_item_answered_complete():
    assert lib.is_elderly_exam_complete(_complete_exam())
    assert lib.elderly_exam_missing(_complete_exam()) == []


@pytest.mark.parametrize(
    "missing", ["assessment.smoking", "physical.waist", "tests.ecg", "guidance.guidance"]
)
def test_it_names_the_missing_items_of_an_incomplete_exam(missing):
    parts = _complete_exam()
    part, item = missing.split(".")
    parts[part][item] = "  "
    assert not lib.is_elderly_exam_complete(parts)
    assert lib.elderly_exam_missing(parts) == [missing]


def test_it_counts_false_and_zero_as_answers_but_not_empty_values():
    parts = _complete_exam()
    parts["assessment"]["smoking"] = False
    parts["physical"]["temperature"] = 0
    parts["tests"]["lipids"] = {}
    assert lib.elderly_exam_missing(parts) == ["tests.lipids"]
    assert lib.elderly_exam_missing({}) == [
        f"{part}.{item}" for part, items in lib.ELDERLY_EXAM_PARTS.items() for item in items
    ]
