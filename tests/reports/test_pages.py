"""The report pages: who may issue reports, the request form, progress, downloads, and the archive."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jiayi.audit.models import Action, AuditEntry
from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Institution, Place
from jiayi.reports import data, services
from jiayi.reports.models import IssuedReport, ReportStatus

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def district() -> Place:
    return Place.objects.get(level=PlaceLevel.DISTRICT)


@pytest.mark.parametrize("persona", ["doctor", "nurse", "desk", "cdc", "admin", "resident"])
def test_it_is_not_there_for_roles_that_issue_no_reports(personas: Any, persona: str) -> None:
    assert _client(getattr(personas, persona)).get("/reports/").status_code == 404


def test_an_analyst_issues_a_report_and_downloads_it_when_the_worker_is_done(
    personas: Any, district: Place, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TASKS = IMMEDIATE
    analyst = _client(personas.analyst)
    form = analyst.get("/reports/")
    assert form.status_code == 200
    assert f'value="district:{district.pk}"' in form.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = analyst.post(
            "/reports/",
            {
                "kind": "signing_analysis",
                "scope": f"district:{district.pk}",
                "year": "2025",
                "formats": ["pdf", "xlsx"],
            },
        )

    report = IssuedReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/reports/{report.pk}/"
    assert report.status == ReportStatus.DONE, report.error
    page = analyst.get(f"/reports/{report.pk}/").content.decode()
    assert 'data-format="pdf"' in page
    assert 'data-format="xlsx"' in page
    download = analyst.get(f"/reports/{report.pk}/pdf/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download.content.startswith(b"%PDF")
    assert AuditEntry.objects.filter(
        resource_type="report", resource_id=str(report.pk), action=Action.EXPORT
    ).exists()
    # The archive lists it.
    assert f"/reports/{report.pk}/" in analyst.get("/reports/").content.decode()


def test_the_progress_fragment_polls_until_the_report_is_finished(personas: Any, district: Place) -> None:
    report = services.do_request_report(
        None,
        kind="signing_analysis",
        year=2025,
        quarter=None,
        scope=data.district_scope(district),
        formats=["pdf"],
    )
    analyst = _client(personas.analyst)

    queued = analyst.get(f"/reports/{report.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in queued
    assert "<progress" in queued

    services.generate(report.pk)
    done = analyst.get(f"/reports/{report.pk}/progress/", HTTP_HX_REQUEST="true")
    assert "every 1s" not in done.content.decode()
    assert done["HX-Trigger"] == "report-finished"


def test_a_bad_request_answers_422_naming_the_field_and_archives_nothing(
    personas: Any, district: Place
) -> None:
    response = _client(personas.analyst).post(
        "/reports/",
        {
            "kind": "quarterly_briefing",
            "scope": f"district:{district.pk}",
            "year": "2025",
            "formats": ["pdf"],
        },
    )
    assert response.status_code == 422
    assert "quarter:" in response.content.decode()
    assert not IssuedReport.objects.exists()


def test_a_manager_reports_on_their_centre_and_never_sees_another_centres_report(
    personas: Any, district: Place
) -> None:
    manager = _client(personas.manager)
    centre: Institution = personas.manager.account.institution.centre
    other = Institution.objects.filter(kind=centre.kind).exclude(pk=centre.pk).first()
    assert other is not None
    options = manager.get("/reports/").content.decode()
    assert f'value="centre:{centre.pk}"' in options
    assert f'value="centre:{other.pk}"' not in options

    foreign = services.do_request_report(
        None,
        kind="signing_analysis",
        year=2025,
        quarter=None,
        scope=data.centre_scope(other),
        formats=["pdf"],
    )
    own = services.do_request_report(
        None,
        kind="signing_analysis",
        year=2025,
        quarter=None,
        scope=data.centre_scope(centre),
        formats=["pdf"],
    )
    # A scope it may not report on, forged into the form, is refused like any unknown one.
    forged = manager.post(
        "/reports/",
        {"kind": "signing_analysis", "scope": f"centre:{other.pk}", "year": "2025", "formats": ["pdf"]},
    )

    assert forged.status_code == 422
    assert manager.get(f"/reports/{own.pk}/").status_code == 200
    assert manager.get(f"/reports/{foreign.pk}/").status_code == 404
    assert manager.get(f"/reports/{foreign.pk}/pdf/").status_code == 404
    # Analysts report on districts; a centre's own report stays with its centre.
    assert _client(personas.analyst).get(f"/reports/{own.pk}/").status_code == 404
