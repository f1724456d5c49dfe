"""The yearly personal report: a Chinese PDF whose text carries the resident's measurements, risk,
plan and services; batch generation for a centre with progress; the resident's own page."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from jiayi.care import report, services
from jiayi.care.models import ReportBatch, YearlyReport
from jiayi.registry.models import Resident
from jiayi.signing.models import Signing
from tests.signing.helpers import client_for

from .helpers import enrol, observe, scheduled

pytestmark = pytest.mark.django_db
YEAR = 2026


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


def _history(resident: Resident) -> None:
    resident.birth_date = date(1968, 3, 1)
    resident.sex = "male"
    resident.save(update_fields=["birth_date", "sex"])
    services.do_record_assessment(
        None,
        resident,
        services.AssessmentInput(
            performed_on=date(YEAR, 3, 2),
            smoking="current",
            sbp=150,
            dbp=92,
            bmi=27.7,
            waist_cm=92,
            total_cholesterol_mmol=5.6,
            hdl_mmol=0.9,
            height_cm=170,
            weight_kg=80,
            has_hypertension=True,
        ),
        today=date(YEAR, 3, 2),
    )
    follow_up = scheduled(enrol(resident, "I10", on=date(YEAR, 3, 2)))
    services.do_record_follow_up(
        None,
        follow_up,
        services.FollowUpInput(performed_on=date(YEAR, 3, 16), sbp=146, dbp=88),
        today=date(YEAR, 3, 16),
    )
    observe(resident, "8480-6", 132, "mm[Hg]", date(YEAR, 6, 1))
    observe(resident, "8462-4", 82, "mm[Hg]", date(YEAR, 6, 1))
    observe(resident, "29463-7", 78, "kg", date(YEAR, 6, 1))


def test_the_report_is_a_chinese_pdf_with_measurements_risk_plan_and_services(
    signed: list[Signing], tmp_path: Path
) -> None:
    resident = signed[0].resident
    _history(resident)

    made = report.do_generate_report(resident, YEAR)

    text = pdf_text(bytes(made.pdf), tmp_path)
    assert "2026年度个人健康报告" in text
    assert resident.name in text
    assert signed[0].family_doctor.name in text
    assert "患病人群" in text  # a patient under management
    assert "China-PAR" in text
    assert "150/92 mmHg" in text  # the assessment's reading
    assert "146/88" in text
    assert "132/82" in text
    assert "78 kg" in text
    assert "戒烟" in text  # a lifestyle goal of the plan
    assert "慢病随访" in text
    assert "1次" in text
    assert resident.citizen_id
    assert resident.citizen_id not in text
    if resident.phone:
        assert resident.phone not in text


def test_a_centre_batch_generates_every_signed_residents_report_with_progress(signed: list[Signing]) -> None:
    centre = signed[0].centre
    batch = ReportBatch.objects.create(centre=centre, year=timezone_year())
    seen: list[tuple[int, int]] = []

    report.run_batch(batch, on_progress=lambda done, total: seen.append((done, total)))

    batch.refresh_from_db()
    assert batch.status == "done"
    assert batch.total == batch.done >= len(signed)
    assert seen[-1] == (batch.done, batch.total)
    assert YearlyReport.objects.filter(
        resident__in=[s.resident for s in signed], year=batch.year
    ).count() == len(signed)


def timezone_year() -> int:
    from django.utils import timezone

    return timezone.localdate().year


def test_the_resident_reads_only_their_own_report(personas: Any, signed: list[Signing]) -> None:
    own = personas.resident.account.resident
    report.do_generate_report(own, YEAR)
    report.do_generate_report(signed[0].resident, YEAR)
    client = client_for(personas.resident)

    page = client.get("/care/me/")
    pdf = client.get(f"/care/me/reports/{YEAR}.pdf")

    assert page.status_code == 200
    assert f"/care/me/reports/{YEAR}.pdf" in page.content.decode()
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get(f"/care/me/reports/{YEAR - 1}.pdf").status_code == 404
    assert client.get(f"/care/residents/{signed[0].resident_id}/reports/{YEAR}.pdf").status_code == 404


def test_the_care_team_generates_and_reads_a_report(personas: Any, signed: list[Signing]) -> None:
    resident = signed[0].resident
    client = client_for(personas.doctor)

    assert client.get(f"/care/residents/{resident.pk}/reports/{YEAR}.pdf").content.startswith(b"%PDF")
    assert not YearlyReport.objects.filter(resident=resident).exists()  # a preview is not stored
    assert client.post(f"/care/residents/{resident.pk}/reports/{YEAR}.pdf").status_code == 302
    assert YearlyReport.objects.filter(resident=resident, year=YEAR).exists()
    assert client.get(f"/care/residents/{resident.pk}/reports/{YEAR}.pdf").content.startswith(b"%PDF")


def test_a_centre_manager_starts_a_batch(personas: Any) -> None:
    client = client_for(personas.manager)

    response = client.post("/care/reports/", {"year": "2026"})

    assert response.status_code == 302
    assert ReportBatch.objects.filter(year=2026).exists()
    assert "2026" in client.get("/care/reports/").content.decode()
    assert client_for(personas.doctor).get("/care/reports/").status_code == 404
