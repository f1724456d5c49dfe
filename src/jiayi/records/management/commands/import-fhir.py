"""`jiayi import-fhir PATH...`: import FHIR R4 bundles (JSON files, or folders of them) and NDJSON files
of resources into the health accounts, with a progress bar and a summary.

Each JSON file is one batch or transaction Bundle, imported with its own rules. Each NDJSON file holds
one resource per line; its lines are imported as batch bundles of `--batch` resources, and a failure
is reported by line number. The command exits non-zero when any entry failed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayi.records import services
from jiayi.registry.management.progress import RichProgress
from jiayi.registry.models import Institution

SHOWN_ERRORS = 50


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed entry, where to find it in the files."""

    where: str
    resource_type: str
    identifier: str
    field: str
    reason: str

    def __str__(self) -> str:
        what = " ".join(filter(None, [self.resource_type, self.identifier]))
        element = f" [{self.field}]" if self.field else ""
        return ": ".join(filter(None, [self.where, f"{what}{element}", self.reason]))


def bundle_files(paths: list[str]) -> list[Path]:
    """The files named, and the .json and .ndjson files inside the folders named, in a stable order."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.suffix in {".json", ".ndjson"} and p.is_file())
            )
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"{name}: no such file or folder")
    return found


def _ndjson_batches(path: Path, size: int) -> Iterator[tuple[int, list[tuple[int, str]]]]:
    """(first line number, [(line number, text)]) for each batch of non-blank lines."""
    with path.open(encoding="utf-8") as lines:
        numbered = ((number, text) for number, text in enumerate(lines, start=1) if text.strip())
        while batch := list(islice(numbered, size)):
            yield batch[0][0], batch


class Command(BaseCommand):
    help = (
        "Import FHIR R4 bundles (JSON) or resources (NDJSON) from files or folders into the health accounts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="bundle files, NDJSON files or folders of them")
        parser.add_argument(
            "--source",
            default="",
            help="the sending system (default: each bundle's meta.source, else file:<file name>)",
        )
        parser.add_argument(
            "--institution",
            default="",
            help="code of the institution that produced entries naming none (default: refuse them)",
        )
        parser.add_argument(
            "--batch", type=int, default=1_000, help="NDJSON resources per batch (default 1000)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        files = bundle_files(options["paths"])
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        self.counts: Counter[str] = Counter()
        self.failures: list[Failure] = []
        self.failed = 0
        self.source: str = options["source"]
        self.institution: Institution | None = None
        if options["institution"]:
            self.institution = Institution.objects.filter(code=options["institution"]).first()
            if self.institution is None:
                raise CommandError(f"no institution with code {options['institution']}")
        progress = None if options["no_progress"] else RichProgress()
        if progress is not None:
            with progress:
                progress.stage("FHIR files", len(files))
                for path in files:
                    self._import_file(path, options["batch"])
                    progress.advance(1)
        else:
            for path in files:
                self._import_file(path, options["batch"])
        self._summary(len(files), as_json=options["json"])
        if self.failed:
            raise CommandError(f"{self.failed:,} entries failed")

    def _source_of(self, path: Path, bundle: Any) -> str:
        if self.source:
            return self.source
        meta = bundle.get("meta") if isinstance(bundle, dict) else None
        source = meta.get("source") if isinstance(meta, dict) else None
        if isinstance(source, str) and source.strip():
            return source.strip()[: services.SOURCE_SYSTEM_MAX_LENGTH]
        return f"file:{path.name}"[: services.SOURCE_SYSTEM_MAX_LENGTH]

    def _import_file(self, path: Path, batch: int) -> None:
        if path.suffix == ".ndjson":
            for first, lines in _ndjson_batches(path, batch):
                self._import_lines(path, first, lines)
            return
        raw = path.read_bytes()
        try:
            bundle: Any = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            bundle = raw  # the import names what is wrong with it
        outcome = services.import_bundle(
            bundle, actor=None, source_system=self._source_of(path, bundle), institution=self.institution
        )
        self._note(outcome, lambda index: f"{path} entry {index}" if index is not None else str(path))

    def _import_lines(self, path: Path, first: int, lines: list[tuple[int, str]]) -> None:
        entries: list[Any] = []
        numbers: list[int] = []
        for number, text in lines:
            try:
                resource = json.loads(text)
            except json.JSONDecodeError as exc:
                self._fail(Failure(f"{path}:{number}", "", "", "", f"malformed JSON: {exc.msg}"))
                continue
            entries.append({"resource": resource})
            numbers.append(number)
        if not entries:
            return
        bundle = {"resourceType": "Bundle", "type": "batch", "entry": entries}
        source = self.source or f"file:{path.name}"[: services.SOURCE_SYSTEM_MAX_LENGTH]
        outcome = services.import_bundle(
            bundle, actor=None, source_system=source, institution=self.institution
        )
        self._note(outcome, lambda index: f"{path}:{numbers[index] if index is not None else first}")

    def _note(self, outcome: services.BundleOutcome, where: Any) -> None:
        self.counts.update(entry.status for entry in outcome.entries if entry.status != services.ERROR)
        for entry in outcome.errors:
            self._fail(
                Failure(where(entry.index), entry.resource_type, entry.identifier, entry.field, entry.reason)
            )

    def _fail(self, failure: Failure) -> None:
        self.failed += 1
        if len(self.failures) < SHOWN_ERRORS:
            self.failures.append(failure)

    def _summary(self, files: int, *, as_json: bool) -> None:
        counts = {**dict(sorted(self.counts.items())), services.ERROR: self.failed}
        if as_json:
            data = {"files": files, "counts": counts, "errors": [str(f) for f in self.failures]}
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        summary = ", ".join(f"{count:,} {status.replace('_', ' ')}" for status, count in counts.items())
        style = self.style.ERROR if self.failed else self.style.SUCCESS
        self.stdout.write(style(f"{files:,} files: {summary}."))
        for failure in self.failures:
            self.stdout.write(f"  {failure}")
        if self.failed > len(self.failures):
            self.stdout.write(f"  … and {self.failed - len(self.failures):,} more")
