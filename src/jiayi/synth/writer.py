"""Fast bulk loading for generated rows: executemany on SQLite, COPY on PostgreSQL.

The ORM's bulk_create builds a model instance per row, which dominates the time at a million rows;
generated rows are already validated by construction, so they go straight to the table. Columns of
encrypted fields (ID numbers, phones, diagnosis text) are encrypted here, a chunk at a time, as the ORM
would have done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any

from django.db import connection
from django.db.models import Model

from jiayi.crypto import cipher, keys
from jiayi.crypto.fields import EncryptedCharField

Row = tuple[Any, ...]


def _encrypter(model: type[Model], columns: Sequence[str]) -> Callable[[list[Row]], list[Row]] | None:
    """A function encrypting the chunk's values of the model's encrypted columns (None: there are none)."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    targets = [
        (index, field)
        for index, name in enumerate(columns)
        if isinstance(field := fields.get(name), EncryptedCharField)
    ]
    if not targets:
        return None
    key = keys.keyring().current
    encrypt = cipher.encrypt_with
    table = model._meta.db_table
    pk_index = columns.index("id") if "id" in columns else None

    def row_nonce(pk: Any, column: str) -> bytes | None:
        # Randomised fields get a nonce derived from the row, not from the clock: the same seed gives the
        # same bytes, and no two rows share one (so equal texts still look different).
        if pk is None:
            return None
        return hashlib.sha256(f"{table}:{pk}:{column}".encode()).digest()[: cipher.NONCE_BYTES]

    def apply(chunk: list[Row]) -> list[Row]:
        values = [list(column) for column in zip(*chunk, strict=True)]
        pks = values[pk_index] if pk_index is not None else [None] * len(chunk)
        for index, field in targets:
            purpose, deterministic, column = field.associated_data, field.deterministic, field.column
            values[index] = [
                None
                if v is None
                else encrypt(
                    key,
                    str(v),
                    purpose,
                    deterministic=deterministic,
                    nonce=None if deterministic else row_nonce(pk, column),
                )
                for v, pk in zip(values[index], pks, strict=True)
            ]
        return list(zip(*values, strict=True))

    return apply


def _chunks(rows: Iterable[Row], size: int) -> Iterable[list[Row]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def insert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    on_progress: Callable[[int], None] | None = None,
    chunk_size: int = 50_000,
) -> int:
    """Insert rows (with explicit primary keys) into the model's table; returns the row count."""
    table = model._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    total = 0
    encrypt = _encrypter(model, columns)
    if encrypt is not None:
        rows = (row for chunk in _chunks(rows, chunk_size) for row in encrypt(chunk))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for chunk in _chunks(rows, chunk_size):
                    for row in chunk:
                        copy.write_row(row)
                    total += len(chunk)
                    if on_progress:
                        on_progress(len(chunk))
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({placeholders})"  # noqa: S608
            for chunk in _chunks(rows, chunk_size):
                cursor.executemany(sql, chunk)
                total += len(chunk)
                if on_progress:
                    on_progress(len(chunk))
    return total


def reset_sequence(model: type[Model]) -> None:
    """After explicit-id inserts, PostgreSQL's id sequence must move past the largest id."""
    if connection.vendor != "postgresql":
        return
    table = model._meta.db_table
    pk = model._meta.pk
    assert pk is not None
    column = connection.ops.quote_name(pk.column)
    sql = f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({column}), 1)) FROM {connection.ops.quote_name(table)}"  # noqa: E501, S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [table, pk.column])


def next_id(model: type[Model]) -> int:
    last = model._default_manager.order_by("-pk").values_list("pk", flat=True).first()
    return int(last or 0) + 1
