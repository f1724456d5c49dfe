"""The REST API: one NinjaAPI with a router per domain app, OpenAPI at /api/openapi.json."""

from __future__ import annotations

import copy
import re
import types
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Union, get_args, get_origin

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.params.models import ParamModel
from pydantic import BaseModel

from jiayi.education.api import OPENAPI_TAGS as EDUCATION_TAGS
from jiayi.education.api import router as education_router
from jiayi.feedback.api import OPENAPI_TAGS as FEEDBACK_TAGS
from jiayi.feedback.api import router as feedback_router
from jiayi.planning.api import OPENAPI_TAGS as PLANNING_TAGS
from jiayi.planning.api import router as planning_router
from jiayi.points.api import OPENAPI_TAGS as POINTS_TAGS
from jiayi.points.api import router as points_router
from jiayi.records.api import OPENAPI_TAGS as RECORDS_TAGS
from jiayi.records.api import router as records_router
from jiayi.referrals.api import OPENAPI_TAGS as REFERRALS_TAGS
from jiayi.referrals.api import router as referrals_router
from jiayi.registry.api import OPENAPI_TAGS as REGISTRY_TAGS
from jiayi.registry.api import router as registry_router
from jiayi.signing.api import OPENAPI_TAGS as SIGNING_TAGS
from jiayi.signing.api import router as signing_router
from jiayi.surveillance.api import OPENAPI_TAGS as SURVEILLANCE_TAGS
from jiayi.surveillance.api import router as surveillance_router

_MESSAGE = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string"}},
}
_FIELD_ERRORS = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        }
    },
}
_WRITES = frozenset({"post", "put", "patch", "delete"})


