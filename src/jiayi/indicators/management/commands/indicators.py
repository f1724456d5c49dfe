"""`jiayi indicators`: indicator rows as JSON, CSV or Excel, and `jiayi indicators rebuild`."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayi.indicators import engine, export, facts
from jiayi.indicators.catalogue import LEVELS


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--as-of: expected a date as YYYY-MM-DD, got {text!r}") from exc


class Command(BaseCommand):
    help = "Compute indicators at a level (JSON, CSV or Excel), or rebuild the fact tables."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=["rebuild"], help="rebuild every kept period")
        parser.add_argument("--as-of", type=_date, default=None, help="reference date (default today)")
        parser.add_argument("--period", choices=list(engine.PERIODS), default="year")
        parser.add_argument("--level", choices=list(LEVELS), default="district")
        parser.add_argument("--code", action="append", dest="codes", default=None, metavar="CODE")
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], default="json", dest="fmt")
        parser.add_argument("--engine", choices=list(engine.ENGINES), default="db")
        parser.add_argument("--output", type=Path, default=None, help="file to write (xlsx needs one)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "rebuild":
            periods = facts.rebuild_all()
            self.stderr.write(f"rebuilt {len(periods)} period(s)")
            return
        from django.utils import timezone

        as_of = options["as_of"] or timezone.localdate()
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
