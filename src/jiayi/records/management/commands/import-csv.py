"""`jiayi import-csv KIND FILE`: import a high-volume CSV feed (health-post readings or 65+ exam
results) in the layout of docs/records-import.md, streaming, with a progress bar and a summary.

`--mode rows` (the default) keeps the good rows and reports the bad ones; `--mode file` writes nothing
when any row is bad. Either way every bad row is named by line and column, and the command exits
non-zero when any row failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayi.records import bulk, services
from jiayi.registry.management.progress import RichProgress


def _data_lines(path: Path) -> int:
    """Lines after the header, for the progress bar's total (a quick pass over the bytes)."""
    with path.open("rb") as raw:
        return max(sum(1 for _ in raw) - 1, 0)


class Command(BaseCommand):
    help = "Import a CSV feed of health-post readings or 65+ exam results (layout: docs/records-import.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=bulk.KINDS, help="what the file holds")
        parser.add_argument("file", help="the CSV file (UTF-8, header row first)")
        parser.add_argument(
            "--source", default="", help="the sending system (default: file:<file name>); identifiers are its"
        )
        parser.add_argument(
            "--mode",
            choices=[services.ROWS, services.FILE],
            default=services.ROWS,
            help="rows: keep the good rows (default); file: all or nothing",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        source = options["source"] or f"file:{path.name}"[: services.SOURCE_SYSTEM_MAX_LENGTH]
        progress = None if options["no_progress"] else RichProgress()
        try:
            with path.open(encoding="utf-8-sig", newline="") as lines:
                if progress is not None:
                    with progress:
                        progress.stage(f"CSV {options['kind']}", _data_lines(path))
                        outcome = self._run(options, lines, source, progress.advance)
                else:
                    outcome = self._run(options, lines, source, None)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: {exc}") from None
        if options["json"]:
            data = {
                "kind": outcome.kind,
                "mode": outcome.mode,
                "committed": outcome.committed,
                "rows": outcome.rows,
                "created": outcome.created,
                "updated": outcome.updated,
                "unchanged": outcome.unchanged,
                "failed": outcome.failed,
                "errors": [str(problem) for problem in outcome.errors[:50]],
            }
            self.stdout.write(json.dumps(data, ensure_ascii=False))
        else:
            self._summary(path, outcome)
        if not outcome.ok:
            raise CommandError(
                f"{outcome.failed:,} rows failed" + ("" if outcome.committed else "; nothing was written")
            )

    @staticmethod
    def _run(options: dict[str, Any], lines: Any, source: str, on_progress: Any) -> services.CsvOutcome:
        return services.do_import_csv(
            options["kind"],
            lines,
            actor=None,
            source_system=source,
            mode=options["mode"],
            name=Path(options["file"]).name,
            on_progress=on_progress,
        )

    def _summary(self, path: Path, outcome: services.CsvOutcome) -> None:
        style = self.style.SUCCESS if outcome.ok else self.style.ERROR
        written = "" if outcome.committed else " (rolled back: nothing written)"
        self.stdout.write(
            style(
                f"{path.name}: {outcome.rows:,} rows: {outcome.created:,} created, "
                f"{outcome.updated:,} updated, "
                f"{outcome.unchanged:,} unchanged, {outcome.failed:,} failed{written}."
            )
        )
        for problem in outcome.errors[:50]:
            self.stdout.write(f"  {problem}")
        if outcome.failed > 50:
            self.stdout.write(f"  … and {outcome.failed - 50:,} more")
