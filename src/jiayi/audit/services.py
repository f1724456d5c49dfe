"""Writing and verifying the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest

from jiayi.audit import anchor, chain
from jiayi.audit.checks import retention_days
from jiayi.audit.immutability import unlocked
from jiayi.audit.models import Action, AuditEntry, Outcome

# The marker a retention purge appends before deleting the head of the chain.
PURGE_RESOURCE = "audit_log"
DEV_ANCHOR_KEY = "dev-only-audit-anchor-key"


def _now() -> datetime:
    """The clock of the audit log (one place, so tests can freeze it)."""
    return datetime.now(UTC)


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
        at=_now(),
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


@dataclass(frozen=True, slots=True)
class Event:
    """One event for `record_many`: what `record` takes, less who acted and from where."""

    action: Action | str
    resource_type: str
    resource_id: object = ""
    resident_id: int | None = None
    outcome: Outcome | str = Outcome.OK
    purpose: str = ""
    detail: dict[str, Any] | None = None


def record_many(
    events: Sequence[Event],
    *,
    request: HttpRequest | None = None,
    actor: Any = None,
) -> int:
    """Append one chained entry per event, in order, under one lock and with one bulk insert: a bulk
    import audits every entry it stores without paying a lock, a look-up of the chain's head and an
    INSERT for each. Returns the number of entries appended.

    The entries are linked to each other exactly as `record` would link them one by one, so the chain
    verifies the same; the insert keeps their order, and ids are assigned in that order inside the
    lock, which is the order `verify` walks."""
    if not events:
        return 0
    user = actor if actor is not None else getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    account = getattr(user, "account", None) if user is not None else None
    actor_name = user.get_username() if user is not None else ""
    actor_role = account.role if account is not None else ("superuser" if user and user.is_superuser else "")
    ip = client_ip(request)
    at = _now()
    entries = [
        AuditEntry(
            at=at,
            actor=user,
            actor_name=actor_name,
            actor_role=actor_role,
            action=str(event.action),
            outcome=str(event.outcome),
            resource_type=event.resource_type,
            resource_id=str(event.resource_id),
            resident_id=event.resident_id,
            purpose=event.purpose[:200],
            ip=ip,
            detail=event.detail or {},
        )
        for event in events
    ]
    with transaction.atomic():
        _lock_chain()
        previous = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
        previous = previous or chain.GENESIS
        for entry in entries:
            entry.prev_hash = previous
            entry.hash = chain.link(previous, entry.chained_fields())
            previous = entry.hash
        _insert(entries)
    return len(entries)


def _insert(entries: list[AuditEntry]) -> None:
    """One multi-row insert without the ORM's per-field, per-row preparation, which costs more than
    the hashing: the values are already what the columns hold."""
    fields = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names from the model

    def row(entry: AuditEntry) -> list[Any]:
        values: list[Any] = []
        for f in fields:
            value = getattr(entry, f.attname)
            if f.attname == "at":
                value = connection.ops.adapt_datetimefield_value(value)
            elif f.attname == "detail":
                value = json.dumps(value)  # as JSONField stores it (no custom encoder)
            values.append(value)
        return values

    with connection.cursor() as cursor:
        cursor.executemany(sql, [row(entry) for entry in entries])


def _entries(batch: int = 5000) -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    last_id = 0
    while True:
        rows = list(AuditEntry.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return
        for row in rows:
            yield row.id, row.prev_hash, row.hash, row.chained_fields()
        last_id = rows[-1].id


def _chain_start() -> str:
    """Genesis, or the hash of the last purged entry when a chained purge marker vouches for it."""
    first = AuditEntry.objects.order_by("id").values_list("prev_hash", flat=True).first()
    if first is None or first == chain.GENESIS:
        return chain.GENESIS
    vouched = AuditEntry.objects.filter(
        resource_type=PURGE_RESOURCE, action=Action.DELETE, detail__last_purged_hash=first
    ).exists()
    return first if vouched else chain.GENESIS


def verify_chain(anchor_point: anchor.Anchor | None = None) -> chain.ChainBreak | None:
    """The first entry where the stored log disagrees with its hash chain (or with a signed anchor),
    or None if intact."""
    found = chain.verify(_entries(), start=_chain_start())
    if found is not None or anchor_point is None:
        return found
    stored = AuditEntry.objects.filter(id=anchor_point.entry_id).values_list("hash", flat=True).first()
    if stored is None:
        last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
        return chain.ChainBreak(
            anchor_point.entry_id,
            f"entry covered by the signed anchor is missing: the log ends at #{last} (truncated)",
        )
    if stored != anchor_point.hash:
        return chain.ChainBreak(anchor_point.entry_id, "entry hash differs from the signed anchor")
    return None


def anchor_key() -> str:
    return str(getattr(settings, "JIAYI_AUDIT_ANCHOR_KEY", "") or DEV_ANCHOR_KEY)


def make_anchor(directory: Path) -> Path | None:
    """Write a signed checkpoint of the newest entry into `directory`; None for an empty log."""
    last = AuditEntry.objects.order_by("-id").first()
    if last is None:
        return None
    created = _now()
    point = anchor.Anchor(
        entry_id=last.id,
        hash=last.hash,
        count=AuditEntry.objects.filter(id__lte=last.id).count(),
        created_at=created.isoformat(timespec="seconds"),
    )
    name = f"audit-anchor-{created:%Y%m%dT%H%M%S}-{last.id}.json"
    return anchor.write(point, anchor_key(), directory / name)


class RetentionError(ValueError):
    """A purge was asked to delete entries younger than the retention period."""


@dataclass(frozen=True, slots=True)
class PurgeResult:
    deleted: int
    through_id: int | None


def purge_before(before: datetime) -> PurgeResult:
    """Delete the head of the log up to the last entry older than `before`.

    Refuses a cut-off inside the retention period. The purge first appends a chained marker naming the
    hash of the last entry it removes, so `verify` can still check the remaining log from its new head.
    """
    limit = _now() - timedelta(days=retention_days())
    if before > limit:
        raise RetentionError(
            f"refusing to purge entries after {limit:%Y-%m-%d}: the audit log is kept {retention_days()} days"
        )
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.filter(at__lt=before).order_by("-id").values_list("id", "hash").first()
        if last is None:
            return PurgeResult(deleted=0, through_id=None)
        through_id, last_hash = last
        record(
            action=Action.DELETE,
            resource_type=PURGE_RESOURCE,
            purpose="retention purge",
            detail={"purged_through_id": through_id, "last_purged_hash": last_hash},
        )
        with unlocked():
            deleted, _ = AuditEntry.objects.filter(id__lte=through_id).delete()
    return PurgeResult(deleted=deleted, through_id=through_id)
