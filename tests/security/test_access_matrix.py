"""Every page route and API operation, for anonymous users and every role, with objects inside and
outside the role's scope (A1, A3, A4, E2).

- anonymous: pages redirect to the login page, API operations answer 401;
- an object outside the user's scope answers 404, like a missing one, for reads and writes;
- an object inside the scope can be read (GET 200);
- no response carries a full citizen ID or mobile number.
Writes are sent only anonymously and for out-of-scope objects, so the matrix changes nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db.models import Model
from django.test import Client

from jiayi.api import api
from tests.conftest import Personas
from tests.security.matrix import API, PAGES, Param, Route, page_patterns

pytestmark = pytest.mark.django_db

CITIZEN_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
PERSONAS = ["doctor", "nurse", "manager", "other_doctor", "desk", "cdc", "analyst", "admin", "resident"]
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\{(\w+)\}")


def api_operations() -> list[str]:
    schema = api.get_openapi_schema()
    return [f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops]


def test_it_has_a_row_for_every_page_route() -> None:
    missing = sorted(set(page_patterns()) - set(PAGES))
    assert not missing, f"page routes without a row in tests/security/matrix.py PAGES: {missing}"


def test_it_has_a_row_for_every_api_operation() -> None:
    missing = sorted(set(api_operations()) - set(API))
    assert not missing, f"API operations without a row in tests/security/matrix.py API: {missing}"


def _url(pattern: str, route: Route, values: dict[str, int]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return str(values[name]) if name in values else route.fixed[name]

    path = _PARAM.sub(substitute, pattern)
    path = path if path.startswith("/") else "/" + path
    return f"{path}?{urlencode(route.query)}" if route.query else path


def _objects(param: Param, user: Any) -> tuple[int | None, list[int]]:
    """(a pk inside the user's scope or None, pks that must be outside it: one the policy excludes and
    one the data says is foreign, or a nonexistent pk when there is none)."""
    model: type[Model] = param.model
    manager = model._default_manager
    if param.scope is None:
        first = manager.order_by("pk").values_list("pk", flat=True).first()
        return first, []
    visible = param.scope(user).values("pk")
    inside = manager.filter(pk__in=visible).order_by("pk").values_list("pk", flat=True).first()
    outside = [manager.exclude(pk__in=visible).order_by("pk").values_list("pk", flat=True).first()]
    if param.foreign is not None:
        outside.append(param.foreign(user).order_by("pk").values_list("pk", flat=True).first())
    found = [pk for pk in dict.fromkeys(outside) if pk is not None]
    return inside, found or [10**9]


def _send(client: Client, method: str, url: str, body: dict[str, Any] | None) -> Any:
    payload = json.dumps(body or {})
    return client.generic(method, url, payload, content_type="application/json")


def _leaks(content: bytes) -> list[str]:
    text = content.decode("utf-8", errors="replace")
    return [m.group() for m in CITIZEN_ID.finditer(text)] + [m.group() for m in PHONE.finditer(text)]


def _refused_by_role(client: Client, method: str, pattern: str, route: Route) -> bool:
    """A 403 that a role gets for every object, existing or not, says nothing about any object (no
    existence oracle), so it is accepted in place of 404; anything else must be 404."""
    missing = _url(pattern, route, dict.fromkeys(route.params, 10**9))
    return bool(_send(client, method, missing, route.body).status_code == 403)


def _table() -> list[tuple[str, Route, bool]]:
    return [(p, r, False) for p, r in PAGES.items()] + [(k.split(" ", 1)[1], r, True) for k, r in API.items()]


def test_it_turns_anonymous_users_away_everywhere(client: Client) -> None:
    problems = []
    for pattern, route, is_api in _table():
        if route.public:
            continue
        url = _url(pattern, route, dict.fromkeys(route.params, 1))
        for method in route.methods:
            response = _send(client, method, url, route.body)
            if is_api and response.status_code != 401:
                problems.append(f"{method} {url}: {response.status_code}, expected 401")
            if not is_api and not (
                response.status_code == 302 and response["Location"].startswith("/login/")
            ):
                problems.append(f"{method} {url}: {response.status_code}, expected a login redirect")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_enforces_scope_for_every_role(persona: str, personas: Personas) -> None:
    user = getattr(personas, persona)
    client = Client()
    client.force_login(user)
    problems: list[str] = []
    for pattern, route, _is_api in _table():
        if route.public:
            continue
        inside: dict[str, int] = {}
        outside: list[dict[str, int]] = []
        scoped = False
        for name, param in route.params.items():
            inside_pk, outside_pks = _objects(param, user)
            scoped = scoped or param.scope is not None
            # Each out-of-scope object is tried with the other parameters in scope where possible.
            outside += [{name: pk} for pk in outside_pks]
            if inside_pk is not None:
                inside[name] = inside_pk
        for method in route.methods:
            for bad in outside if scoped else []:
                values = {n: inside.get(n, 10**9) for n in route.params} | bad
                url = _url(pattern, route, values)
                response = _send(client, method, url, route.body)
                if response.status_code != 404 and not (
                    response.status_code == 403 and _refused_by_role(client, method, pattern, route)
                ):
                    problems.append(f"{method} {url} (out of scope): {response.status_code}, expected 404")
                problems += [f"{method} {url}: leaks {x}" for x in _leaks(response.content)]
            if method != "GET" or len(inside) != len(route.params):
                continue
            url = _url(pattern, route, inside)
            response = _send(client, method, url, None)
            if scoped and response.status_code != 200:
                problems.append(f"GET {url} (in scope): {response.status_code}, expected 200")
            if response.status_code >= 500:
                problems.append(f"GET {url}: {response.status_code}")
            problems += [f"GET {url}: leaks {x}" for x in _leaks(response.content)]
    assert not problems, f"{persona}:\n" + "\n".join(problems)
