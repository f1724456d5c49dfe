"""Health-points pages: the resident's balance, history and catalogue at /me/points/ (for themself or, as
household head, a family member), and the catalogue management page of centre managers."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.points import services
from jiayi.points.models import CatalogueItem, PointEntry, PointRule
from jiayi.points.rules import RedemptionRefused
from jiayi.registry.models import Resident


def _acting_for(request: HttpRequest, raw: str | None) -> tuple[Resident, list[Resident]]:
    """The resident whose points the page shows (`?for=`), among those the user acts for."""
    family = list(access.residents_acting_for(request.user).order_by("id"))
    if not family:
        raise Http404
    me = access.own_health_account(request.user)
    chosen = next((r for r in family if raw and str(r.pk) == raw), None)
    if raw and chosen is None:
        record(request=request, action=Action.READ, resource_type="points", outcome=Outcome.DENIED)
        raise Http404
    return chosen or next((r for r in family if me and r.pk == me.pk), family[0]), family


@login_required
def hub(request: HttpRequest) -> HttpResponse:
    """Where the points, education and feedback pages are, for the user's role."""
    user = request.user
    resident = access.own_health_account(user) if access.residents_acting_for(user).exists() else None
    if resident is None and not access.can_open_engagement_menu(user):
        raise Http404
    return render(
        request,
        "points/hub.html",
        {
            "resident": resident,
            "balance": services.balance_of(resident) if resident is not None else None,
            "catalogue": access.can_manage_catalogue(user),
            "library": access.can_manage_education(user),
            "feedback": access.can_manage_feedback(user),
        },
    )


@login_required
def me(request: HttpRequest) -> HttpResponse:
    resident, family = _acting_for(request, request.GET.get("for"))
    entries = list(
        PointEntry.objects.filter(resident=resident).select_related("rule", "redemption__item")[:100]
    )
    items = list(access.catalogue_offered_to(resident).order_by("cost", "name"))
    record(request=request, action=Action.READ, resource_type="points", resident_id=resident.pk)
    balance = services.balance_of(resident)
    response = render(
        request,
        "points/me.html",
        {
            "resident": resident,
            "family": family if len(family) > 1 else [],
            "balance": balance,
            "entries": entries,
            "items": items,
            "rules": PointRule.objects.filter(active=True).order_by("-points"),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def redeem(request: HttpRequest) -> HttpResponse:
    resident = (
        access.residents_redeemable_by(request.user).filter(pk=request.POST.get("resident") or 0).first()
    )
    if resident is None:
        record(request=request, action=Action.CREATE, resource_type="redemption", outcome=Outcome.DENIED)
        raise Http404
    target = f"{reverse('points:me')}?for={resident.pk}"
    try:
        item_id = int(request.POST.get("item", ""))
    except ValueError:
        messages.error(request, _("Choose an item to redeem."))
        return redirect(target)
    if not access.catalogue_offered_to(resident).filter(pk=item_id).exists():
        messages.error(request, _("This item is not on offer."))
        return redirect(target)
    try:
        redemption = services.redeem(resident, item_id, by=request.user)
    except RedemptionRefused as refused:
        record(
            request=request,
            action=Action.CREATE,
            resource_type="redemption",
            resident_id=resident.pk,
            outcome=Outcome.INVALID,
        )
        messages.error(request, refused.message)
        return redirect(target)
    record(
        request=request,
        action=Action.CREATE,
        resource_type="redemption",
        resource_id=redemption.pk,
        resident_id=resident.pk,
    )
    messages.success(
        request,
        _("Redeemed %(item)s for %(cost)d points.") % {"item": redemption.item.name, "cost": redemption.cost},
    )
    return redirect(target)


class ItemForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = CatalogueItem
        fields = ["name", "description", "cost", "stock", "active"]
        labels = {
            "name": gettext_lazy("Item"),
            "description": gettext_lazy("Description"),
            "cost": gettext_lazy("Points"),
            "stock": gettext_lazy("Stock"),
            "active": gettext_lazy("On offer"),
        }
        help_texts = {"cost": ""}


@login_required
@require_http_methods(["GET", "POST"])
def catalogue(request: HttpRequest) -> HttpResponse:
    """The centre's catalogue: add items, see how many were redeemed."""
    if not access.can_manage_catalogue(request.user):
        raise Http404
    account = access.account_of(request.user)
    centre = access.centre_of(account) if account is not None else None
    form = ItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        item = form.save(commit=False)
        item.centre = centre
        item.save()
        messages.success(request, _("Added %(item)s to the catalogue.") % {"item": item.name})
        return redirect("points:catalogue")
    items = access.catalogue_items_managed_by(request.user).annotate(redeemed=Count("redemptions"))
    return render(
        request,
        "points/catalogue.html",
        {"form": form, "items": items.order_by("-active", "cost"), "centre": centre},
    )


@login_required
@require_http_methods(["GET", "POST"])
def edit_item(request: HttpRequest, pk: int) -> HttpResponse:
    item = access.catalogue_items_managed_by(request.user).filter(pk=pk).first()
    if item is None:
        raise Http404
    form = ItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved %(item)s.") % {"item": item.name})
        return redirect("points:catalogue")
    return render(request, "points/item.html", {"form": form, "item": item})
