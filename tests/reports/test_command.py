"""`jiayi reports generate|evaluate` from the command line."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from jiayi.reports.models import IssuedReport

pytestmark = pytest.mark.django_db


def test_it_generates_the_requested_files_into_a_folder(tmp_path: Path) -> None:
    out = StringIO()
    call_command(
        "reports", "generate", "--kind", "quarterly_briefing", "--year", "2025", "--quarter", "3",
        "--format", "pdf", "--format", "docx", "--out", str(tmp_path), "--no-progress", stdout=out,
    )  # fmt: skip

    report = IssuedReport.objects.get()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        f"quarterly_briefing-2025-Q3-district{report.scope_id}.docx",
        f"quarterly_briefing-2025-Q3-district{report.scope_id}.pdf",
    ]
    assert (tmp_path / names[1]).read_bytes().startswith(b"%PDF")
    assert f"report #{report.pk} issued" in out.getvalue()


def test_it_refuses_a_bad_request_with_the_field_named(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="quarter"):
        call_command(
            "reports", "generate", "--kind", "quarterly_briefing", "--year", "2025", "--out", str(tmp_path)
        )
    assert not IssuedReport.objects.exists()


def test_it_prints_the_evaluation_with_the_whole_budget_allocated() -> None:
    out = StringIO()
    call_command("reports", "evaluate", "--year", "2025", "--budget", "500000", stdout=out)
    rows = json.loads(out.getvalue())
    assert rows
    assert sum(float(row["funding"]) for row in rows) == pytest.approx(500000.0)
    assert [row["rank"] for row in rows] == sorted(row["rank"] for row in rows)
    # The fixture district has no survey answers: satisfaction is reported missing, not invented.
    assert all("satisfaction.score" in row["missing"] for row in rows)


def test_it_issues_what_is_due_once(tmp_path: Path) -> None:
    out = StringIO()
    call_command("reports", "issue-due", "--today", "2026-04-10", stdout=out)
    call_command("reports", "issue-due", "--today", "2026-04-11", stdout=out)

    issued = IssuedReport.objects.get()
    assert (issued.kind, issued.year, issued.quarter, issued.status) == (
        "quarterly_briefing",
        2026,
        1,
        "done",
    )
    assert set(issued.files.values_list("file_format", flat=True)) == {"pdf", "docx", "xlsx"}
    assert "nothing due that is not issued already" in out.getvalue()
