"""`jiayi export-fhir`: write health accounts as FHIR R4 JSON.

`--district --out DIR` writes the whole district (places, institutions, staff, teams, packages,
households, residents, their accounts and signings) as numbered transaction bundles that
`jiayi import-fhir DIR` reads back into an empty database (docs/fhir.md "District").
`--resident ID` writes one account (to standard output, or to `--out FILE`); `--all --out DIR` writes
every resident's account to DIR/<id>.json. By default an account is the `Patient/$everything` searchset
bundle the API returns (citizen ID and phone left out). With `--transaction` it is the transaction
bundles jiayi's own `import-fhir` reads back, identifiers included, to move accounts between databases:
DIR/<id>-<n>.json, one per source system (with `--resident` too, so `--out` is then a folder).
Each run states why (`--reason` from a short list and `--reason-detail` in the operator's words, as a
staff export through the API does) and leaves one audit entry carrying it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayi.audit import export_reasons
from jiayi.audit.models import Action
from jiayi.audit.services import record
from jiayi.records import fhir_district, fhir_out
from jiayi.registry.management.progress import RichProgress
from jiayi.registry.models import Resident


def _dump(bundle: dict[str, Any]) -> str:
    return json.dumps(bundle, ensure_ascii=False, indent=1)


class Command(BaseCommand):
    help = "Export health accounts as FHIR R4 bundles: one resident, or all of them into a folder."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--resident", type=int, help="the resident's id")
        which.add_argument("--all", action="store_true", help="every resident (needs --out DIR)")
        which.add_argument(
            "--district",
            action="store_true",
            help="the whole district: registry, accounts, signings (needs --out DIR)",
        )
        parser.add_argument("--out", default="", help="output file (--resident) or folder (--all)")
        parser.add_argument(
            "--transaction",
            action="store_true",
            help="write importable transaction bundles with identifiers, one per source system",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--reason",
            default="",
            help=f"why personal data is exported (required): {export_reasons.choices_text()}",
        )
        parser.add_argument(
            "--reason-detail",
            default="",
            help=f"the reason in your own words (required, {export_reasons.DETAIL_MIN}–"
            f"{export_reasons.DETAIL_MAX} characters, no personal data)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.stated = export_reasons.require_reason(options["reason"], options["reason_detail"])
        except export_reasons.ReasonError as error:
            flag = "--reason" if error.field == "reason" else "--reason-detail"
            raise CommandError(f"{flag}: {error.message}") from None
        if options["district"]:
            if not options["out"]:
                raise CommandError("--district writes into a folder: give --out DIR")
            done = fhir_district.export_district_command(
                Path(options["out"]),
                progress=not options["no_progress"],
                purpose=self.stated.purpose,
                reason=self.stated.audit_detail(),
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Exported {done['resources']:,} resources in {done['files']:,} bundles to "
                    f"{options['out']} ({done['seconds']:.1f} s, {done['per_second'] or 0:,} resources/s)."
                )
            )
            return
        residents = Resident.objects.select_related("committee", "residential_point").order_by("pk")
        as_transactions = options["transaction"]
        if options["resident"] is not None:
            residents = residents.filter(pk=options["resident"])
            if not residents.exists():
                raise CommandError(f"no resident with id {options['resident']}")
            if not as_transactions:
                text = _dump(fhir_out.patient_everything(residents[0]))
                if options["out"]:
                    Path(options["out"]).write_text(text + "\n", encoding="utf-8")
                else:
                    self.stdout.write(text)
                self._audit(1, [options["resident"]], as_transactions)
                return
        if not options["out"]:
            raise CommandError("--all and --transaction write into a folder: give --out DIR")
        folder = Path(options["out"])
        folder.mkdir(parents=True, exist_ok=True)
        total = residents.count()
        progress = None if options["no_progress"] else RichProgress()
        files = 0
        if progress is not None:
            progress.__enter__()
            progress.stage("FHIR export", total)
        try:
            for resident in residents.iterator(chunk_size=2_000):
                bundles = self._bundles(resident, as_transactions)
                if as_transactions:
                    for n, bundle in enumerate(bundles, start=1):
                        (folder / f"{resident.pk}-{n}.json").write_text(
                            _dump(bundle) + "\n", encoding="utf-8"
                        )
                    files += len(bundles)
                else:
                    (folder / f"{resident.pk}.json").write_text(_dump(bundles[0]) + "\n", encoding="utf-8")
                    files += 1
                if progress is not None:
                    progress.advance(1)
        finally:
            if progress is not None:
                progress.__exit__(None, None, None)
        self._audit(total, [options["resident"]] if options["resident"] else [], as_transactions)
        self.stdout.write(
            self.style.SUCCESS(f"Exported {total:,} residents' accounts to {files:,} files in {folder}.")
        )

    @staticmethod
    def _bundles(resident: Resident, as_transactions: bool) -> list[dict[str, Any]]:
        if as_transactions:
            return fhir_out.account_transactions(resident)
        return [fhir_out.patient_everything(resident)]

    def _audit(self, count: int, ids: list[int], as_transactions: bool) -> None:
        record(
            action=Action.EXPORT,
            resource_type="health_account",
            resource_id=ids[0] if len(ids) == 1 else "",
            resident_id=ids[0] if len(ids) == 1 else None,
            purpose=self.stated.purpose,
            detail={
                "format": "fhir transaction" if as_transactions else "fhir",
                "via": "command",
                "residents": count,
                **self.stated.audit_detail(),
            },
        )
