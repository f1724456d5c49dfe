"""Holds a signed-in user at the second-factor step until they pass it.

Placed after AuthenticationMiddleware. Until the session records a passed second factor, a user who
must use one reaches only the verification and set-up pages, logout and static files; everything
else redirects there (pages) or answers 401 (API calls made with the session). Bearer-token API calls
are not sessions and are left to the token's own checks.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from jiayi.accounts import services

_OPEN_PREFIXES = ("/accounts/2fa/", "/logout/", "/i18n/")
# Set at sign-in when the user has no second factor to pass (see `signals.py`), so that such users cost
# no query per request. Enrolling verifies the session; a role newly required applies at the next sign-in.
NOT_NEEDED_KEY = "jiayi_second_factor_not_needed"


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not services.is_verified(request)
            and not request.session.get(NOT_NEEDED_KEY, False)
            and not self._open(request)
        ) and services.must_use_second_factor(user):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "second factor required"}, status=401)
            target = "accounts:verify" if services.is_enrolled(user) else "accounts:setup"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _open(request: HttpRequest) -> bool:
        path = request.path
        if path.startswith(_OPEN_PREFIXES) or path.startswith(str(settings.STATIC_URL)):
            return True
        return path.startswith("/api/") and request.headers.get("Authorization", "").startswith("Bearer ")