def _error(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": copy.deepcopy(schema)}}}


def _errors_for(method: str, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The error answers an operation can give whatever its handler declares: the API's own handlers
    produce them (authentication, parsing, validation, a missing object, a conflicting write)."""
    has_body = "requestBody" in operation
    has_path = any(p.get("in") == "path" for p in operation.get("parameters", []))
    errors = {
        "401": _error("Not authenticated: no, an expired or a revoked token", _MESSAGE),
        "422": _error("Invalid input, by field", _FIELD_ERRORS),
    }
    if has_body:
        errors["400"] = _error("The request body is not JSON", _MESSAGE)
    if has_path or method in _WRITES:
        errors["404"] = _error("Not found, or outside your scope (the same answer)", _MESSAGE)
    if method in _WRITES:
        errors["409"] = _error("Conflicts with the stored state", _MESSAGE)
    return errors


class JiayiAPI(NinjaAPI):
    """The API, publishing in its OpenAPI document the error answers every operation can give."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in document.get("paths", {}).values():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                # Ninja keys the declared statuses by number; the document's JSON keys are text.
                for key in [k for k in responses if not isinstance(k, str)]:
                    responses[str(key)] = responses.pop(key)
                for status, response in _errors_for(method, operation).items():
                    declared = responses.get(status)
                    if declared is None:
                        responses[status] = response
                        continue
                    # An operation with its own shape for the status (a CSV upload's 422 lists rows) can
                    # still give the API-wide one, e.g. for a missing body: either is valid.
                    content = declared.setdefault("content", {}).setdefault("application/json", {})
                    own = content.get("schema")
                    wide = response["content"]["application/json"]["schema"]
                    if own is None:
                        content["schema"] = wide
                    elif own != wide and not _mentions(own, wide):
                        content["schema"] = {"anyOf": [own, wide]}
        return document


def _mentions(schema: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return any(option == wanted for option in schema.get("anyOf", []))


api = JiayiAPI(
    title="jiayi API",
    version="1",
    description="家医 jiayi: registry, health accounts, signing, care, referrals, indicators, surveillance.",
    urls_namespace="api",
    openapi_extra={
        "tags": [
            *REGISTRY_TAGS,
            *SIGNING_TAGS,
            *RECORDS_TAGS,
            *SURVEILLANCE_TAGS,
            *PLANNING_TAGS,
            *REFERRALS_TAGS,
            *POINTS_TAGS,
            *EDUCATION_TAGS,
            *FEEDBACK_TAGS,
        ]
    },
)

# Where a parameter came from; the field a client should fix is what follows it.
_SOURCES = frozenset({"body", "query", "path", "header", "cookie", "form", "file"})


def field_name(loc: Sequence[Any]) -> str:
    """The client-facing name of an invalid field from a pydantic location.

    ("query", "sort") → "sort"; ("body", "payload", "citizen_id") → "citizen_id" (the handler's parameter
    name means nothing to a client); ("body", "payload") for a missing or malformed body → "body".
    """
    parts = [str(part) for part in loc]
    source = parts[0] if parts and parts[0] in _SOURCES else None
    if source is not None:
        parts = parts[1:]
    if source == "body" and parts:
        parts = parts[1:]
    return ".".join(parts) or source or "request"


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    # Our own validators raise ValueError; pydantic prefixes their text with this.
    return message.removeprefix("Value error, ")


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Ninja's own 422s in the shape of the services' errors: {"detail": [{"field", "message"}]}.

    The offending input is left out on purpose: it may be a citizen ID or a phone number.
    """
    detail = [{"field": field_name(error.get("loc", ())), "message": _message(error)} for error in exc.errors]
    return api.create_response(request, {"detail": detail}, status=422)


api.add_router("/registry/", registry_router)
api.add_router("/signing/", signing_router)
api.add_router("/fhir/", records_router)
api.add_router("/surveillance/", surveillance_router)
api.add_router("/planning/", planning_router)
api.add_router("/referrals/", referrals_router)
api.add_router("/points/", points_router)
api.add_router("/education/", education_router)
api.add_router("/feedback/", feedback_router)


# Strict dates in query strings ---------------------------------------------------------------------------
# Pydantic's lax mode reads a number as a Unix time, so `?ends_before=0` would mean 1970-01-01. A date or
# date-time query parameter must be written as ISO 8601 text; anything else is a 422 naming the parameter.

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?")


def _temporal_kind(annotation: Any) -> str | None:
    """ "date" or "date-time" when the annotation is one (possibly optional or annotated), else None."""
    if annotation is datetime:
        return "date-time"
    if annotation is date:
        return "date"
    origin = get_origin(annotation)
    if origin is Annotated:
        return _temporal_kind(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        kinds = {_temporal_kind(arg) for arg in get_args(annotation) if arg is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def _annotation_at(model: type[BaseModel], path: Sequence[str]) -> Any:
    annotation: Any = model
    for name in path:
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        field = annotation.model_fields.get(name)
        if field is None:
            return None
        annotation = field.annotation
    return annotation


def _strict_temporal_params(model: type[ParamModel]) -> type[ParamModel]:
    paths = getattr(model, "__ninja_flatten_map__", None) or {
        (field.alias or name): (name,) for name, field in model.model_fields.items()
    }
    kinds = {
        key: kind for key, path in paths.items() if (kind := _temporal_kind(_annotation_at(model, path)))
    }
    if not kinds:
        return model

    def resolve(
        cls: type[ParamModel], request: HttpRequest, api: NinjaAPI, path_params: dict[str, Any]
    ) -> Any:
        data = cls.get_request_data(request, api, path_params) or {}
        errors = []
        for key, kind in kinds.items():
            value = data.get(key)
            pattern = _ISO_DATETIME if kind == "date-time" else _ISO_DATE
            if isinstance(value, str) and value and not pattern.fullmatch(value):
                example = "2026-01-31" if kind == "date" else "2026-01-31T08:00:00+08:00"
                errors.append(
                    {
                        "loc": (cls.__ninja_param_source__ or "query", key),
                        "msg": f"use ISO 8601, e.g. {example}",
                    }
                )
        if errors:
            raise ValidationError(errors)
        return model.resolve.__func__(cls, request, api, path_params)  # type: ignore[attr-defined]

    return type(model.__name__, (model,), {"resolve": classmethod(resolve), "__module__": model.__module__})


def _strict_dates_everywhere(ninja_api: NinjaAPI) -> None:
    for _prefix, router in ninja_api._routers:
        for view in router.path_operations.values():
            for operation in view.operations:
                operation.models = [_strict_temporal_params(m) for m in operation.models]


_strict_dates_everywhere(api)
