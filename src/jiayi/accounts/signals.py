"""Deciding at sign-in, once, whether the session owes a second factor."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from jiayi.accounts import services
from jiayi.accounts.middleware import NOT_NEEDED_KEY


@receiver(user_logged_in, dispatch_uid="accounts_second_factor_decision")
def decide_second_factor(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # The login writes the session anyway; recording the decision here saves a query on every request.
    if request is not None and hasattr(request, "session") and not services.must_use_second_factor(user):
        request.session[NOT_NEEDED_KEY] = True
