"""The alert workflow through the API and the page: allowed and forbidden steps, who and when."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from jiayi.audit.models import AuditEntry
from jiayi.surveillance import services
from jiayi.surveillance.models import Alert, AlertRule, Notification, RuleKind
from tests.conftest import Personas
from tests.surveillance.factories import AS_OF, add_series, ears_settings, make_unit, quiet_then_spike

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert() -> Alert:
    AlertRule.objects.create(name="two agree", kind=RuleKind.DETECTORS_AGREE, parameters={"k": 2})
    unit = make_unit("U1")
    add_series(unit, "fever", quiet_then_spike())
    ears_settings(unit, "fever")
    return Alert.objects.get(pk__in=services.do_detect(AS_OF).alerts_opened)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def move(client: Client, alert: Alert, to: str, note: str = "", **extra: Any) -> Any:
    return client.post(
        f"/api/surveillance/alerts/{alert.pk}/transition",
        json.dumps({"to": to, "note": note, **extra}),
        content_type="application/json",
    )


def test_it_walks_an_alert_from_signal_to_closed_recording_who_and_when(
    alert: Alert, personas: Personas
) -> None:
    cdc = client_for(personas.cdc)
    steps = [
        ("assigned", ""),
        ("verified", "lab confirmed influenza A"),
        ("response", ""),
        ("closed", "contained"),
    ]
    for to, note in steps:
        response = move(cdc, alert, to, note)
        assert response.status_code == 200, response.json()
        assert response.json()["state"] == to

    detail = cdc.get(f"/api/surveillance/alerts/{alert.pk}").json()
    assert [(e["from_state"], e["to_state"], e["actor"], e["note"]) for e in detail["events"]] == [
        ("", "signal", None, ""),
        ("signal", "assigned", "cdc", ""),
        ("assigned", "verified", "cdc", "lab confirmed influenza A"),
        ("verified", "response", "cdc", ""),
        ("response", "closed", "cdc", "contained"),
    ]
    assert all(event["at"] for event in detail["events"])
    assert detail["assignee"] == "cdc"
    assert Notification.objects.filter(alert=alert, subject__contains="assigned to you").count() == 1
    assert AuditEntry.objects.filter(resource_type="alert", resource_id=str(alert.pk)).count() == 4


@pytest.mark.parametrize(
    ("path", "to", "note"),
    [
        ([], "verified", "seen"),
        ([], "closed", "done"),
        ([("assigned", "")], "verified", ""),
        ([("assigned", "")], "dismissed", ""),
        ([("assigned", ""), ("verified", "yes")], "closed", "done"),
        ([("assigned", ""), ("dismissed", "noise"), ("closed", "done")], "assigned", ""),
    ],
)
def test_it_refuses_steps_outside_the_workflow(
    alert: Alert, personas: Personas, path: list[tuple[str, str]], to: str, note: str
) -> None:
    cdc = client_for(personas.cdc)
    for step, step_note in path:
        assert move(cdc, alert, step, step_note).status_code == 200
    before = alert.events.count()

    response = move(cdc, alert, to, note)

    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "to"
    assert alert.events.count() == before


def test_it_lets_a_centre_manager_read_but_not_act(alert: Alert, personas: Personas) -> None:
    unit = alert.units.get()
    unit.centre = personas.manager.account.institution
    unit.save()
    manager = client_for(personas.manager)

    assert manager.get(f"/api/surveillance/alerts/{alert.pk}").status_code == 200
    assert move(manager, alert, "assigned").status_code == 403
    assert Alert.objects.get(pk=alert.pk).state == "signal"


def test_it_moves_an_alert_from_the_page_with_htmx(alert: Alert, personas: Personas) -> None:
    cdc = client_for(personas.cdc)
    url = f"/surveillance/alerts/{alert.pk}/transition/"

    assigned = cdc.post(url, {"to": "assigned"}, headers={"HX-Request": "true"})
    refused = cdc.post(url, {"to": "verified", "note": ""}, headers={"HX-Request": "true"})

    assert assigned.status_code == 200
    assert 'data-state="assigned"' in assigned.content.decode()
    assert 'role="alert"' in refused.content.decode()
    assert Alert.objects.get(pk=alert.pk).state == "assigned"
