"""The health-points API: a resident's balance and history, the catalogue, redemptions.

A resident outside the user's scope answers 404 like a missing one; a redemption beyond the balance
answers 409 with the reason and writes nothing. Reads and writes of a resident's points are audited.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from jiayi import access
from jiayi.audit.models import Action, Outcome
from jiayi.audit.services import record
from jiayi.points import services
from jiayi.points.models import CatalogueItem, PointEntry
from jiayi.points.rules import RedemptionRefused
from jiayi.registry import tokens
from jiayi.registry.models import Resident
from jiayi.registry.schemas import FieldErrors, Message

POINTS = "health points"
OPENAPI_TAGS: list[dict[str, str]] = [
    {
        "name": POINTS,
        "description": "Health points (健康积分) under /api/points/: balance and ledger of a resident you "
        "may see, the redemption catalogue, and redemption by the resident or their household head. "
        "Redeeming beyond the balance or stock answers 409 and changes nothing.",
    }
]
router = Router(auth=tokens.api_auth())
NOT_FOUND = {"detail": "Not Found"}
COMMON = {401: Message, 403: Message, 422: FieldErrors}


class EntryOut(Schema):
    id: int
    kind: str
    rule: str | None
    points: int
    requested: int
    occurred_on: date
    recorded_at: datetime

    @staticmethod
    def resolve_rule(obj: PointEntry) -> str | None:
        return obj.rule.name if obj.rule is not None else None


class AccountOut(Schema):
    resident_id: int
    balance: int
    entries: list[EntryOut]


class ItemOut(Schema):
    id: int
    name: str
    description: str
    cost: int
    stock: int


class RedeemIn(Schema):
    item_id: int


class RedemptionOut(Schema):
    id: int
    item_id: int
    cost: int
    redeemed_at: datetime
    balance: int


def _denied(request: HttpRequest, action: Action, resident_id: int) -> Status[Any]:
    record(
        request=request,
        action=action,
        resource_type="points",
        detail={"resident": resident_id},
        outcome=Outcome.DENIED,
    )
    return Status(404, NOT_FOUND)


@router.get("/residents/{resident_id}", response={200: AccountOut, 404: Message, **COMMON}, tags=[POINTS])
def get_account(request: HttpRequest, resident_id: int) -> Any:
    """A resident's balance and their latest 200 ledger entries, newest first."""
    resident = access.point_accounts_visible_to(request.user).filter(pk=resident_id).first()
    if resident is None:
        return _denied(request, Action.READ, resident_id)
    entries = list(PointEntry.objects.filter(resident=resident).select_related("rule")[:200])
    record(request=request, action=Action.READ, resource_type="points", resident_id=resident.pk)
    return {"resident_id": resident.pk, "balance": services.balance_of(resident), "entries": entries}


@router.get(
    "/residents/{resident_id}/catalogue", response={200: list[ItemOut], 404: Message, **COMMON}, tags=[POINTS]
)
def get_catalogue(request: HttpRequest, resident_id: int) -> Any:
    """What the resident may redeem: district-wide items and their centre's."""
    resident = access.point_accounts_visible_to(request.user).filter(pk=resident_id).first()
    if resident is None:
        return _denied(request, Action.READ, resident_id)
    return list(access.catalogue_offered_to(resident).order_by("cost", "name"))


@router.post(
    "/residents/{resident_id}/redemptions",
    response={201: RedemptionOut, 404: Message, 409: FieldErrors, **COMMON},
    tags=[POINTS],
)
def redeem(request: HttpRequest, resident_id: int, payload: RedeemIn) -> Any:
    """Redeem one unit of a catalogue item (by the resident or their household head)."""
    resident: Resident | None = access.residents_redeemable_by(request.user).filter(pk=resident_id).first()
    if resident is None:
        return _denied(request, Action.CREATE, resident_id)
    # An item withdrawn since the client listed it gets the clear 409 from the service.
    if not access.catalogue_offered_to(resident).filter(pk=payload.item_id).exists() and not (
        CatalogueItem.objects.filter(pk=payload.item_id, active=False).exists()
    ):
        return Status(422, {"detail": [{"field": "item_id", "message": "no such item on offer"}]})
    try:
        redemption = services.redeem(resident, payload.item_id, by=request.user)
    except RedemptionRefused as refused:
        record(
            request=request,
            action=Action.CREATE,
            resource_type="redemption",
            resident_id=resident.pk,
            outcome=Outcome.INVALID,
            detail={"item": payload.item_id, "reason": refused.message},
        )
        return Status(409, {"detail": [{"field": refused.field, "message": refused.message}]})
    record(
        request=request,
        action=Action.CREATE,
        resource_type="redemption",
        resource_id=redemption.pk,
        resident_id=resident.pk,
    )
    return Status(
        201,
        {
            "id": redemption.pk,
            "item_id": redemption.item_id,
            "cost": redemption.cost,
            "redeemed_at": redemption.redeemed_at,
            "balance": services.balance_of(resident),
        },
    )
