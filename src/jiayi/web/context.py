"""Template context shared by every page: the user's role and the navigation it allows."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from jiayi import access
from jiayi.registry.models import Account


@dataclass(frozen=True, slots=True)
class NavItem:
    url: str
    label: str | Promise
    active: bool


# (URL name, label, who may see the link). The pages check access themselves; this only hides links
# a role has no use for.
_NAV: tuple[tuple[str, str | Promise, str], ...] = (
    ("web:home", _("Home"), "anyone"),
    ("web:residents", _("Residents"), "clinical"),
    ("web:households", _("Households"), "clinical"),
    ("web:places", _("Places"), "master_data"),
    ("web:institutions", _("Institutions"), "master_data"),
    ("web:teams", _("Teams"), "master_data"),
    ("surveillance:index", _("Early warning"), "surveillance"),
    ("signing:panel", _("Signings"), "signing"),
    ("referrals:index", _("Referrals"), "referrals"),
    ("planning:portrait", _("Planning"), "planning"),
    ("care:index", _("Health management"), "care"),
    ("indicators:index", _("Indicators"), "indicators"),
    ("reports:index", _("Reports"), "reports"),
    ("records:review_queue", _("Possible duplicates"), "match_review"),
    ("records:me", _("My health record"), "own_health"),
    ("audit:my_access_log", _("Who viewed my record"), "own_access_log"),
    ("audit:break_glass", _("Break-glass"), "break_glass"),
    ("accounts:setup", _("Two-step sign-in"), "second_factor"),
    ("points:hub", _("Points and education"), "engagement"),
)


def _allowed(user: Any, audience: str) -> bool:
    if audience == "clinical":
        return access.can_list_residents(user)
    if audience == "master_data":
        return access.can_view_master_data(user)
    if audience == "surveillance":
        return access.can_view_surveillance(user)
    if audience == "planning":
        return access.can_view_planning(user)
    if audience == "referrals":
        return access.can_view_referral_pages(user)
    if audience == "signing":
        return access.can_open_signing_menu(user)
    if audience == "care":
        return access.can_view_worklist(user) or access.own_care_resident(user) is not None
    if audience == "indicators":
        return access.can_view_indicators(user)
    if audience == "reports":
        return access.can_issue_reports(user)
    if audience == "match_review":
        return access.can_review_matches(user)
    if audience == "own_health":
        return access.own_health_account(user) is not None
    if audience == "own_access_log":
        return access.own_access_log(user) is not None
    if audience == "break_glass":
        return access.can_open_break_glass_page(user)
    if audience == "second_factor":
        return access.can_use_second_factor(user)
    if audience == "engagement":
        return access.can_open_engagement_menu(user)
    return True


@cache
def _nav_url(url_name: str, script_prefix: str, urlconf: str, language: str) -> str:
    """The link of a navigation entry, reversed once per deployment prefix, URL conf and language (URLs
    may carry a language prefix) rather than on every page: the header is on every page, and reversing
    19 names is a noticeable part of one."""
    return reverse(url_name)


def display_name(user: Any, account: Account | None) -> str:
    """The name shown in the header: the staff member's or resident's name, else the login name."""
    if account is not None and account.staff is not None:
        return account.staff.name
    if account is not None and account.resident is not None:
        return account.resident.name
    full_name: str = user.get_full_name() if user is not None else ""
    return full_name or (user.get_username() if user is not None else "")


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    account = access.account_of(user)
    items: list[NavItem] = []
    if user is not None and user.is_authenticated:
        for url_name, label, audience in _NAV:
            if not _allowed(user, audience):
                continue
            url = _nav_url(url_name, get_script_prefix(), str(settings.ROOT_URLCONF), get_language() or "")
            active = request.path == url if url == "/" else request.path.startswith(url)
            items.append(NavItem(url=url, label=label, active=active))
    return {
        "jiayi_account": account,
        "jiayi_role": account.role if account else None,
        "jiayi_nav": items,
        "jiayi_user_name": display_name(user, account) if user is not None and user.is_authenticated else "",
        "can_view_residents": access.can_list_residents(user),
        "can_view_master_data": access.can_view_master_data(user),
        "can_use_admin": access.can_use_admin(user),
    }
