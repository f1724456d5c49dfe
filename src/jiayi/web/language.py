"""Chinese first: the interface opens in Chinese whatever the browser prefers.

Staff machines in community health centres often run English-language browsers; the person in front
of them still reads Chinese first. English is one click away (the language switch sets a cookie, which
Django's LocaleMiddleware honours before Accept-Language, which we drop here).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ChineseFirstMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
