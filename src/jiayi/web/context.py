"""Template context shared by every page: the user's role and the navigation it allows."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from jiayi import access


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    account = access.account_of(user)
    return {
        "jiayi_account": account,
        "jiayi_role": account.role if account else None,
        "can_view_residents": access.residents_visible_to(user).exists() if account else False,
        "can_view_master_data": access.can_view_master_data(user),
        "can_use_admin": access.can_use_admin(user),
    }
