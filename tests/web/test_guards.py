"""The page guard: sign-in first, then the access predicate; a refusal is the 404 of a missing page,
audited when the family of pages asks for it; allowed pages are not cached."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.cache import SessionStore
from django.http import Http404, HttpRequest, HttpResponse
from django.test import RequestFactory

from jiayi import access
from jiayi.audit.models import AuditEntry
from jiayi.web.guards import page_guard
from tests.conftest import Personas

pytestmark = pytest.mark.django_db

calls: list[dict[str, Any]] = []


def _page(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """A page that says it ran."""
    calls.append(kwargs)
    return HttpResponse("ran")


def _request(user: Any) -> HttpRequest:
    request = RequestFactory().get("/guarded/")
    request.user = user
    request.session = SessionStore()
    return request


@pytest.fixture(autouse=True)
def _no_calls() -> None:
    calls.clear()


def test_it_sends_anonymous_users_to_the_login_page() -> None:
    guarded = page_guard(access.can_view_referral_pages, audit_as="referral")(_page)
    response = guarded(_request(AnonymousUser()), pk=7)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert calls == []
    assert not AuditEntry.objects.filter(resource_type="referral").exists()


def test_it_runs_the_page_for_an_allowed_role_and_marks_it_no_store(personas: Personas) -> None:
    guarded = page_guard(access.can_view_referral_pages, audit_as="referral")(_page)
    response = guarded(_request(personas.desk), pk=7)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert calls == [{"pk": 7}]
    assert guarded.__name__ == "_page"
    assert guarded.__doc__ == "A page that says it ran."


def test_it_answers_404_and_audits_the_refusal_with_the_object_asked_for(personas: Personas) -> None:
    guarded = page_guard(access.can_view_referral_pages, audit_as="referral")(_page)
    with pytest.raises(Http404):
        guarded(_request(personas.cdc), pk=7)
    assert calls == []
    entry = AuditEntry.objects.get(resource_type="referral")
    assert (entry.action, entry.outcome, entry.resource_id, entry.actor_id) == (
        "read",
        "denied",
        "7",
        personas.cdc.pk,
    )


def test_it_audits_without_an_id_when_the_page_names_none(personas: Personas) -> None:
    guarded = page_guard(access.can_issue_reports, audit_as="report", audit_id_from=None, no_store=False)(
        _page
    )
    with pytest.raises(Http404):
        guarded(_request(personas.resident), pk=3)
    assert AuditEntry.objects.get(resource_type="report").resource_id == ""
    response = guarded(_request(personas.analyst), pk=3)
    assert response.status_code == 200
    assert "Cache-Control" not in response


def test_it_refuses_without_an_audit_entry_when_none_is_asked_for(personas: Personas) -> None:
    before = AuditEntry.objects.count()
    guarded = page_guard(access.can_view_panel_load)(_page)
    with pytest.raises(Http404):
        guarded(_request(personas.desk))
    assert AuditEntry.objects.count() == before
    assert guarded(_request(personas.manager)).status_code == 200


def test_without_a_predicate_it_only_asks_for_a_sign_in(personas: Personas) -> None:
    guarded = page_guard()(_page)
    assert guarded(_request(AnonymousUser())).status_code == 302
    response = guarded(_request(personas.resident), pk=1)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert calls == [{"pk": 1}]
