"""`jiayi reports generate|evaluate`: issue a report into the archive and write its files, or print the
comprehensive evaluation of a district's centres."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place
from jiayi.reports import data, services
from jiayi.reports.kinds import ReportKind, reference_date
from jiayi.reports.writers import FORMATS


class Command(BaseCommand):
    help = "Generate a district report (PDF, Word, Excel) into the archive, or print the centres' evaluation."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{generate,evaluate,issue-due}")
        generate = actions.add_parser("generate", help="issue one report and write its files")
        generate.add_argument("--kind", required=True, choices=[k.value for k in ReportKind])
        generate.add_argument("--year", type=int, required=True)
        generate.add_argument("--quarter", type=int, default=None, help="1-4, for the quarterly briefing")
        generate.add_argument(
            "--centre", type=int, default=None, help="a centre's id (default: the district)"
        )
        generate.add_argument("--district", default=None, help="the district's code (default: the only one)")
        generate.add_argument("--format", action="append", choices=FORMATS, dest="formats")
        generate.add_argument("--budget", default=None, help="yuan to allocate (comprehensive evaluation)")
        generate.add_argument("--out", type=Path, default=Path("."), help="folder for the files")
        generate.add_argument("--no-progress", action="store_true")
        due = actions.add_parser("issue-due", help="issue every report due today that is not issued yet")
        due.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default today)")
        evaluate = actions.add_parser("evaluate", help="score, rank and fund the district's centres")
        evaluate.add_argument("--year", type=int, required=True)
        evaluate.add_argument("--district", default=None)
        evaluate.add_argument("--budget", default=None)
        evaluate.add_argument("--format", choices=("json", "csv"), default="json")

    def _district(self, code: str | None) -> Place:
        districts = Place.objects.filter(level=PlaceLevel.DISTRICT)
        if code is not None:
            districts = districts.filter(code=code)
        found = list(districts[:2])
        if not found:
            raise CommandError(
                f"no district{f' with code {code}' if code else ''}: generate or import one first"
            )
        if len(found) > 1:
            raise CommandError("several districts: choose one with --district CODE")
        return found[0]

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate":
            self._generate(options)
        elif options["action"] == "issue-due":
            reports = services.do_issue_due_reports(options["today"])
            for report in reports:
                report = services.generate(report.pk)
                self.stdout.write(f"report #{report.pk} {report.status}: {report}")
            if not reports:
                self.stdout.write("nothing due that is not issued already")
        else:
            self._evaluate(options)

    def _generate(self, options: dict[str, Any]) -> None:
        try:
            scope = (
                services.scope_of("centre", options["centre"])
                if options["centre"] is not None
                else data.district_scope(self._district(options["district"]))
            )
            report = services.do_request_report(
                None,
                kind=options["kind"],
                year=options["year"],
                quarter=options["quarter"],
                scope=scope,
                formats=options["formats"] or list(FORMATS),
                budget=options["budget"],
            )
        except services.ReportRequestError as exc:
            raise CommandError(str(exc)) from None
        if options["no_progress"]:
            report = services.generate(report.pk)
        else:
            with Progress(
                TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            ) as bar:
                task = bar.add_task(report.title, total=report.steps_total)
                report = services.generate(
                    report.pk,
                    on_step=lambda done, total, stage: bar.update(task, completed=done, total=total),
                )
        out: Path = options["out"]
        out.mkdir(parents=True, exist_ok=True)
        for file in report.files.all():
            quarter = f"-Q{report.quarter}" if report.quarter else ""
            stem = f"{report.kind}-{report.year}{quarter}-{report.scope_level}{report.scope_id}"
            path = out / f"{stem}.{file.file_format}"
            path.write_bytes(bytes(file.content))
            self.stdout.write(f"{path}  {file.size:,} bytes  sha256 {file.sha256[:16]}")
        self.stdout.write(
            self.style.SUCCESS(f"report #{report.pk} issued: {report.title} ({report.scope_name})")
        )

    def _evaluate(self, options: dict[str, Any]) -> None:
        district = self._district(options["district"])
        as_of = reference_date(options["year"], None, timezone.localdate())
        try:
            budget = Decimal(options["budget"]) if options["budget"] else None
        except ArithmeticError:
            raise CommandError(f"--budget: expected an amount in yuan, got {options['budget']!r}") from None
        inputs = data.gather(
            ReportKind.COMPREHENSIVE_EVALUATION,
            data.district_scope(district),
            options["year"],
            None,
            as_of,
            budget=budget,
        )
        rows: list[dict[str, Any]] = [
            {
                "rank": score.rank,
                "centre_id": score.centre_id,
                "centre": score.name,
                "quantity": score.group_total("quantity"),
                "quality": score.group_total("quality"),
                "satisfaction": score.group_total("satisfaction"),
                "total": score.total,
                "funding": str(inputs.funding[score.centre_id]) if inputs.funding else None,
                "missing": score.missing,
            }
            for score in inputs.scores
        ]
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["rank"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "missing": ";".join(row["missing"])})
