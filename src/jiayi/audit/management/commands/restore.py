"""`jiayi restore FILE`: replace the database's contents with a backup, then verify the audit log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayi.audit.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restore a backup written by `jiayi backup`; every current row is replaced."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="a file written by `jiayi backup`")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not options["yes"] and sys.stdin.isatty():
            answer = input(f"Replace every row of this database with {path}? Type 'yes' to continue: ")
            if answer.strip() != "yes":
                raise CommandError("restore cancelled; nothing was changed")
        try:
            outcome = restore(path)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"restored {path} in {outcome.seconds:.1f} s: {outcome.audit_entries:,} audit entries"
        )
        if outcome.chain_break is not None:
            found = outcome.chain_break
            raise CommandError(
                f"restored, but the audit log is broken at entry #{found.entry_id}: {found.reason}"
            )
        self.stdout.write(self.style.SUCCESS("audit log intact"))
