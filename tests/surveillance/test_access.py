"""Who sees the early-warning page and API: CDC officers; centre managers their centre's units, read-only;
everyone else the 404 of a page that does not exist."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from jiayi import access
from jiayi.surveillance import services
from jiayi.surveillance.models import Alert, AlertRule, RuleKind
from tests.conftest import Personas
from tests.surveillance.factories import (
    AS_OF,
    a_centre,
    add_series,
    ears_settings,
    make_unit,
    quiet_then_spike,
)

pytestmark = pytest.mark.django_db
OUTSIDERS = ("doctor", "nurse", "other_doctor", "desk", "analyst", "admin", "resident")


@pytest.fixture
def alert() -> Alert:
    AlertRule.objects.create(name="two agree", kind=RuleKind.DETECTORS_AGREE, parameters={"k": 2})
    unit = make_unit("U1", centre=a_centre())
    add_series(unit, "fever", quiet_then_spike())
    ears_settings(unit, "fever")
    return Alert.objects.get(pk__in=services.do_detect(AS_OF).alerts_opened)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def urls(alert: Alert) -> list[tuple[str, str]]:
    return [
        ("get", "/surveillance/"),
        ("get", "/surveillance/map.json"),
        ("get", f"/surveillance/series.json?unit={alert.units.get().pk}&code=fever"),
        ("post", f"/surveillance/alerts/{alert.pk}/transition/"),
        ("get", "/api/surveillance/series?unit=U1&code=fever"),
        ("get", f"/api/surveillance/alerts/{alert.pk}"),
        ("post", f"/api/surveillance/alerts/{alert.pk}/transition"),
    ]


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_it_answers_404_to_every_other_role(alert: Alert, personas: Personas, persona: str) -> None:
    client = client_for(getattr(personas, persona))
    for method, url in urls(alert):
        if method == "post" and url.startswith("/api/"):
            response = client.post(url, {"to": "assigned"}, content_type="application/json")
        else:
            response = getattr(client, method)(url, {"to": "assigned"} if method == "post" else None)
        assert response.status_code == 404, (persona, url)
    assert client.get("/api/surveillance/alerts").json() == []
    assert Alert.objects.get(pk=alert.pk).state == "signal"


def test_it_sends_anonymous_visitors_to_login_or_401(alert: Alert) -> None:
    client = Client()
    assert client.get("/surveillance/")["Location"].startswith("/login/")
    assert client.get("/api/surveillance/alerts").status_code == 401


def test_it_shows_the_cdc_officer_everything(alert: Alert, personas: Personas) -> None:
    client = client_for(personas.cdc)
    page = client.get("/surveillance/")
    assert page.status_code == 200
    assert f'id="alert-{alert.pk}"' in page.content.decode()
    assert [u["code"] for u in client.get("/surveillance/map.json").json()["units"]] == ["U1"]
    assert client.get(f"/surveillance/series.json?unit={alert.units.get().pk}&code=fever").status_code == 200
    series = client.get(f"/api/surveillance/series?unit=U1&code=fever&as_of={AS_OF}&days=30").json()
    last = series["points"][-1]
    assert (last["date"], last["count"], last["alarm"]) == (AS_OF.isoformat(), 40, True)
    assert last["expected"] < last["threshold"] < 40
    assert len(series["points"]) == 30


def test_it_limits_a_centre_manager_to_their_centre_read_only(alert: Alert, personas: Personas) -> None:
    other = make_unit("U2")
    own_centre = access.centre_of(personas.manager.account)
    assert own_centre is not None
    alert.units.update(centre=own_centre)
    client = client_for(personas.manager)

    page = client.get("/surveillance/").content.decode()

    assert [u["code"] for u in client.get("/surveillance/map.json").json()["units"]] == ["U1"]
    assert client.get("/api/surveillance/series?unit=U2&code=fever").status_code == 404
    assert client.get(f"/api/surveillance/series?unit=U1&code=fever&as_of={AS_OF}").status_code == 200
    assert f'id="alert-{alert.pk}"' in page
    assert "surveillance/alerts/" not in page  # no workflow forms
    # CSRF tokens are 64 random letters and digits: one may well contain "U2".
    assert other.code not in re.sub(r"[A-Za-z0-9]{64}", "", page)
