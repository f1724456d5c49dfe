"""`jiayi surveillance import-counts|detect|evaluate|synth-feed|send-notifications`: the early-warning
commands."""

from __future__ import annotations

import csv
import time
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jiayi.surveillance import evaluation, notify, services
from jiayi.surveillance.report import evaluation_report
from jiayi.surveillance.synth import generate_sentinel_feed

CSV_COLUMNS = ("unit", "date", "code", "count")
CASE_COLUMNS = ("code", "onset_date", "reported_on", "place")
LAB_COLUMNS = ("unit", "sampled_on", "pathogen", "outcome")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"expected a date as YYYY-MM-DD, got {text!r}") from exc


class Command(BaseCommand):
    help = "Import sentinel counts, run detection, evaluate the detectors, or write a synthetic feed."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(
            dest="action",
            required=True,
            metavar="{import-counts,import-cases,import-lab-results,detect,evaluate,synth-feed,"
            "send-notifications}",
        )
        importer = actions.add_parser("import-counts", help="import daily counts from a CSV file")
        importer.add_argument("file", type=Path, help="CSV with columns unit,date,code,count")
        cases = actions.add_parser("import-cases", help="import case reports from a CSV file")
        cases.add_argument("file", type=Path, help="CSV: code,onset_date,reported_on,place[,unit,citizen_id]")
        labs = actions.add_parser("import-lab-results", help="import lab results from a CSV file")
        labs.add_argument("file", type=Path, help="CSV: unit,sampled_on,pathogen,outcome[,case]")
        detect = actions.add_parser("detect", help="run every detector setting and open alerts")
        detect.add_argument("--as-of", type=_date, default=None, help="the day to detect for (default today)")
        detect.add_argument("--lookback", type=int, default=services.LOOKBACK_DAYS)
        evaluate = actions.add_parser("evaluate", help="the simulation study of the detectors and rules")
        evaluate.add_argument(
            "--scenarios", default="all", help="comma-separated scenario numbers (0-41) or 'all'"
        )
        evaluate.add_argument("--replicates", type=int, default=100)
        evaluate.add_argument("--ks", default="1,2,3,4,5,6,7,8,9,10", help="current outbreak sizes k")
        evaluate.add_argument("--seed", type=int, default=0)
        evaluate.add_argument("--target-fpr", type=float, default=0.01)
        evaluate.add_argument("--out", type=Path, default=Path("surveillance-evaluation"))
        synth = actions.add_parser("synth-feed", help="write a synthetic sentinel feed with outbreaks")
        synth.add_argument("--seed", type=int, default=0)
        synth.add_argument("--days", type=int, default=800)
        synth.add_argument("--end", type=_date, default=None)
        synth.add_argument("--outbreaks", type=int, default=3)
        send = actions.add_parser("send-notifications", help="deliver the alert notification outbox")
        send.add_argument(
            "--gateway", default=None, help="log, email or a dotted path (default: the setting)"
        )
        send.add_argument("--limit", type=int, default=500, help="at most this many notifications")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "import-counts":
            self._import(options["file"])
        elif action == "import-cases":
            raw = self._read_csv(options["file"], CASE_COLUMNS)
            case_rows, errors = services.check_case_rows(raw, timezone.localdate())
            self._reject(errors)
            ids = services.do_ingest_cases(case_rows, source=f"csv:{options['file'].name}")
            self.stdout.write(f"{len(ids)} case reports imported")
        elif action == "import-lab-results":
            raw = self._read_csv(options["file"], LAB_COLUMNS)
            lab_rows, errors = services.check_lab_rows(raw, timezone.localdate())
            self._reject(errors)
            ids = services.do_ingest_lab_results(lab_rows, source=f"csv:{options['file'].name}")
            self.stdout.write(f"{len(ids)} lab results imported")
        elif action == "detect":
            as_of = options["as_of"] or timezone.localdate()
            result = services.do_detect(as_of, lookback=options["lookback"])
            self.stdout.write(
                f"{as_of}: {result.settings} settings, {result.signals_created} new signals, "
                f"{result.signals_removed} withdrawn, {len(result.alerts_opened)} alerts opened"
            )
        elif action == "evaluate":
            self._evaluate(options)
        elif action == "send-notifications":
            try:
                gateway = notify.get_gateway(options["gateway"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            sent = notify.send_pending(gateway, limit=options["limit"])
            self.stdout.write(f"{sent.sent} sent, {sent.failed} failed, {sent.skipped} already sent")
        else:
            summary = generate_sentinel_feed(
                seed=options["seed"], days=options["days"], end=options["end"], outbreaks=options["outbreaks"]
            )
            self.stdout.write(f"{summary.units} units, {summary.counts} daily counts")
            for outbreak in summary.outbreaks:
                self.stdout.write(
                    f"outbreak: {outbreak.unit} {outbreak.code} from {outbreak.start}, "
                    f"{outbreak.days} days, {outbreak.cases} extra cases"
                )

    def _read_csv(self, path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
        if not path.exists():
            raise CommandError(f"no file {path}")
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or set(columns) - set(reader.fieldnames):
                raise CommandError(f"the header must name the columns {','.join(columns)}")
            return list(reader)

    def _reject(self, errors: list[services.RowError]) -> None:
        if errors:
            for error in errors:
                # Data row n is line n + 1 of the file, after the header.
                self.stderr.write(f"line {error.row + 1}: {error.field}: {error.message}")
            raise CommandError(f"{len(errors)} errors; nothing imported")

    def _import(self, path: Path) -> None:
        raw = self._read_csv(path, CSV_COLUMNS)
        rows, errors = services.check_count_rows(raw, timezone.localdate())
        self._reject(errors)
        result = services.do_ingest_counts(rows, source=f"csv:{path.name}")
        self.stdout.write(
            f"{result.created} new, {result.revised} revised, {result.unchanged} unchanged; "
            f"detection rerun for {len(result.redetected)} series"
        )

    def _evaluate(self, options: dict[str, Any]) -> None:
        grid = evaluation.scenarios()
        if options["scenarios"] == "all":
            chosen = grid
        else:
            try:
                chosen = [grid[int(n)] for n in options["scenarios"].split(",")]
            except (ValueError, IndexError) as exc:
                raise CommandError(f"scenarios are numbers 0-{len(grid) - 1} or 'all'") from exc
        try:
            ks = tuple(float(k) for k in options["ks"].split(","))
        except ValueError as exc:
            raise CommandError("ks must be comma-separated numbers") from exc
        if options["replicates"] < 1:
            raise CommandError("replicates must be at least 1")
        started = time.perf_counter()
        report = evaluation_report(
            chosen,
            ks=ks,
            replicates=options["replicates"],
            seed=options["seed"],
            target_fpr=options["target_fpr"],
            out=options["out"],
        )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"{len(chosen)} scenarios × {len(ks)} k × {options['replicates']} replicates, "
            f"seed {options['seed']}"
        )
        self.stdout.write("At nominal levels (mean over scenarios and k):")
        self.stdout.write(report.nominal.to_string(float_format=lambda v: f"{v:.3f}"))
        self.stdout.write(f"\nAt a matched false-positive rate of {options['target_fpr']:.0%}:")
        self.stdout.write(report.matched.to_string(float_format=lambda v: f"{v:.3f}"))
        self.stdout.write(f"\nwritten: {', '.join(str(p) for p in report.files)}")
        self.stdout.write(f"time: {elapsed:.1f} s")
