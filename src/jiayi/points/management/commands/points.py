"""`jiayi points award-pending`: pay every verified action on record that the ledger does not hold yet."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jiayi.points import services


class Command(BaseCommand):
    help = "Health points: replay verified actions into the ledger (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("award-pending", help="pay events on record not yet in the ledger; safe to rerun")

    def handle(self, *args: Any, **options: Any) -> None:
        created = services.ensure_default_rules()
        if created:
            self.stdout.write(f"{created} default rules created.")
        for kind, result in services.award_pending().items():
            self.stdout.write(f"{kind}: {result.entries} entries, {result.points} points.")
