"""The REST API: one NinjaAPI with a router per domain app, OpenAPI at /api/openapi.json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import ValidationError

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

api = NinjaAPI(
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
