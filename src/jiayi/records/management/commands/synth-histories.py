"""`jiayi synth-histories`: add several years of synthetic health-account history to a generated district
(conditions, visits, readings, medicines, 65+ exams; see jiayi.synth.histories)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from jiayi.records.models import Encounter, Observation
from jiayi.registry.management.progress import RichProgress
from jiayi.registry.models import Resident
from jiayi.synth import SynthConfig
from jiayi.synth.histories import SOURCE_SYSTEM, generate_histories


class Command(BaseCommand):
    help = "Generate synthetic health-account histories for the district in the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=7, help="random seed; same seed, same history")
        parser.add_argument(
            "--as-of", type=date.fromisoformat, default=None, help="the history's end date (YYYY-MM-DD)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if not Resident.objects.exists():
            raise CommandError("no residents: generate a district first (jiayi synth)")
        for model in (Encounter, Observation):
            if model.objects.filter(source_system=SOURCE_SYSTEM).exists():
                raise CommandError("the database already holds a synthetic history")
        # The history reads the residents from the database: of the configuration only seed and date count.
        cfg = SynthConfig(seed=options["seed"], as_of=options["as_of"] or date.today())
        start = time.perf_counter()
        with transaction.atomic():
            if options["no_progress"]:
                summary = generate_histories(cfg)
            else:
                with RichProgress() as progress:
                    summary = generate_histories(cfg, progress=progress)
        data = {**asdict(summary), "seconds": round(time.perf_counter() - start, 1)}
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {summary.encounters:,} visits, {summary.observations:,} readings, "
                f"{summary.conditions:,} diagnoses, {summary.medications:,} medicines and "
                f"{summary.elderly_exams:,} 65+ exams ({data['seconds']} s)."
            )
        )
