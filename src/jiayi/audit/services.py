"""Writing and verifying the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest

from jiayi.audit import chain
from jiayi.audit.models import Action, AuditEntry, Outcome

# Arbitrary but fixed key for PostgreSQL's advisory lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 0x6A6979  # "jiy"


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite runs write transactions one at a time (IMMEDIATE mode), so the chain is already serial.


def client_ip(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return str(request.META.get("REMOTE_ADDR", ""))[:45]


def record(
    *,
    request: HttpRequest | None = None,
    actor: Any = None,
    action: Action | str,
    resource_type: str,
    resource_id: object = "",
    resident_id: int | None = None,
    outcome: Outcome | str = Outcome.OK,
    purpose: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. Runs inside the caller's transaction when there is one, so a failed audit
    write fails the request that caused it."""
    user = actor if actor is not None else getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    account = getattr(user, "account", None) if user is not None else None
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=user,
        actor_name=user.get_username() if user is not None else "",
        actor_role=account.role
        if account is not None
        else ("superuser" if user and user.is_superuser else ""),
        action=str(action),
        outcome=str(outcome),
        resource_type=resource_type,
        resource_id=str(resource_id),
        resident_id=resident_id,
        purpose=purpose[:200],
        ip=client_ip(request),
        detail=detail or {},
    )
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
        entry.prev_hash = last or chain.GENESIS
        entry.hash = chain.link(entry.prev_hash, entry.chained_fields())
        entry.save(force_insert=True)
    return entry


def _entries(batch: int = 5000) -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    last_id = 0
    while True:
        rows = list(AuditEntry.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return
        for row in rows:
            yield row.id, row.prev_hash, row.hash, row.chained_fields()
        last_id = rows[-1].id


def verify_chain() -> chain.ChainBreak | None:
    """The first entry where the stored log disagrees with its hash chain, or None if intact."""
    return chain.verify(_entries())
