"""The API contract (F4): date query parameters take ISO 8601 text only, and every operation publishes the
error answers it can give, with their bodies, so a client (and schemathesis) can rely on them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jiayi.api import api
from jiayi.registry.tokens import issue_token
from tests.conftest import Personas

WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture
def doctor_api(personas: Personas) -> Client:
    _token, text = issue_token(personas.doctor, scopes="read write", days=1, name="contract")
    return Client(HTTP_AUTHORIZATION=f"Bearer {text}")


@pytest.mark.parametrize(
    ("path", "parameter", "value"),
    [
        ("/api/signing/signings", "ends_before", "0"),
        ("/api/signing/signings", "ends_before", "20260101"),
        ("/api/referrals/slots", "start_to", "0.5"),
        ("/api/referrals/slots", "start_from", "1767225600"),
    ],
)
def test_a_number_for_a_date_is_a_422_naming_the_parameter(
    doctor_api: Client, path: str, parameter: str, value: str
) -> None:
    response = doctor_api.get(path, {parameter: value})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == parameter
    assert "ISO 8601" in error["message"]


@pytest.mark.parametrize(
    ("path", "parameter", "value"),
    [
        ("/api/signing/signings", "ends_before", "2026-12-31"),
        ("/api/referrals/slots", "start_to", "2026-12-31T17:00:00+08:00"),
        ("/api/referrals/slots", "start_from", "2026-01-01T00:00:00Z"),
    ],
)
def test_iso_dates_are_accepted(doctor_api: Client, path: str, parameter: str, value: str) -> None:
    assert doctor_api.get(path, {parameter: value}).status_code == 200


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = api.get_openapi_schema(path_prefix="/api/")
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def _schema(operation: dict[str, Any], status: str) -> dict[str, Any]:
    return dict(operation["responses"][status]["content"]["application/json"]["schema"])


def test_every_operation_declares_its_error_answers_with_a_body() -> None:
    operations = _operations()
    assert len(operations) > 50
    for path, method, operation in operations:
        responses = operation["responses"]
        wanted = {"401", "422"}
        if "requestBody" in operation:
            wanted.add("400")
        if method in WRITES or "{" in path:
            wanted.add("404")
        if method in WRITES:
            wanted.add("409")
        missing = wanted - set(responses)
        assert not missing, f"{method.upper()} {path} does not declare {sorted(missing)}"
        for status in wanted:
            assert _schema(operation, status), f"{method.upper()} {path} {status} has no body schema"


def test_an_operation_with_its_own_422_also_allows_the_api_wide_one() -> None:
    (operation,) = [
        op for path, method, op in _operations() if path == "/api/surveillance/counts" and method == "post"
    ]
    schema = _schema(operation, "422")
    assert "anyOf" in schema
    shapes = [option.get("$ref") or option.get("type") for option in schema["anyOf"]]
    assert "object" in shapes
    assert len(shapes) == 2


def test_a_missing_body_gets_the_declared_api_wide_422(doctor_api: Client) -> None:
    response = doctor_api.post("/api/surveillance/counts", "", content_type="application/json")
    assert response.status_code in (400, 403, 422)
    if response.status_code == 422:
        assert {"field", "message"} <= set(response.json()["detail"][0])
