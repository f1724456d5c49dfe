"""Citizen ID parsing (GB 11643-1999) and masking of identifiers."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiayi.registry import identity

EXAMPLE = "11010519491231002X"  # the standard's own example: Beijing Chaoyang, 31 Dec 1949, female
TODAY = date(2026, 1, 1)

region_codes = st.sampled_from(["110105", "310105", "310112", "440304", "510107", "650102"])
birth_dates = st.dates(min_value=identity.EARLIEST_BIRTH, max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


def with_check_character(first17: str) -> str:
    return first17 + identity.check_character(first17)


def test_it_parses_the_standard_example() -> None:
    parsed = identity.parse_citizen_id(EXAMPLE, today=TODAY)

    assert parsed.number == EXAMPLE
    assert parsed.region_code == "110105"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "female"
    assert parsed.sequence == "002"


def test_it_accepts_a_lowercase_x_and_stray_spaces() -> None:
    parsed = identity.parse_citizen_id(" 110105 19491231002x ", today=TODAY)

    assert parsed.number == EXAMPLE


def test_it_refuses_a_bad_check_character() -> None:
    with pytest.raises(ValueError, match=r"^citizen ID check character is 1, expected X$"):
        identity.parse_citizen_id("110105194912310021", today=TODAY)


def test_it_refuses_an_impossible_birth_date() -> None:
    number = with_check_character("11010519990230001")

    with pytest.raises(ValueError, match=r"^citizen ID birth date 19990230 is not a real date$"):
        identity.parse_citizen_id(number, today=TODAY)


@pytest.mark.parametrize(
    ("value", "length"),
    [("1101051949123100", 16), ("11010519491231002X1", 19), ("", 0)],
)
def test_it_refuses_the_wrong_length(value: str, length: int) -> None:
    with pytest.raises(ValueError, match=rf"^citizen ID must have 18 characters, got {length}$"):
        identity.parse_citizen_id(value, today=TODAY)


@pytest.mark.parametrize("value", ["11010519491231A02X", "X1010519491231002X", "110105-949123100２X"])
def test_it_refuses_non_digits(value: str) -> None:
    with pytest.raises(ValueError, match=r"^citizen ID must be 17 digits followed by a digit or X$"):
        identity.parse_citizen_id(value, today=TODAY)


def test_it_refuses_a_birth_date_in_the_future() -> None:
    number = identity.make_citizen_id("110105", date(2026, 1, 2), 1)

    with pytest.raises(ValueError, match=r"^citizen ID birth date 2026-01-02 is in the future$"):
        identity.parse_citizen_id(number, today=TODAY)


def test_it_reports_a_sex_that_disagrees_with_the_id() -> None:
    parsed = identity.parse_citizen_id(EXAMPLE, today=TODAY)

    problems = identity.check_consistency(parsed, birth_date=date(1949, 12, 31), sex="male")

    assert problems == ["sex male does not match the citizen ID (female)"]


def test_it_reports_a_birth_date_that_disagrees_with_the_id() -> None:
    parsed = identity.parse_citizen_id(EXAMPLE, today=TODAY)

    problems = identity.check_consistency(parsed, birth_date=date(1950, 1, 1), sex="female")

    assert problems == ["birth date 1950-01-01 does not match the citizen ID (1949-12-31)"]


def test_it_masks_a_citizen_id_without_the_birth_date_digits() -> None:
    masked = identity.mask_citizen_id(EXAMPLE)

    assert masked == "110***********002X"
    assert "19491231" not in masked
    assert "1949" not in masked


def test_it_masks_a_phone() -> None:
    assert identity.mask_phone("13812345678") == "138****5678"
    assert identity.mask_phone("") == ""


@given(region=region_codes, birth=birth_dates, sequence=sequences)
def test_it_parses_every_made_id_back(region: str, birth: date, sequence: int) -> None:
    number = identity.make_citizen_id(region, birth, sequence)

    parsed = identity.parse_citizen_id(number, today=TODAY)

    assert parsed.number == number
    assert parsed.region_code == region
    assert parsed.birth_date == birth
    assert parsed.sequence == f"{sequence:03d}"
    assert parsed.sex == ("male" if sequence % 2 == 1 else "female")


@given(region=region_codes, birth=birth_dates, sequence=sequences)
def test_it_never_shows_the_birth_date_in_a_masked_id(region: str, birth: date, sequence: int) -> None:
    number = identity.make_citizen_id(region, birth, sequence)

    masked = identity.mask_citizen_id(number)

    assert masked[6:14] == "*" * 8
    assert masked[:3] == number[:3]
    assert masked[-4:] == number[-4:]


@given(
    region=region_codes,
    birth=birth_dates,
    sequence=sequences,
    position=st.integers(min_value=0, max_value=16),
    shift=st.integers(min_value=1, max_value=9),
)
def test_it_catches_every_single_digit_typo(
    region: str, birth: date, sequence: int, position: int, shift: int
) -> None:
    number = identity.make_citizen_id(region, birth, sequence)
    typo = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]

    with pytest.raises(ValueError, match=r"^citizen ID "):
        identity.parse_citizen_id(typo, today=TODAY)
