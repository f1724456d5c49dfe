"""Bringing stored values under the current key, in batches: the migration that first encrypts plain
columns, and `jiayi crypto rotate` after a new key is configured.

Works on the raw columns (no model instances, no per-row ORM saves) so a million-resident district
takes seconds to a minute; each batch is its own transaction with its rows locked, so the application
keeps running and an interrupted run simply continues where it stopped when started again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db import connections, transaction
from django.db.models import Model

from jiayi.crypto import cipher, keys
from jiayi.crypto.fields import EncryptedCharField

DEFAULT_BATCH = 5_000


@dataclass(frozen=True)
class Column:
    name: str
    purpose: str
    deterministic: bool


@dataclass(frozen=True)
class Table:
    label: str
    name: str
    pk: str
    columns: tuple[Column, ...]


def encrypted_tables(registry: Apps | None = None) -> list[Table]:
    """Every table with encrypted columns, from the given app registry (a migration's historical one)."""
    tables = []
    for model in (registry or global_apps).get_models():
        columns = tuple(
            Column(f.column, f.associated_data, f.deterministic)
            for f in model._meta.concrete_fields
            if isinstance(f, EncryptedCharField)
        )
        if columns:
            tables.append(_table(model, columns))
    return tables


def _table(model: type[Model], columns: tuple[Column, ...]) -> Table:
    pk = model._meta.pk
    assert pk is not None
    return Table(model._meta.label, model._meta.db_table, pk.column, columns)


def table_of(model: type[Model], field_names: Sequence[str]) -> Table:
    fields = [model._meta.get_field(name) for name in field_names]
    columns = []
    for field in fields:
        assert isinstance(field, EncryptedCharField), f"{model._meta.label}.{field.name} is not encrypted"
        columns.append(Column(field.column, field.associated_data, field.deterministic))
    return _table(model, tuple(columns))


class Reencrypter:
    """Maps one stored value to its value under the current key (or None when it is already there)."""

    def __init__(self, *, accept_plaintext: bool) -> None:
        self.ring = keys.keyring()
        self.accept_plaintext = accept_plaintext

    def convert(self, table: Table, pk: Any, column: Column, stored: str | None) -> str | None:
        if stored is None or stored == "":
            return None
        version = cipher.key_version(stored)
        if version == self.ring.current.version and not self.accept_plaintext:
            return None
        if version is not None and version in self.ring.by_version:
            try:
                plain = cipher.decrypt(stored, column.purpose, deterministic=column.deterministic)
            except cipher.DecryptionError:
                if not self.accept_plaintext:
                    raise cipher.DecryptionError(
                        f"{table.label} {table.pk}={pk} {column.name}: the stored value does not decrypt"
                    ) from None
                plain = stored  # plain text that merely looks like a token
            else:
                if version == self.ring.current.version:
                    return None
        elif self.accept_plaintext:
            plain = stored
        else:
            raise cipher.DecryptionError(
                f"{table.label} {table.pk}={pk} {column.name}: encrypted with key version {version}, "
                "which is not configured; add it to JIAYI_FIELD_OLD_KEYS"
            )
        return cipher.encrypt_with(
            self.ring.current, plain, column.purpose, deterministic=column.deterministic
        )


def reencrypt_table(
    table: Table,
    *,
    accept_plaintext: bool = False,
    batch_size: int = DEFAULT_BATCH,
    using: str = "default",
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Re-encrypt (or first encrypt) the table's columns under the current key; returns (rows read,
    rows changed). `on_progress(read, changed)` is called after each batch."""
    connection = connections[using]
    quote = connection.ops.quote_name
    names = ", ".join(quote(c.name) for c in table.columns)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = (
        f"SELECT {quote(table.pk)}, {names} FROM {quote(table.name)} "  # noqa: S608 (names from the model)
        f"WHERE {quote(table.pk)} > %s ORDER BY {quote(table.pk)} LIMIT %s{lock}"
    )
    converter = Reencrypter(accept_plaintext=accept_plaintext)
    read = changed = 0
    last: Any = None
    while True:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(select, [last if last is not None else _lowest(connection), batch_size])
            rows = cursor.fetchall()
            if not rows:
                break
            updates = []
            for pk, *values in rows:
                new = [
                    converter.convert(table, pk, col, v) for col, v in zip(table.columns, values, strict=True)
                ]
                if any(n is not None for n in new):
                    updates.append(
                        (pk, [n if n is not None else v for n, v in zip(new, values, strict=True)])
                    )
            _write(cursor, connection.vendor, table, updates)
        last = rows[-1][0]
        read += len(rows)
        changed += len(updates)
        if on_progress:
            on_progress(read, changed)
        if len(rows) < batch_size:
            break
    return read, changed


def _lowest(connection: Any) -> int:
    # Primary keys of the encrypted tables are integers; every one is above this.
    return -(2**63)


def _write(cursor: Any, vendor: str, table: Table, updates: Iterable[tuple[Any, list[str | None]]]) -> None:
    rows = list(updates)
    if not rows:
        return
    quote = cursor.db.ops.quote_name
    if vendor == "postgresql":
        # One statement per batch: UPDATE … FROM (VALUES …) is far faster than a statement per row.
        width = len(table.columns) + 1
        values = ", ".join(["(" + ", ".join(["%s::bigint"] + ["%s::text"] * (width - 1)) + ")"] * len(rows))
        aliases = ", ".join(f"c{i}" for i in range(len(table.columns)))
        sets = ", ".join(f"{quote(c.name)} = v.c{i}" for i, c in enumerate(table.columns))
        sql = (
            f"UPDATE {quote(table.name)} AS t SET {sets} FROM (VALUES {values}) AS v(pk, {aliases}) "  # noqa: S608
            f"WHERE t.{quote(table.pk)} = v.pk"
        )
        cursor.execute(sql, [item for pk, new in rows for item in (pk, *new)])
        return
    sets = ", ".join(f"{quote(c.name)} = %s" for c in table.columns)
    sql = f"UPDATE {quote(table.name)} SET {sets} WHERE {quote(table.pk)} = %s"  # noqa: S608
    cursor.executemany(sql, [(*new, pk) for pk, new in rows])


def encrypt_plain_columns(registry: Apps, label: str, field_names: Sequence[str], *, using: str) -> None:
    """For a data migration: encrypt values still stored in plain text. An empty table needs no key."""
    model = registry.get_model(label)
    if not model._default_manager.using(using).exists():
        return
    reencrypt_table(table_of(model, field_names), accept_plaintext=True, using=using)
