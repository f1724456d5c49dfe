"""Ingesting counts through the API and the CSV importer: per-row errors, nothing half-written, revisions."""

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

from jiayi.surveillance import services
from jiayi.surveillance.models import AlertRule, DailyCount, RuleKind, Signal
from tests.conftest import Personas
from tests.surveillance.factories import add_series, ears_settings, make_unit, quiet_then_spike

pytestmark = pytest.mark.django_db
URL = "/api/surveillance/counts"


def post(client: Client, rows: list[dict[str, Any]]) -> Any:
    return client.post(URL, json.dumps({"rows": rows}), content_type="application/json")


@pytest.fixture
def cdc_client(personas: Personas) -> Client:
    client = Client()
    client.force_login(personas.cdc)
    return client


def test_it_names_every_bad_row_and_field_and_writes_nothing(cdc_client: Client) -> None:
    make_unit("U1")
    today = timezone.localdate()
    rows = [
        {"unit": "U1", "date": str(today), "code": "fever", "count": 3},
        {"unit": "NOPE", "date": str(today), "code": "fever", "count": 3},
        {"unit": "U1", "date": "03/01/2026", "code": "flu", "count": -1},
        {"unit": "U1", "date": str(today + timedelta(days=1)), "code": "fever", "count": "2"},
        {"unit": "U1", "date": str(today), "code": "fever", "count": 4},
    ]

    response = post(cdc_client, rows)

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"row": 2, "field": "unit", "message": "no reporting unit with this code"},
        {"row": 3, "field": "date", "message": "expected a date as YYYY-MM-DD"},
        {"row": 3, "field": "code", "message": response.json()["detail"][2]["message"]},
        {"row": 3, "field": "count", "message": "expected a whole number of at least 0"},
        {"row": 4, "field": "date", "message": "is in the future"},
        {"row": 5, "field": "date", "message": "repeats row 1 for this unit and code"},
    ]
    assert not DailyCount.objects.exists()


def test_it_revises_changed_counts_and_ignores_repeated_ones(cdc_client: Client) -> None:
    make_unit("U1")
    day = str(timezone.localdate() - timedelta(days=1))
    first = post(cdc_client, [{"unit": "U1", "date": day, "code": "fever", "count": 3}])
    same = post(cdc_client, [{"unit": "U1", "date": day, "code": "fever", "count": 3}])
    corrected = post(cdc_client, [{"unit": "U1", "date": day, "code": "fever", "count": 5}])

    assert first.status_code == 201
    assert first.json()["created"] == 1
    assert same.json()["unchanged"] == 1
    assert corrected.json()["revised"] == 1
    assert list(DailyCount.objects.values_list("revision", "count")) == [(0, 3), (1, 5)]


def test_it_reruns_detection_when_a_past_count_is_revised(cdc_client: Client) -> None:
    AlertRule.objects.create(name="two agree", kind=RuleKind.DETECTORS_AGREE, parameters={"k": 2})
    unit = make_unit("U1")
    today = timezone.localdate()
    add_series(unit, "fever", quiet_then_spike(), end=today)
    ears_settings(unit, "fever")
    services.do_detect(today)
    assert Signal.objects.filter(date=today).count() == 2

    # The spike was a typing error: 40 should have been 4.
    response = post(cdc_client, [{"unit": "U1", "date": str(today), "code": "fever", "count": 4}])

    assert response.json()["redetected"] == [["U1", "fever"]]
    assert not Signal.objects.filter(date=today).exists()


def test_it_refuses_counts_from_other_roles_as_if_the_route_did_not_exist(personas: Personas) -> None:
    make_unit("U1")
    for user in (personas.doctor, personas.manager, personas.analyst, personas.admin):
        client = Client()
        client.force_login(user)
        response = post(client, [{"unit": "U1", "date": "2026-01-01", "code": "fever", "count": 1}])
        assert response.status_code == 404, user.username
    assert not DailyCount.objects.exists()


def test_it_imports_csv_with_the_same_rules(tmp_path: Path, personas: Personas) -> None:
    make_unit("U1")
    good = tmp_path / "good.csv"
    good.write_text("unit,date,code,count\nU1,2026-01-01,fever,3\nU1,2026-01-02,fever,4\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,date,code,count\nU1,2026-01-03,fever,3\nU1,2026-01-04,fever,x\n", encoding="utf-8")

    call_command("surveillance", "import-counts", str(good))
    with pytest.raises(CommandError, match="1 errors; nothing imported"):
        call_command("surveillance", "import-counts", str(bad))

    assert sorted(DailyCount.objects.values_list("count", flat=True)) == [3, 4]


def test_it_names_the_csv_line_of_each_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,date,code,count\nU9,2026-01-03,fever,3\n", encoding="utf-8")

    with pytest.raises(CommandError):
        call_command("surveillance", "import-counts", str(bad))

    assert "line 2: unit: no reporting unit with this code" in capsys.readouterr().err


def test_it_raises_a_signal_when_a_late_correction_reveals_a_spike(cdc_client: Client) -> None:
    unit = make_unit("U1")
    today = timezone.localdate()
    add_series(unit, "fever", quiet_then_spike(spike=5), end=today)
    ears_settings(unit, "fever")
    services.do_detect(today)
    assert not Signal.objects.exists()

    # Yesterday's count arrives corrected upwards after today's run.
    yesterday = str(today - timedelta(days=1))
    response = post(cdc_client, [{"unit": "U1", "date": yesterday, "code": "fever", "count": 60}])

    assert response.json()["redetected"] == [["U1", "fever"]]
    assert set(Signal.objects.values_list("date", flat=True)) == {today - timedelta(days=1)}


def test_it_leaves_detection_alone_when_no_run_covered_the_revised_day(cdc_client: Client) -> None:
    unit = make_unit("U1")
    today = timezone.localdate()
    add_series(unit, "fever", quiet_then_spike(spike=5), end=today)
    ears_settings(unit, "fever")

    response = post(cdc_client, [{"unit": "U1", "date": str(today), "code": "fever", "count": 60}])

    assert response.json()["revised"] == 1
    assert response.json()["redetected"] == []
    assert not Signal.objects.exists()
