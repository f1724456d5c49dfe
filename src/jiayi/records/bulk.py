"""The CSV layouts of the high-volume feeds (smart health posts, 65+ exam results) and how one row is read.

Pure: no database and no clock (callers pass `now`). A refused row raises RowError naming the column, so
the import can say "line 17, column value: …". The layouts are documented in docs/records-import.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.utils import timezone

from jiayi.records import lib
from jiayi.records.choices import ObservationMethod
from jiayi.registry import identity

READINGS = "readings"
ELDERLY_EXAMS = "elderly-exams"
KINDS = (READINGS, ELDERLY_EXAMS)

# Columns every row names the resident and the sender's identifier with.
_IDENTITY = ("source_id", "citizen_id", "health_record_number", "institution")
READING_COLUMNS = (*_IDENTITY, "effective_at", "code", "value", "unit", "method")
READING_REQUIRED = ("source_id", "institution", "effective_at", "code", "value", "unit")
EXAM_ITEM_COLUMNS = tuple(
    f"{part}.{item}" for part, items in lib.ELDERLY_EXAM_PARTS.items() for item in items
)
EXAM_COLUMNS = (*_IDENTITY, "exam_date", "examiner", *EXAM_ITEM_COLUMNS)
EXAM_REQUIRED = ("source_id", "institution", "exam_date")
SOURCE_ID_MAX_LENGTH = 190
_METHODS = frozenset(ObservationMethod.values)  # looked up per row: once, not per call


class RowError(ValueError):
    """A refused row: the column at fault and why."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"column {column}: {reason}")
        self.column = column
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RowKey:
    """Who a row is about and who sent it, resolved against the database by the import."""

    source_id: str
    citizen_id: str
    health_record_number: str
    institution: str


@dataclass(frozen=True, slots=True)
class ReadingRow:
    key: RowKey
    effective_at: datetime
    code: str
    value: float
    unit: str
    original_value: float
    original_unit: str
    method: str


@dataclass(frozen=True, slots=True)
class ExamRow:
    key: RowKey
    exam_date: date
    examiner: str
    parts: dict[str, dict[str, Any]]


def check_header(kind: str, header: Sequence[str]) -> list[str]:
    """The header's column names, stripped; ValueError naming unknown or missing columns."""
    names = [name.strip().lstrip("\ufeff") for name in header]
    known, required = (
        (READING_COLUMNS, READING_REQUIRED) if kind == READINGS else (EXAM_COLUMNS, EXAM_REQUIRED)
    )
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"line 1: unknown column(s) {', '.join(unknown)}; see docs/records-import.md")
    missing = [name for name in required if name not in names]
    if not {"citizen_id", "health_record_number"} & set(names):
        missing.append("citizen_id or health_record_number")
    if missing:
        raise ValueError(f"line 1: missing column(s) {', '.join(missing)}")
    if len(set(names)) != len(names):
        raise ValueError("line 1: a column is named twice")
    return names


def _key(values: Mapping[str, str]) -> RowKey:
    source_id = values.get("source_id", "").strip()
    if not source_id:
        raise RowError("source_id", "the sender's identifier is required to import idempotently")
    if len(source_id) > SOURCE_ID_MAX_LENGTH:
        raise RowError("source_id", f"longer than {SOURCE_ID_MAX_LENGTH} characters")
    citizen_id = identity.normalise_citizen_id(values.get("citizen_id", ""))
    record_number = values.get("health_record_number", "").strip()
    if not citizen_id and not record_number:
        raise RowError("citizen_id", "give the citizen ID or the health-record number")
    institution = values.get("institution", "").strip()
    if not institution:
        raise RowError("institution", "the code of the institution that produced the entry is required")
    return RowKey(source_id, citizen_id, record_number, institution)


def _moment(column: str, text: str, now: datetime) -> datetime:
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time.min)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(column, f"{text!r} is not a date-time (YYYY-MM-DDTHH:MM[:SS][+08:00])") from None
    if timezone.is_naive(moment):
        # The feeds are local devices: a time without an offset is Shanghai time.
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    try:
        lib.check_not_future(column, moment, now)
    except ValueError as exc:
        raise RowError(column, str(exc)) from None
    return moment


def parse_reading(values: Mapping[str, str], now: datetime) -> ReadingRow:
    """One self-measurement or device reading; the value normalised and checked like a FHIR one."""
    key = _key(values)
    effective_at = _moment("effective_at", values.get("effective_at", ""), now)
    code = values.get("code", "").strip()
    if code not in lib.SPECS:
        raise RowError("code", f"observation code {code!r} is not one jiayi records")
    text = values.get("value", "").strip()
    try:
        original = float(text)
    except ValueError:
        raise RowError("value", f"{text!r} is not a number") from None
    unit = values.get("unit", "").strip()
    try:
        normalised, canonical = lib.normalise_unit(code, original, unit)
    except ValueError as exc:
        raise RowError("unit", str(exc)) from None
    try:
        lib.check_plausible(code, normalised)
    except ValueError as exc:
        raise RowError("value", str(exc)) from None
    method = values.get("method", "").strip() or ObservationMethod.SMART_HEALTH_POST.value
    if method not in _METHODS:
        raise RowError("method", f"{method!r} is not one of {', '.join(ObservationMethod.values)}")
    return ReadingRow(key, effective_at, code, normalised, canonical, original, unit, method)


def _answer(text: str) -> Any:
    """A form answer: numbers as numbers (the exam's measurements), anything else as the text sent."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def parse_exam(values: Mapping[str, str], now: datetime) -> ExamRow:
    """One 65+ yearly exam form; its items go to the form's four parts, blank cells left out."""
    key = _key(values)
    text = values.get("exam_date", "").strip()
    try:
        exam_date = date.fromisoformat(text)
    except ValueError:
        raise RowError("exam_date", f"{text!r} is not a date (YYYY-MM-DD)") from None
    if exam_date > timezone.localtime(now + lib.CLOCK_SKEW).date():
        raise RowError("exam_date", f"exam_date {exam_date.isoformat()} is in the future")
    parts: dict[str, dict[str, Any]] = {part: {} for part in lib.ELDERLY_EXAM_PARTS}
    for column in EXAM_ITEM_COLUMNS:
        cell = values.get(column, "").strip()
        if cell:
            part, item = column.split(".", 1)
            parts[part][item] = _answer(cell)
    return ExamRow(key, exam_date, values.get("examiner", "").strip(), parts)
