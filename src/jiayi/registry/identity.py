"""Citizen ID (公民身份号码, GB 11643-1999) parsing and masking of personal identifiers.

Pure functions: no database, no clock except the `today` a caller passes in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # index = S mod 11, i.e. (12 - S mod 11) mod 11 written as a character
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_PHONE_SHAPE = re.compile(r"^1[3-9][0-9]{9}$")
EARLIEST_BIRTH = date(1890, 1, 1)


@dataclass(frozen=True, slots=True)
class CitizenId:
    """The facts a citizen ID number encodes."""

    number: str
    region_code: str
    birth_date: date
    sex: str  # "male" or "female", matching registry.choices.Sex values
    sequence: str


def check_character(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def normalise_citizen_id(value: str) -> str:
    """Strip spaces and upper-case a trailing x, the two things people type differently."""
    return value.strip().replace(" ", "").upper()


def parse_citizen_id(value: str, *, today: date | None = None) -> CitizenId:
    """Parse and validate an 18-character citizen ID.

    Raises ValueError with a message a clerk can act on: wrong length, non-digits, impossible birth date,
    a birth date in the future, or a wrong check character.
    """
    if not isinstance(value, str):
        raise ValueError("citizen ID must be text")
    number = normalise_citizen_id(value)
    if len(number) != 18:
        raise ValueError(f"citizen ID must have 18 characters, got {len(number)}")
    if not _ID_SHAPE.match(number):
        raise ValueError("citizen ID must be 17 digits followed by a digit or X")
    region_code = number[:6]
    if region_code[:2] in {"00", "99"} or region_code[0] == "0":
        raise ValueError(f"citizen ID region code {region_code} is not a GB/T 2260 code")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError(f"citizen ID birth date {number[6:14]} is not a real date") from None
    if birth < EARLIEST_BIRTH:
        raise ValueError(f"citizen ID birth date {birth.isoformat()} is before {EARLIEST_BIRTH.year}")
    if today is not None and birth > today:
        raise ValueError(f"citizen ID birth date {birth.isoformat()} is in the future")
    expected = check_character(number[:17])
    if number[17] != expected:
        raise ValueError(f"citizen ID check character is {number[17]}, expected {expected}")
    sequence = number[14:17]
    sex = "male" if int(sequence[2]) % 2 == 1 else "female"
    return CitizenId(number=number, region_code=region_code, birth_date=birth, sex=sex, sequence=sequence)


def check_consistency(parsed: CitizenId, *, birth_date: date | None, sex: str | None) -> list[str]:
    """Messages for each way a record's birth date or sex disagrees with its citizen ID (empty if none)."""
    problems = []
    if birth_date is not None and birth_date != parsed.birth_date:
        problems.append(
            f"birth date {birth_date.isoformat()} does not match the citizen ID "
            f"({parsed.birth_date.isoformat()})"
        )
    if sex is not None and sex in {"male", "female"} and sex != parsed.sex:
        problems.append(f"sex {sex} does not match the citizen ID ({parsed.sex})")
    return problems


def make_citizen_id(region_code: str, birth_date: date, sequence: int) -> str:
    """Build a valid ID; `sequence` 0–999, odd for men and even for women."""
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be between 0 and 999")
    first17 = f"{region_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def mask_citizen_id(value: str | None) -> str:
    """Mask an ID as 110***********1234: the region and the last four, never the birth date."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str | None) -> str:
    """Mask a phone number as 138****5678."""
    if not value:
        return ""
    digits = value.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(value: str | None) -> str:
    """Mask all but the family name: 张三丰 → 张**."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


def validate_phone(value: str) -> str:
    """Return a mainland mobile number normalised, or raise ValueError naming what is wrong."""
    digits = re.sub(r"[\s-]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    if not _PHONE_SHAPE.match(digits):
        raise ValueError("phone must be an 11-digit mainland mobile number starting with 13–19")
    return digits


def age_on(birth_date: date, on: date) -> int:
    """Age in completed years on a date (a 29 February birthday counts on 1 March in common years)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years
