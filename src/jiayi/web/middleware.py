"""Response hardening that applies across the site."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class NoStoreForPersonalDataMiddleware:
    """Pages and API responses carrying personal data must never sit in a browser or proxy cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefixes: tuple[str, ...] = tuple(settings.JIAYI_NO_STORE_PREFIXES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.user.is_authenticated or request.path.startswith(self.prefixes):
            response["Cache-Control"] = "no-store"
        return response
