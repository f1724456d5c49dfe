"""`jiayi indicators`: indicator rows as JSON, CSV or Excel; `build` a period's facts with a progress
bar, `rebuild` every kept period, `prune` old periods, list the kept `periods`."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count

from jiayi.indicators import engine, export, facts
from jiayi.indicators.catalogue import LEVELS
from jiayi.indicators.models import FactPeriod, PeriodKind


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--as-of: expected a date as YYYY-MM-DD, got {text!r}") from exc


Progress = Callable[[int, int], None]


@contextmanager
def _progress_bar(label: str, shown: bool) -> Iterator[Progress | None]:
    """A bar on stderr (stdout may carry the JSON) following a period build's (done, total)."""
    if not shown:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task(label, total=None)
    with bar:

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def prune(keep: int | None, before: date | None) -> list[FactPeriod]:
    """Drop kept periods (their fact rows and counts with them): those ending before `before`, and
    all but the `keep` latest of each kind. Dropped periods are rebuilt on demand if asked again."""
    doomed: dict[int, FactPeriod] = {}
    for kind in PeriodKind.values:
        periods = list(FactPeriod.objects.filter(kind=kind).order_by("-as_of"))
        if keep is not None:
            doomed.update({p.pk: p for p in periods[keep:]})
        if before is not None:
            doomed.update({p.pk: p for p in periods if p.as_of < before})
    with transaction.atomic():
        FactPeriod.objects.filter(pk__in=list(doomed)).delete()
    return sorted(doomed.values(), key=lambda p: (p.kind, p.as_of))


class Command(BaseCommand):
    help = (
        "Compute indicators at a level (JSON, CSV or Excel); build, rebuild, prune or list the kept "
        "periods of the fact tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            nargs="?",
            choices=["build", "rebuild", "prune", "periods"],
            help="build one period (--as-of, --period), rebuild every kept period, prune old periods "
            "(--keep, --before), or list the kept periods",
        )
        parser.add_argument("--keep", type=int, default=None, help="prune: latest periods kept per kind")
        parser.add_argument("--before", type=_date, default=None, help="prune: drop periods ending before")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--as-of", type=_date, default=None, help="reference date (default today)")
        parser.add_argument("--period", choices=list(engine.PERIODS), default="year")
        parser.add_argument("--level", choices=list(LEVELS), default="district")
        parser.add_argument("--code", action="append", dest="codes", default=None, metavar="CODE")
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], default="json", dest="fmt")
        parser.add_argument("--engine", choices=list(engine.ENGINES), default="db")
        parser.add_argument("--output", type=Path, default=None, help="file to write (xlsx needs one)")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.utils import timezone

        action = options["action"]
        as_of = options["as_of"] or timezone.localdate()
        show = not options["no_progress"] and sys.stderr.isatty()
        if action == "rebuild":
            periods = list(FactPeriod.objects.all())
            for period in periods:
                with _progress_bar(f"{period.kind} {period.as_of}", show) as advance:
                    facts.build_period(period.kind, period.as_of, advance)
            self.stderr.write(f"rebuilt {len(periods)} period(s)")
            return
        if action == "build":
            with _progress_bar(f"{options['period']} {as_of}", show) as advance:
                built = facts.build_period(options["period"], as_of, advance)
            count = built.resident_facts.count()
            self.stderr.write(f"built {built.kind} {built.starts_on}..{built.as_of}: {count} resident rows")
            return
        if action == "prune":
            if options["keep"] is None and options["before"] is None:
                raise CommandError("prune: give --keep N (latest periods kept per kind) and/or --before DATE")
            if options["keep"] is not None and options["keep"] < 0:
                raise CommandError(f"--keep: expected a count of 0 or more, got {options['keep']}")
            dropped = prune(options["keep"], options["before"])
            for period in dropped:
                self.stderr.write(f"dropped {period.kind} {period.starts_on}..{period.as_of}")
            self.stderr.write(f"pruned {len(dropped)} period(s); {FactPeriod.objects.count()} kept")
            return
        if action == "periods":
            for period in FactPeriod.objects.annotate(rows=Count("resident_facts")).order_by("kind", "as_of"):
                self.stdout.write(
                    f"{period.kind}\t{period.starts_on}\t{period.as_of}\t{period.rows}\t"
                    f"{period.built_at.isoformat(timespec='seconds')}"
                )
            return
        if not FactPeriod.objects.filter(kind=options["period"], as_of=as_of).exists():
            # Built on first use: at district scale that takes minutes, so show it.
            with _progress_bar(f"{options['period']} {as_of}", show) as advance:
                facts.build_period(options["period"], as_of, advance)
        try:
            rows = engine.compute(
                as_of,
                level=options["level"],
                codes=options["codes"],
                period=options["period"],
                engine=options["engine"],
            )
        except engine.EngineError as exc:
            raise CommandError(str(exc)) from exc
        fmt, output = options["fmt"], options["output"]
        if fmt == "xlsx":
            content = export.xlsx_bytes(rows)
            if output is None:
                if sys.stdout.isatty():
                    raise CommandError("--format xlsx writes a binary file: give --output FILE")
                sys.stdout.buffer.write(content)
                return
            output.write_bytes(content)
            return
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=export.COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            text = buffer.getvalue()
        else:
            text = json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
        if output is not None:
            output.write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
