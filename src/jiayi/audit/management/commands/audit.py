"""`jiayi audit verify|anchor|purge|harden`: checking and maintaining the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from jiayi.audit import anchor
from jiayi.audit.immutability import harden_postgresql
from jiayi.audit.services import (
    RetentionError,
    anchor_key,
    make_anchor,
    purge_before,
    verify_chain,
)


def _date(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError as error:
        raise CommandError(f"not a date: {value!r} (use YYYY-MM-DD)") from error


class Command(BaseCommand):
    help = "Verify, anchor, purge or harden the hash-chained audit log."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="check the hash chain; exit 1 at the first bad entry")
        verify.add_argument("--anchor", type=Path, help="also check against this signed anchor file")
        anchor_cmd = sub.add_parser("anchor", help="write a signed checkpoint file outside the database")
        anchor_cmd.add_argument(
            "--dir",
            type=Path,
            default=Path(settings.DATA_DIR) / "audit-anchors",
            help="directory for the anchor file (copy it off the server)",
        )
        purge = sub.add_parser("purge", help="delete entries older than a date beyond the retention")
        purge.add_argument("--before", required=True, type=_date, help="YYYY-MM-DD")
        harden = sub.add_parser("harden", help="PostgreSQL: trigger plus REVOKE for the app role")
        harden.add_argument("--role", help="the application's database role to revoke UPDATE/DELETE from")

    def handle(self, *args: Any, **options: Any) -> None:
        subcommand = options["subcommand"]
        if subcommand == "verify":
            self._verify(options["anchor"])
        elif subcommand == "anchor":
            path = make_anchor(options["dir"])
            if path is None:
                raise CommandError("the audit log is empty: nothing to anchor")
            self.stdout.write(f"anchor written: {path}")
        elif subcommand == "purge":
            try:
                result = purge_before(options["before"])
            except RetentionError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"purged {result.deleted} entries (through #{result.through_id})")
        elif subcommand == "harden":
            self._harden(options["role"])

    def _verify(self, anchor_path: Path | None) -> None:
        anchor_point = None
        if anchor_path is not None:
            try:
                anchor_point = anchor.read(anchor_path, anchor_key())
            except anchor.AnchorError as error:
                raise CommandError(str(error)) from error
        found = verify_chain(anchor_point)
        if found is not None:
            raise CommandError(f"audit log broken at entry #{found.entry_id}: {found.reason}")
        self.stdout.write("audit log intact")

    def _harden(self, role: str | None) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "harden is for PostgreSQL; on SQLite the append-only triggers come with the migrations"
            )
        harden_postgresql(connection, role)
        self.stdout.write("append-only trigger installed")
        if role:
            self.stdout.write(f"UPDATE, DELETE, TRUNCATE revoked from {role}")
        else:
            self.stdout.write("no --role given: privileges unchanged")
