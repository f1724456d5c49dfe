"""Ingesting case reports and lab results through the API and CSV: per-row errors, all or nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from jiayi.audit.models import AuditEntry
from jiayi.registry.models import Place, Resident
from jiayi.surveillance.models import CaseReport, LabResult
from tests.conftest import Personas
from tests.surveillance.factories import make_unit

pytestmark = pytest.mark.django_db


def post(client: Client, url: str, rows: list[dict[str, Any]]) -> Any:
    return client.post(url, json.dumps({"rows": rows}), content_type="application/json")


@pytest.fixture
def cdc_client(personas: Personas) -> Client:
    client = Client()
    client.force_login(personas.cdc)
    return client


def a_place() -> Place:
    place = Place.objects.order_by("code").first()
    assert place is not None
    return place


def a_resident() -> Resident:
    resident = Resident.objects.filter(citizen_id__isnull=False).order_by("id").first()
    assert resident is not None
    return resident


def test_it_stores_case_reports_linked_to_place_unit_and_resident(cdc_client: Client) -> None:
    make_unit("U1")
    place, resident = a_place(), a_resident()
    today = timezone.localdate()
    assert resident.citizen_id is not None
    rows = [
        {
            "code": "cholera",
            "onset_date": str(today - timedelta(days=2)),
            "reported_on": str(today),
            "place": place.code,
            "unit": "U1",
            "citizen_id": resident.citizen_id.lower(),
        },
        {"code": "hfmd", "onset_date": str(today), "reported_on": str(today), "place": place.code},
    ]
    response = post(cdc_client, "/api/surveillance/cases", rows)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] == 2
    first, second = (CaseReport.objects.get(pk=pk) for pk in body["ids"])
    assert (first.code, first.unit.code if first.unit else None, first.resident_id) == (
        "cholera",
        "U1",
        resident.pk,
    )
    assert (second.unit, second.resident) == (None, None)
    entry = AuditEntry.objects.filter(resource_type="surveillance case reports").latest("id")
    assert entry.detail["with_resident"] == 1
    assert resident.citizen_id not in json.dumps(entry.detail)


def test_it_names_every_bad_case_row_and_field_and_writes_nothing(cdc_client: Client) -> None:
    place = a_place()
    today = timezone.localdate()
    good = {"code": "hfmd", "onset_date": str(today), "reported_on": str(today), "place": place.code}
    rows = [
        good,
        {**good, "code": "ebola"},
        {**good, "onset_date": str(today + timedelta(days=1))},
        {**good, "onset_date": str(today), "reported_on": str(today - timedelta(days=3))},
        {**good, "place": "nowhere", "unit": "U9"},
        {**good, "citizen_id": "12345"},
        {**good, "citizen_id": "11010519491231002X"},
        {**good, "reported_on": "yesterday"},
    ]
    response = post(cdc_client, "/api/surveillance/cases", rows)
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in response.json()["detail"]] == [
        (2, "code"),
        (3, "onset_date"),
        (4, "onset_date"),
        (5, "place"),
        (5, "unit"),
        (6, "citizen_id"),
        (7, "citizen_id"),
        (8, "reported_on"),
    ]
    assert response.json()["detail"][6]["message"] == "no resident with this citizen ID"
    assert not CaseReport.objects.exists()


def test_it_stores_lab_results_and_checks_each_field(cdc_client: Client) -> None:
    make_unit("U1")
    today = timezone.localdate()
    case = CaseReport.objects.create(code="cholera", onset_date=today, reported_on=today, place=a_place())
    good = {"unit": "U1", "sampled_on": str(today), "pathogen": "Vibrio cholerae O1", "outcome": "positive"}
    bad = [
        {**good, "case": 999_999},
        {**good, "unit": "U2", "outcome": "maybe"},
        {**good, "pathogen": "", "sampled_on": "2026-02-30"},
    ]
    response = post(cdc_client, "/api/surveillance/lab-results", [good, *bad])
    assert response.status_code == 422
    assert [(e["row"], e["field"]) for e in response.json()["detail"]] == [
        (2, "case"),
        (3, "unit"),
        (3, "outcome"),
        (4, "sampled_on"),
        (4, "pathogen"),
    ]
    assert not LabResult.objects.exists()
    response = post(
        cdc_client, "/api/surveillance/lab-results", [{**good, "case": case.pk}, {**good, "outcome": ""}]
    )
    assert response.status_code == 201
    results = LabResult.objects.order_by("id")
    assert [(r.case_id, r.outcome) for r in results] == [(case.pk, "positive"), (None, "pending")]


def test_only_cdc_officers_submit(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.doctor)
    assert post(client, "/api/surveillance/cases", []).status_code == 404
    assert post(client, "/api/surveillance/lab-results", []).status_code == 404


def test_the_csv_importers_follow_the_same_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_unit("U1")
    place = a_place()
    today = timezone.localdate()
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "code,onset_date,reported_on,place,unit\n"
        f"hfmd,{today},{today},{place.code},U1\n"
        f"measles,{today},{today},{place.code},\n",
        encoding="utf-8-sig",
    )
    call_command("surveillance", "import-cases", str(cases))
    assert CaseReport.objects.count() == 2
    labs = tmp_path / "labs.csv"
    labs.write_text(
        f"unit,sampled_on,pathogen,outcome\nU1,{today},measles virus,negative\nU7,{today},,positive\n"
    )
    with pytest.raises(CommandError, match="2 errors; nothing imported"):
        call_command("surveillance", "import-lab-results", str(labs))
    assert capsys.readouterr().err.splitlines() == [
        "line 3: unit: no reporting unit with this code",
        "line 3: pathogen: expected a name of 1 to 64 characters",
    ]
    assert not LabResult.objects.exists()
    missing = tmp_path / "short.csv"
    missing.write_text("unit,sampled_on\n")
    with pytest.raises(CommandError, match="the header must name the columns"):
        call_command("surveillance", "import-lab-results", str(missing))
