"""The boards: who sees what, suppressed small cells, the residents behind a figure (masked, scoped
and audited), the JSON for the charts, the Excel export and the family doctor's own board."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.test import Client
from openpyxl import load_workbook

from jiayi import access
from jiayi.audit.models import AuditEntry
from jiayi.indicators import board, catalogue, engine

from .test_fixture_indicators import populate
from .world import AS_OF, World, build_world

pytestmark = pytest.mark.django_db
DAY = AS_OF.isoformat()


def _client(user, personas) -> Client:
    client = Client()
    assert client.login(username=user.username, password=personas.password)
    return client


@pytest.fixture
def world() -> World:
    built = build_world()
    populate(built)
    return built


@pytest.mark.parametrize("persona", ["desk", "resident"])
def test_roles_without_indicators_get_404(personas, persona: str) -> None:
    response = _client(getattr(personas, persona), personas).get("/indicators/")
    assert response.status_code == 404


def test_the_board_shows_status_and_how_computed(personas) -> None:
    response = _client(personas.manager, personas).get(f"/indicators/?level=district&as_of={DAY}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "常住居民签约覆盖率" in html
    assert "ind-status" in html
    assert catalogue.get("ehr.filing_rate").description[:30] in html
    assert "vendor/echarts.min.js" in html


def test_analysts_see_small_cells_suppressed(personas, world: World) -> None:
    # The hand-built street has 1 signed hypertensive patient: below the threshold of 5.
    response = _client(personas.analyst, personas).get(
        f"/indicators/?level=street&unit={world.street.pk}&as_of={DAY}"
    )
    html = response.content.decode()
    assert "&lt;5" in html
    assert "indicators/residents/" not in html
    assert (
        _client(personas.analyst, personas)
        .get(f"/indicators/residents/?code=signing.coverage&level=street&unit={world.street.pk}&as_of={DAY}")
        .status_code
        == 404
    )


def test_suppression_hides_the_value_with_the_count() -> None:
    row = {"code": "signing.coverage", "numerator": 3, "denominator": 40, "value": 0.075, "met": False}
    assert board.suppress(3, 5) == "<5"
    assert board.suppress(0, 5) == 0
    assert board.suppress(7, 5) == 7
    shown = board.shown(None, row)  # no account: the non-clinical threshold
    assert shown["numerator"] == "<5"
    assert shown["value"] is None


def test_a_doctor_sees_only_their_own_doctor_figures(personas) -> None:
    rows = board.scoped_rows(personas.doctor, AS_OF, "doctor", "year")
    assert {row["unit_id"] for row in rows} <= {personas.doctor.account.staff_id}
    other = board.scoped_rows(personas.other_doctor, AS_OF, "doctor", "year")
    assert {row["unit_id"] for row in other}.isdisjoint({personas.doctor.account.staff_id})


def test_drill_down_lists_masked_residents_in_scope_and_audits(personas) -> None:
    doctor_id = personas.doctor.account.staff_id
    client = _client(personas.doctor, personas)
    before = AuditEntry.objects.filter(resource_type="indicator_residents").count()
    response = client.get(
        f"/indicators/residents/?code=signing.coverage&level=doctor&unit={doctor_id}&side=denominator&as_of={DAY}"
    )
    assert response.status_code == 200
    page = response.context["page"]
    listed = list(page.object_list)
    assert listed
    visible = set(access.residents_visible_to(personas.doctor).values_list("pk", flat=True))
    assert {r.pk for r in listed} <= visible
    html = response.content.decode()
    for resident in listed[:5]:
        assert resident.name not in html
        if resident.citizen_id:
            assert resident.citizen_id not in html
    row = next(
        r
        for r in engine.compute(AS_OF, level="doctor", codes=["signing.coverage"])
        if r["unit_id"] == doctor_id
    )
    assert page.paginator.count <= row["denominator"]
    assert AuditEntry.objects.filter(resource_type="indicator_residents").count() == before + 1


def test_drill_down_refuses_another_doctors_unit(personas) -> None:
    other_id = personas.other_doctor.account.staff_id
    response = _client(personas.doctor, personas).get(
        f"/indicators/residents/?code=signing.coverage&level=doctor&unit={other_id}&as_of={DAY}"
    )
    assert response.status_code == 404


def test_chart_json(personas, world: World) -> None:
    client = _client(personas.analyst, personas)
    ranking = client.get(f"/indicators/ranking.json?code=signing.coverage&level=street&as_of={DAY}").json()
    assert ranking["units"]
    values = [u["value"] for u in ranking["units"] if u["value"] is not None]
    assert values == sorted(values, reverse=True)
    trend = client.get(
        f"/indicators/trend.json?code=signing.coverage&level=district&unit={world.district.pk}&as_of={DAY}"
    ).json()
    assert [p["date"] for p in trend["points"]][-1] == DAY
    assert len(trend["points"]) == 6
    geo = client.get(f"/indicators/map.json?code=ehr.filing_rate&as_of={DAY}").json()
    assert any(s["name"] == world.street.name for s in geo["streets"])
    assert geo["geojson"]["type"] == "FeatureCollection"
    assert client.get("/indicators/ranking.json?code=nope").status_code == 404


def test_excel_export_is_audited(personas) -> None:
    client = _client(personas.manager, personas)
    response = client.get(f"/indicators/export.xlsx?level=centre&as_of={DAY}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    centres = {row[2] for row in book["indicators"].iter_rows(min_row=2, values_only=True)}
    assert centres == {access.centre_of(personas.manager.account).pk}
    assert AuditEntry.objects.filter(resource_type="indicators", action="export").exists()


def test_the_family_doctor_home_page_embeds_their_board(personas) -> None:
    response = _client(personas.doctor, personas).get("/")
    assert response.status_code == 200
    assert "ind-doctor-board" in response.content.decode()
    manager_home = _client(personas.manager, personas).get("/").content.decode()
    assert "ind-doctor-board" not in manager_home


def test_month_ends() -> None:
    assert board.month_ends(date(2026, 3, 15)) == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 15)]


def test_trend_queues_unbuilt_months_instead_of_building_them(personas, world: World) -> None:
    """A past month end that is not kept yet comes back pending with its build queued; the request
    never builds it. Once the queued build has run, the month has its figure."""
    from django.core.cache import cache
    from django_tasks_db.models import DBTaskResult

    from jiayi.indicators import tasks
    from jiayi.indicators.models import FactPeriod

    cache.clear()
    client = _client(personas.analyst, personas)
    url = f"/indicators/trend.json?code=signing.coverage&level=district&unit={world.district.pk}&as_of={DAY}"
    before = set(FactPeriod.objects.values_list("as_of", flat=True))
    points = client.get(url).json()["points"]
    pending = [p["date"] for p in points if p["pending"]]
    assert pending
    assert DAY not in pending
    assert all(p["value"] is None for p in points if p["pending"])
    assert {d.isoformat() for d in FactPeriod.objects.values_list("as_of", flat=True)} == {
        d.isoformat() for d in before | {date.fromisoformat(DAY)}
    }
    queued = DBTaskResult.objects.filter(task_path="jiayi.indicators.tasks.build_period")
    assert sorted(r.args_kwargs["args"][1] for r in queued) == sorted(pending)
    # A second look within the hour queues nothing more.
    client.get(url)
    assert queued.count() == len(pending)

    tasks.build_period.call("year", pending[0])
    again = {p["date"]: p for p in client.get(url).json()["points"]}
    assert again[pending[0]]["pending"] is False
    assert again[pending[0]]["denominator"] > 0
