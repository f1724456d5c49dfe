"""`{% doctor_board %}`: a family doctor's own indicator board, for their home page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from jiayi import access
from jiayi.indicators import board
from jiayi.registry.choices import Role

register = template.Library()


@register.inclusion_tag("indicators/_doctor_board.html", takes_context=True)
def doctor_board(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    account = access.account_of(user)
    if account is None or account.staff_id is None or account.role != Role.FAMILY_DOCTOR:
        return {"board": None}
    as_of = timezone.localdate()
    rows = board.scoped_rows(user, as_of, "doctor", "year")
    return {"board": {"as_of": as_of, "rows": board.board_rows(user, rows, account.staff_id)}}
