"""`jiayi signing remind|expire|send-reminders`: the signing lifecycle's scheduled work."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jiayi.signing import reminders, rules, services


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from exc


class Command(BaseCommand):
    help = "Signing lifecycle: queue renewal reminders, send queued ones, expire ended signings."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        remind = sub.add_parser("remind", help="queue renewal reminders for signings ending soon")
        remind.add_argument("--lead-days", type=int, default=rules.DEFAULT_RENEWAL_LEAD_DAYS)
        remind.add_argument("--today", type=_day, help="the day to run as (default: today)")
        remind.add_argument("--send", action="store_true", help="also hand queued messages to the gateway")
        expire = sub.add_parser("expire", help="mark active signings past their end as expired")
        expire.add_argument("--today", type=_day, help="the day to run as (default: today)")
        sub.add_parser("send-reminders", help="hand queued reminders to the gateway")

    def handle(self, *args: Any, **options: Any) -> None:
        today = options.get("today") or timezone.localdate()
        action = options["action"]
        if action == "remind":
            if options["lead_days"] < 0:
                raise CommandError("--lead-days must not be negative")
            queued = reminders.do_queue_renewal_reminders(None, today=today, lead_days=options["lead_days"])
            self.stdout.write(f"{queued} renewal reminders queued.")
            if options["send"]:
                self._send()
        elif action == "expire":
            expired = services.do_expire_ended_signings(None, today=today)
            self.stdout.write(f"{expired} signings expired.")
        else:
            self._send()

    def _send(self) -> None:
        sent, failed = reminders.send_queued()
        self.stdout.write(f"{sent} reminders sent, {failed} failed.")
