"""/me/health/authorisations/: a resident lets a member of their household read their health account
(授权家庭成员), until a date they choose, and withdraws it. Audited in records.authorisation."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from jiayi import access
from jiayi.records import authorisation
from jiayi.registry import identity
from jiayi.registry.models import Resident

DEFAULT_DAYS = 90


@login_required
@require_http_methods(["GET", "POST"])
def authorisations(request: HttpRequest) -> HttpResponse:
    me = access.own_health_account(request.user)
    if me is None:
        raise Http404
    members = (
        Resident.objects.filter(household_id=me.household_id, date_of_death__isnull=True).exclude(pk=me.pk)
        if me.household_id is not None
        else Resident.objects.none()
    )
    if request.method == "POST":
        _change(request, me)
        return redirect("records:authorisations")
    today = timezone.localdate()
    grants = authorisation.active_grants(me, today).select_related("member")
    context = {
        "members": [(m.pk, identity.mask_name(m.name), m.get_relationship_display()) for m in members],
        "grants": [(g, identity.mask_name(g.member.name)) for g in grants],
        "default_expiry": today + timedelta(days=DEFAULT_DAYS),
        "max_expiry": today + timedelta(days=authorisation.MAX_DAYS),
        "today": today,
    }
    return render(request, "records/authorisations.html", context)


def _change(request: HttpRequest, me: Resident) -> None:
    revoke_id = request.POST.get("revoke", "")
    try:
        if revoke_id.isdigit():
            granted = authorisation.active_grants(me).filter(pk=int(revoke_id)).first()
            if granted is None:
                raise Http404
            authorisation.revoke(request.user, granted, request=request)
            messages.success(request, _("The authorisation was withdrawn."))
            return
        member_id = request.POST.get("member", "")
        member = Resident.objects.filter(pk=int(member_id)).first() if member_id.isdigit() else None
        if member is None:
            messages.error(request, _("Choose a member of your household."))
            return
        try:
            expires_on = date.fromisoformat(request.POST.get("expires_on", ""))
        except ValueError:
            messages.error(request, _("Give the last day as a date."))
            return
        authorisation.grant(request.user, me, member, expires_on, request=request)
        messages.success(request, _("Authorised until %(day)s.") % {"day": expires_on.isoformat()})
    except authorisation.AuthorisationError as exc:
        messages.error(request, str(exc))
