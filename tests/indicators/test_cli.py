"""`jiayi indicators`: JSON rows, CSV, Excel, and the rebuild."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from jiayi.indicators.models import FactPeriod

pytestmark = pytest.mark.django_db

KEYS = {"code", "level", "unit_id", "unit_name", "numerator", "denominator", "value", "target", "met"}


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("indicators", *args, stdout=out)
    return out.getvalue()


def test_json_rows_for_one_code_at_the_centre_level() -> None:
    rows = json.loads(_run("--as-of", "2026-01-01", "--level", "centre", "--code", "signing.coverage"))
    assert rows
    assert all(set(row) == KEYS for row in rows)
    assert {row["code"] for row in rows} == {"signing.coverage"}
    assert {row["level"] for row in rows} == {"centre"}
    for row in rows:
        expected = row["numerator"] / row["denominator"] if row["denominator"] else None
        assert row["value"] == expected


def test_csv_and_quarter(tmp_path) -> None:
    text = _run(
        "--as-of", "2026-01-01", "--period", "quarter", "--format", "csv", "--code", "ehr.filing_rate"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["code"] == "ehr.filing_rate"
    assert FactPeriod.objects.filter(kind="quarter").exists()


def test_xlsx_to_a_file(tmp_path) -> None:
    path = tmp_path / "indicators.xlsx"
    call_command(
        "indicators", "--as-of", "2026-01-01", "--level", "street", "--format", "xlsx", "--output", str(path)
    )
    book = load_workbook(path)
    sheet = book["indicators"]
    header = [cell.value for cell in sheet[1]]
    assert header[0].endswith("code")
    assert sheet.max_row > 10
    assert book["definitions"].max_row > 20


def test_bad_date_and_code_fail_clearly() -> None:
    with pytest.raises(CommandError, match="--as-of"):
        _run("--as-of", "2026-13-01")
    with pytest.raises(CommandError, match=r"no\.such"):
        _run("--as-of", "2026-01-01", "--code", "no.such")


def test_rebuild() -> None:
    _run("--as-of", "2026-01-01", "--code", "signing.coverage")
    err = io.StringIO()
    call_command("indicators", "rebuild", stderr=err)
    assert "rebuilt 1 period" in err.getvalue()
