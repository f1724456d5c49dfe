"""`jiayi referrals release-slots|generate-slots`: the scheduled work of referrals and schedules."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jiayi.referrals import services
from jiayi.referrals.models import ScheduleTemplate


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from exc


class Command(BaseCommand):
    help = "Referrals: release unused reserved slots at the lead time; generate slots from weekly templates."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        release = sub.add_parser("release-slots", help="release unused reserved slots inside the lead time")
        release.add_argument("--lead-hours", type=int, help="override every hospital's lead time")
        generate = sub.add_parser("generate-slots", help="create slots from the active weekly templates")
        generate.add_argument("--from", dest="first", type=_day, help="first day (default: today)")
        generate.add_argument("--days", type=int, default=28, help="how many days ahead (default 28)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "release-slots":
            lead = options.get("lead_hours")
            if lead is not None and lead < 0:
                raise CommandError("--lead-hours must not be negative")
            result = services.do_release_reserved_slots(lead_hours=lead)
            self.stdout.write(
                f"{result.released} reserved slots released to the public pool, "
                f"{result.expired_holds} expired holds freed."
            )
            return
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        first = options.get("first") or timezone.localdate()
        last = first + timedelta(days=options["days"] - 1)
        made = sum(
            services.do_generate_slots(template, first, last)
            for template in ScheduleTemplate.objects.filter(active=True).select_related("department")
        )
        self.stdout.write(f"{made} slots created from {first} to {last}.")
