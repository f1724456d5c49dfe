"""`jiayi backup --out FILE`: a consistent copy of the whole database, taken while the site runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayi.audit.backup import BackupError, backup


class Command(BaseCommand):
    help = "Back up the database (SQLite: online backup API; PostgreSQL: pg_dump custom format)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", required=True, type=Path, help="the backup file to write (must not exist)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            outcome = backup(options["out"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        size = outcome.path.stat().st_size
        self.stdout.write(
            self.style.SUCCESS(
                f"backup written: {outcome.path} ({size:,} bytes, {outcome.audit_entries:,} audit entries, "
                f"{outcome.seconds:.1f} s)"
            )
        )
