"""`flush` that may also empty the append-only audit table.

Flushing wipes the whole database (the test runner does it between transactional tests); it is an
operator's reset, not an application path, so it runs with the audit table unlocked. On a hardened
PostgreSQL deployment the application role lacks TRUNCATE on the table and this still fails.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush

from jiayi.audit.immutability import unlocked


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with unlocked(options["database"]):
            super().handle(**options)
