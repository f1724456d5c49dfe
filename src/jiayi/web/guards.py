"""The guard of a family of pages: signed in, a role the access policy lets in, and an answer that
looks like a missing page to everyone else.

A role kept out gets the 404 a missing page gets (no hint that the page exists), optionally with a
denied entry in the audit log naming what was asked for. Pages that show personal data are marked
`no-store` so neither browsers nor proxies keep a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record

View = TypeVar("View", bound=Callable[..., HttpResponseBase])
Predicate = Callable[[Any], bool]


def page_guard(
    allowed: Predicate | None = None,
    *,
    audit_as: str | None = None,
    audit_id_from: str | None = "pk",
    no_store: bool = True,
) -> Callable[[View], View]:
    """Build the decorator of a family of pages.

    `allowed` is a predicate of `jiayi.access` (for example `access.can_view_referral_pages`); without
    one, every signed-in user passes and the page decides what they see (its querysets are scoped). A
    refusal is audited as a denied read of `audit_as` when it is given, with the view's `audit_id_from`
    keyword argument as the resource id when there is one. Anonymous users are sent to the login page
    before the predicate is asked.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if allowed is not None and not allowed(request.user):
                if audit_as is not None:
                    record(
                        request=request,
                        action=Action.READ,
                        resource_type=audit_as,
                        resource_id=kwargs.get(audit_id_from, "") if audit_id_from else "",
                        outcome=Outcome.DENIED,
                    )
                raise Http404
            response = view(request, *args, **kwargs)
            if no_store:
                response["Cache-Control"] = "no-store"
            return response

        return cast(View, login_required(wrapper))

    return decorate
