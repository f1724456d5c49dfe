"""Every report kind renders for the synthetic district as PDF, Word and Excel, with its Chinese text and
its key figures in each file (read back by text extraction, python-docx and openpyxl)."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from jiayi.indicators import engine
from jiayi.indicators.catalogue import INDICATORS
from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place
from jiayi.reports import content, data, services
from jiayi.reports.kinds import KINDS, ReportKind
from jiayi.reports.models import IssuedReport, ReportStatus
from jiayi.synth.signings import generate_signings
from tests.conftest import TEST_DISTRICT

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 23)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


@pytest.fixture
def district() -> Place:
    generate_signings(TEST_DISTRICT, TEST_DISTRICT.seed, TEST_DISTRICT.as_of)
    return Place.objects.get(level=PlaceLevel.DISTRICT)


def _issue(kind: ReportKind, district: Place, **extra: object) -> IssuedReport:
    quarter = 4 if kind == ReportKind.QUARTERLY_BRIEFING else None
    report = services.do_request_report(
        None,
        kind=kind,
        year=2025,
        quarter=quarter,
        scope=data.district_scope(district),
        formats=["pdf", "docx", "xlsx"],
        today=TODAY,
        **extra,  # type: ignore[arg-type]
    )
    return services.generate(report.pk)


def _pdf_text(body: bytes) -> str:
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (poppler-utils) is installed by the set-up script"
    done = subprocess.run([pdftotext, "-layout", "-", "-"], input=body, capture_output=True, check=True)
    return done.stdout.decode()


@pytest.mark.parametrize("kind", list(ReportKind))
def test_each_report_renders_in_all_three_formats_with_chinese_text_and_figures(
    kind: ReportKind, district: Place
) -> None:
    report = _issue(kind, district, budget="1000000" if kind == ReportKind.COMPREHENSIVE_EVALUATION else None)

    assert report.status == ReportStatus.DONE, report.error
    assert report.steps_done == report.steps_total
    files = {f.file_format: bytes(f.content) for f in report.files.all()}
    assert set(files) == {"pdf", "docx", "xlsx"}
    title = KINDS[kind].title
    code = KINDS[kind].codes[0]  # each report's leading indicator, a percentage
    period = "quarter" if report.quarter else "year"
    headline = next(
        row
        for row in engine.compute(report.as_of, level="district", codes=[code], period=period)
        if row["unit_id"] == district.pk
    )
    figure = content.format_value(headline["value"], "percent")
    name = next(i.name_zh for i in INDICATORS if i.code == code)
    assert headline["denominator"] > 0

    text = _pdf_text(files["pdf"])
    assert title in text
    assert district.name in text
    assert name in text
    assert figure in text

    document = Document(io.BytesIO(files["docx"]))
    words = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    )
    assert title in words
    assert figure in words

    workbook = load_workbook(io.BytesIO(files["xlsx"]))
    assert workbook["封面"]["A1"].value == title
    main = workbook["主要指标"]
    by_code = {row[0]: row for row in main.iter_rows(min_row=3, values_only=True)}
    assert by_code[code][2:4] == (headline["numerator"], headline["denominator"])
    assert by_code[code][4] == pytest.approx(headline["value"])
    assert main.cell(row=3, column=5).number_format == "0.0%"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{kind.value}.pdf").write_bytes(files["pdf"])


def test_the_comprehensive_evaluation_ranks_every_centre_and_allocates_the_whole_budget(
    district: Place,
) -> None:
    report = _issue(ReportKind.COMPREHENSIVE_EVALUATION, district, budget="1234567.89")
    workbook = load_workbook(io.BytesIO(bytes(report.files.get(file_format="xlsx").content)))
    rows = list(workbook["综合评价"].iter_rows(min_row=3, values_only=True))

    centres = data.centres_of_district(district.pk)
    assert {row[1] for row in rows} == set(centres.values_list("name", flat=True))
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)
    assert sum(Decimal(str(row[6])) for row in rows) == Decimal("1234567.89")
    # No survey answers in the fixture district: satisfaction is missing everywhere and says so.
    assert all(row[4] == 0 for row in rows)


def test_a_failed_generation_keeps_no_file_and_names_the_reason(district: Place) -> None:
    report = services.do_request_report(
        None,
        kind="signing_analysis",
        year=2025,
        quarter=None,
        scope=data.district_scope(district),
        formats=["pdf"],
        today=TODAY,
    )

    def broken(*_args: object, **_kwargs: object) -> list[dict[str, object]]:
        raise RuntimeError("engine unavailable")

    with pytest.raises(RuntimeError):
        services.generate(report.pk, compute=broken)
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert "engine unavailable" in report.error
    assert not report.files.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "annual_poem"}, "kind"),
        ({"year": 2031}, "year"),
        ({"kind": "quarterly_briefing"}, "quarter"),
        ({"quarter": 2}, "quarter"),
        ({"formats": ["pdf", "odt"]}, "formats"),
        ({"formats": []}, "formats"),
        ({"budget": "lots"}, "budget"),
        ({"budget": "100"}, "budget"),  # only the comprehensive evaluation allocates funding
    ],
)
def test_a_bad_request_is_refused_naming_the_field_and_nothing_is_archived(
    district: Place, changes: dict[str, object], field: str
) -> None:
    request: dict[str, object] = {
        "kind": "signing_analysis",
        "year": 2025,
        "quarter": None,
        "formats": ["pdf"],
    }
    request.update(changes)
    with pytest.raises(services.ReportRequestError) as caught:
        services.do_request_report(None, scope=data.district_scope(district), today=TODAY, **request)  # type: ignore[arg-type]
    assert field in {name for name, _message in caught.value.errors}
    assert not IssuedReport.objects.exists()
