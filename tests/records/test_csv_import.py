"""Bulk CSV feeds (docs/records-import.md): health-post readings and 65+ exam results, streamed in
chunks, idempotent on (source system, source_id), every bad row named by line and column."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jiayi.audit.models import AuditEntry
from jiayi.records import bulk
from jiayi.records.models import ElderlyExam, Observation
from jiayi.records.services import FILE, ROWS, do_import_csv
from jiayi.registry.models import Institution, Resident, Staff

pytestmark = pytest.mark.django_db
SOURCE = "post-platform"


def _csv(header: list[str], rows: list[list[object]]) -> list[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().splitlines(keepends=True)


def _readings(resident: Resident, rows: list[tuple[str, str, object, str]]) -> list[str]:
    """(source_id, code, value, unit) rows for one resident at one health post."""
    centre = Institution.objects.order_by("id").first()
    assert centre is not None
    header = ["source_id", "citizen_id", "institution", "effective_at", "code", "value", "unit"]
    body = [
        [source_id, resident.citizen_id, centre.code, "2025-06-01T08:15:00+08:00", code, value, unit]
        for source_id, code, value, unit in rows
    ]
    return _csv(header, body)


def _stored(prefix: str) -> list[tuple[str, str, float, str]]:
    return list(
        Observation.objects.filter(source_system=SOURCE, source_id__startswith=prefix)
        .order_by("source_id")
        .values_list("source_id", "code", "value", "method")
    )


def test_it_imports_readings_normalising_units_and_is_idempotent(resident_in_scope):
    lines = _readings(
        resident_in_scope,
        [("p-1", "8480-6", 132, "mmHg"), ("p-2", "8462-4", 84, "mm[Hg]"), ("p-3", "1558-6", 126, "mg/dL")],
    )
    outcome = do_import_csv(bulk.READINGS, lines, actor=None, source_system=SOURCE)
    assert (outcome.rows, outcome.created, outcome.failed) == (3, 3, 0)
    assert _stored("p-") == [
        ("p-1", "8480-6", 132.0, "smart_health_post"),
        ("p-2", "8462-4", 84.0, "smart_health_post"),
        ("p-3", "1558-6", 6.99, "smart_health_post"),
    ]
    audits = AuditEntry.objects.count()
    again = do_import_csv(bulk.READINGS, lines, actor=None, source_system=SOURCE)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert AuditEntry.objects.count() == audits  # nothing changed, nothing written or audited
    changed = _readings(resident_in_scope, [("p-1", "8480-6", 135, "mmHg")])
    third = do_import_csv(bulk.READINGS, changed, actor=None, source_system=SOURCE)
    assert (third.created, third.updated) == (0, 1)
    assert Observation.objects.get(source_system=SOURCE, source_id="p-1").value == 135.0
    assert AuditEntry.objects.filter(resource_type="observation").latest("id").detail["updated"] == 1


def test_it_names_line_and_column_and_keeps_the_good_rows_per_row(resident_in_scope):
    lines = _readings(
        resident_in_scope,
        [
            ("r-1", "8480-6", 130, "mmHg"),
            ("r-2", "8480-6", 400, "mmHg"),
            ("r-3", "8480-6", "abc", "mmHg"),
            ("r-4", "9999-9", 5, "mmHg"),
            ("r-5", "1558-6", 6, "furlongs"),
            ("r-6", "8480-6", 125, "mmHg"),
        ],
    )
    lines.insert(3, "\n")  # a blank line is skipped but still counts for the line numbers
    outcome = do_import_csv(bulk.READINGS, lines, actor=None, source_system=SOURCE, mode=ROWS)
    assert outcome.committed
    assert (outcome.rows, outcome.created, outcome.failed) == (6, 2, 4)
    assert [(p.line, p.column) for p in outcome.errors] == [
        (3, "value"),
        (5, "value"),
        (6, "code"),
        (7, "unit"),
    ]
    assert "400 mm[Hg] is outside the plausible range 50–300" in outcome.errors[0].reason
    assert str(outcome.errors[1]) == "line 5, column value: 'abc' is not a number"
    assert [row[0] for row in _stored("r-")] == ["r-1", "r-6"]


def test_it_writes_nothing_when_a_file_level_import_has_one_bad_row(resident_in_scope):
    rows = [(f"f-{i}", "8480-6", 120 + i % 40, "mmHg") for i in range(30)]
    rows[17] = ("f-17", "8480-6", 20, "mmHg")
    lines = _readings(resident_in_scope, rows)
    audits = AuditEntry.objects.filter(outcome="ok").count()
    # Small chunks: earlier chunks were written before the bad row was met, and must go too.
    outcome = do_import_csv(bulk.READINGS, lines, actor=None, source_system=SOURCE, mode=FILE, chunk_rows=7)
    assert not outcome.committed
    assert outcome.written == 0
    assert [(p.line, p.column) for p in outcome.errors] == [(19, "value")]
    assert _stored("f-") == []
    assert AuditEntry.objects.filter(outcome="ok").count() == audits
    assert AuditEntry.objects.latest("id").outcome == "invalid"


def test_it_refuses_unknown_residents_institutions_and_future_times(resident_in_scope):
    centre = Institution.objects.order_by("id").first()
    assert centre is not None
    header = [
        "source_id",
        "citizen_id",
        "health_record_number",
        "institution",
        "effective_at",
        "code",
        "value",
        "unit",
    ]
    rows = [
        ["u-1", "110101199003077777", "", centre.code, "2025-06-01T08:00", "8480-6", 120, "mmHg"],
        ["u-2", "", "99999999999999999", centre.code, "2025-06-01T08:00", "8480-6", 120, "mmHg"],
        ["u-3", resident_in_scope.citizen_id, "", "NOPE", "2025-06-01T08:00", "8480-6", 120, "mmHg"],
        ["u-4", resident_in_scope.citizen_id, "", centre.code, "2999-01-01T08:00", "8480-6", 120, "mmHg"],
        ["u-5", "", "", centre.code, "2025-06-01T08:00", "8480-6", 120, "mmHg"],
        ["", resident_in_scope.citizen_id, "", centre.code, "2025-06-01T08:00", "8480-6", 120, "mmHg"],
    ]
    outcome = do_import_csv(bulk.READINGS, _csv(header, rows), actor=None, source_system=SOURCE)
    assert [(p.line, p.column) for p in outcome.errors] == [
        (2, "citizen_id"),
        (3, "health_record_number"),
        (4, "institution"),
        (5, "effective_at"),
        (6, "citizen_id"),
        (7, "source_id"),
    ]
    assert "110***********7777" in outcome.errors[0].reason  # masked, never the whole number
    assert "is in the future" in outcome.errors[3].reason
    assert _stored("u-") == []


def test_it_refuses_a_source_id_that_belongs_to_another_resident(resident_in_scope, resident_out_of_scope):
    do_import_csv(
        bulk.READINGS,
        _readings(resident_in_scope, [("o-1", "8480-6", 120, "mmHg")]),
        actor=None,
        source_system=SOURCE,
    )
    other = do_import_csv(
        bulk.READINGS,
        _readings(resident_out_of_scope, [("o-1", "8480-6", 120, "mmHg")]),
        actor=None,
        source_system=SOURCE,
    )
    assert [(p.line, p.column) for p in other.errors] == [(2, "source_id")]
    assert Observation.objects.get(source_system=SOURCE, source_id="o-1").resident_id == resident_in_scope.pk


def test_it_refuses_a_bad_header_naming_the_columns():
    with pytest.raises(ValueError, match=r"unknown column.*colour"):
        do_import_csv(bulk.READINGS, ["source_id,colour\n"], actor=None, source_system=SOURCE)
    with pytest.raises(ValueError, match=r"missing column.*effective_at"):
        do_import_csv(bulk.READINGS, ["source_id,citizen_id,institution\n"], actor=None, source_system=SOURCE)
    with pytest.raises(ValueError, match="the file is empty"):
        do_import_csv(bulk.READINGS, [], actor=None, source_system=SOURCE)


def test_it_imports_65_plus_exam_forms_by_health_record_number(resident_in_scope):
    centre = Institution.objects.order_by("id").first()
    examiner = Staff.objects.filter(institution=centre).order_by("id").first()
    assert centre is not None
    assert examiner is not None
    header = [
        "source_id",
        "health_record_number",
        "institution",
        "exam_date",
        "examiner",
        *bulk.EXAM_ITEM_COLUMNS,
    ]
    answers = dict.fromkeys(bulk.EXAM_ITEM_COLUMNS, "正常")
    answers |= {"physical.height": "160.5", "physical.pulse": "72", "physical.blood_pressure": "132/84"}
    full = ["x-1", resident_in_scope.health_record_number, centre.code, "2025-05-01", examiner.code]
    partial = ["x-2", resident_in_scope.health_record_number, centre.code, "2024-05-01", ""]
    rows = [
        full + [answers[c] for c in bulk.EXAM_ITEM_COLUMNS],
        partial + ["" for _ in bulk.EXAM_ITEM_COLUMNS],
        ["x-3", resident_in_scope.health_record_number, centre.code, "2025-13-01", ""]
        + ["" for _ in bulk.EXAM_ITEM_COLUMNS],
        ["x-4", resident_in_scope.health_record_number, centre.code, "2025-05-01", "NO-SUCH"]
        + ["" for _ in bulk.EXAM_ITEM_COLUMNS],
    ]
    outcome = do_import_csv(bulk.ELDERLY_EXAMS, _csv(header, rows), actor=None, source_system=SOURCE)
    assert [(p.line, p.column) for p in outcome.errors] == [(4, "exam_date"), (5, "examiner")]
    exams = {e.source_id: e for e in ElderlyExam.objects.filter(source_system=SOURCE)}
    assert sorted(exams) == ["x-1", "x-2"]
    assert exams["x-1"].is_complete
    assert exams["x-1"].examiner_id == examiner.pk
    assert exams["x-1"].physical["height"] == 160.5
    assert exams["x-1"].physical["pulse"] == 72
    assert exams["x-1"].physical["blood_pressure"] == "132/84"
    assert exams["x-2"].exam_date == date(2024, 5, 1)
    assert not exams["x-2"].is_complete
    again = do_import_csv(bulk.ELDERLY_EXAMS, _csv(header, rows), actor=None, source_system=SOURCE)
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 2, 2)


def test_it_takes_the_later_row_when_a_file_repeats_an_identifier(resident_in_scope):
    lines = _readings(resident_in_scope, [("d-1", "8480-6", 120, "mmHg"), ("d-1", "8480-6", 128, "mmHg")])
    outcome = do_import_csv(bulk.READINGS, lines, actor=None, source_system=SOURCE)
    assert (outcome.created, outcome.updated, outcome.failed) == (1, 1, 0)
    assert [row[2] for row in _stored("d-")] == [128.0]


def test_it_runs_from_the_command_and_exits_non_zero_on_a_bad_row(tmp_path: Path, resident_in_scope):
    path = tmp_path / "posts.csv"
    path.write_text(
        "".join(
            _readings(resident_in_scope, [("c-1", "8480-6", 130, "mmHg"), ("c-2", "8867-4", 900, "/min")])
        ),
        encoding="utf-8-sig",  # spreadsheets save a byte-order mark; the header must still read
    )
    out = StringIO()
    with pytest.raises(CommandError, match="1 rows failed; nothing was written"):
        call_command("import-csv", "readings", str(path), "--mode", "file", "--no-progress", stdout=out)
    assert "line 3, column value: heart rate (8867-4) 900" in out.getvalue()
    assert _stored("c-") == []
    out = StringIO()
    with pytest.raises(CommandError, match="1 rows failed"):
        call_command("import-csv", "readings", str(path), "--no-progress", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert (summary["created"], summary["failed"], summary["committed"]) == (1, 1, True)
    assert Observation.objects.get(source_id="c-1").source_system == "file:posts.csv"
