"""`jiayi synth`: generate a deterministic synthetic district into an empty database."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayi.records.fhir_district import export_district_command
from jiayi.registry.management.progress import RichProgress
from jiayi.synth import SynthConfig, SynthError, generate_district


def _services(options: dict[str, Any]) -> bool:
    """Services are delivered to signed patients: without signings or histories there are none."""
    return not (options["no_services"] or options["no_signings"] or options["no_histories"])


class Command(BaseCommand):
    help = "Generate a synthetic district (places, institutions, staff, teams, households, residents)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--residents", type=int, default=20_000, help="number of residents (default 20000)"
        )
        parser.add_argument("--seed", type=int, default=7, help="random seed; same seed, same district")
        parser.add_argument(
            "--as-of", type=date.fromisoformat, default=None, help="reference date (YYYY-MM-DD)"
        )
        parser.add_argument("--district", default="310105", help="GB/T 2260 district code (310105 or 310107)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        parser.add_argument(
            "--no-signings", action="store_true", help="leave every resident unsigned (registry only)"
        )
        parser.add_argument(
            "--no-histories", action="store_true", help="generate no visits, diagnoses or measurements"
        )
        parser.add_argument(
            "--no-services",
            action="store_true",
            help="generate no assessments, follow-ups, contacts, referrals, points or education",
        )
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
        parser.add_argument(
            "--fhir-out",
            default="",
            metavar="DIR",
            help="then write the whole district as FHIR R4 bundles into DIR (for jiayi import-fhir)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cfg = SynthConfig(
                residents=options["residents"],
                seed=options["seed"],
                as_of=options["as_of"] or date.today(),
                district_code=options["district"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        progress = None if options["no_progress"] else RichProgress()
        try:
            if progress is not None:
                with progress:
                    summary = generate_district(
                        cfg,
                        progress=progress,
                        signings=not options["no_signings"],
                        histories=not options["no_histories"],
                        services=_services(options),
                    )
            else:
                summary = generate_district(
                    cfg,
                    signings=not options["no_signings"],
                    histories=not options["no_histories"],
                    services=_services(options),
                )
        except SynthError as error:
            raise CommandError(str(error)) from error
        fhir: dict[str, Any] = {}
        if options["fhir_out"]:
            fhir = export_district_command(Path(options["fhir_out"]), progress=not options["no_progress"])
        data = {
            "residents": summary.residents,
            "households": summary.households,
            "residential_points": summary.residential_points,
            "sub_districts": summary.sub_districts,
            "committees": summary.committees,
            "institutions": summary.institutions,
            "staff": summary.staff,
            "teams": summary.teams,
            "registered_gps": summary.registered_gps,
            "services": summary.services,
            "seconds": summary.seconds,
            **({"fhir": fhir} if fhir else {}),
        }
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
        else:
            seconds = sum(summary.seconds.values())
            self.stdout.write(
                self.style.SUCCESS(
                    f"Generated {summary.residents:,} residents in {summary.households:,} households, "
                    f"{summary.committees} committees, {summary.institutions} institutions, "
                    f"{summary.staff} staff in {summary.teams} teams ({seconds:.1f} s)."
                )
            )
            if fhir:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Wrote {fhir['resources']:,} FHIR resources in {fhir['files']:,} bundles to "
                        f"{options['fhir_out']} ({fhir['seconds']:.1f} s)."
                    )
                )
