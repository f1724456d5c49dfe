"""`jiayi crypto`: field-encryption keys.

    jiayi crypto new-key [--version N]   print a new random key for JIAYI_FIELD_KEY
    jiayi crypto status                  how many stored values each key version holds
    jiayi crypto rotate [--batch N]      re-encrypt every encrypted column under the current key

Rotating: set JIAYI_FIELD_KEY to a new key with a higher version (`2:…`) and move the old one to
JIAYI_FIELD_OLD_KEYS; the application reads both and finds rows under either while `rotate` runs;
when it reports nothing left under old versions, drop the old key.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from jiayi.crypto import cipher, keys
from jiayi.crypto.reencrypt import DEFAULT_BATCH, encrypted_tables, reencrypt_table


class Command(BaseCommand):
    help = "Field-encryption keys: new-key, status, rotate."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        new = sub.add_parser("new-key", help="print a new random key")
        new.add_argument("--version", type=int, default=1, dest="key_version")
        sub.add_parser("status", help="stored values per key version")
        rotate = sub.add_parser("rotate", help="re-encrypt stored values under the current key")
        rotate.add_argument("--batch", type=int, default=DEFAULT_BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "new-key":
            if options["key_version"] < 1:
                raise CommandError("--version must be at least 1")
            self.stdout.write(keys.generate_key(options["key_version"]))
        elif action == "status":
            self._status()
        else:
            self._rotate(options["batch"])

    def _status(self) -> None:
        ring = keys.keyring()
        self.stdout.write(f"current key version {ring.current.version}; decrypting {ring.versions}")
        quote = connection.ops.quote_name
        for table in encrypted_tables():
            for column in table.columns:
                versions: Counter[str] = Counter()
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT {quote(column.name)} FROM {quote(table.name)} "  # noqa: S608
                        f"WHERE {quote(column.name)} IS NOT NULL AND {quote(column.name)} <> ''"
                    )
                    for (value,) in cursor.fetchall():
                        version = cipher.key_version(value)
                        versions[f"v{version}" if version else "plain"] += 1
                summary = ", ".join(f"{k}: {n:,}" for k, n in sorted(versions.items())) or "empty"
                self.stdout.write(f"  {table.label}.{column.name}: {summary}")

    def _rotate(self, batch: int) -> None:
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        ring = keys.keyring()
        self.stdout.write(f"Re-encrypting under key version {ring.current.version}…")
        started = time.perf_counter()
        for table in encrypted_tables():
            columns = ", ".join(c.name for c in table.columns)

            def progress(read: int, changed: int, label: str = table.label) -> None:
                self.stdout.write(f"  {label}: {read:,} rows read, {changed:,} re-encrypted")

            try:
                read, changed = reencrypt_table(table, batch_size=batch, on_progress=progress)
            except cipher.DecryptionError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"{table.label} ({columns}): {read:,} rows, {changed:,} re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Done in {time.perf_counter() - started:.1f} s."))
