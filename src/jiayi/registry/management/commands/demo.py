"""`jiayi demo`: migrate, generate a district if there is none, create demo accounts, and serve."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from jiayi.crypto.keys import ensure_local_key
from jiayi.registry.demo import DEMO_PASSWORD, create_demo_accounts
from jiayi.registry.management.progress import RichProgress
from jiayi.registry.models import Resident
from jiayi.surveillance.services import do_detect
from jiayi.surveillance.synth import generate_sentinel_feed
from jiayi.synth import SynthConfig, generate_district


class Command(BaseCommand):
    help = "Start the demo: migrate, generate a synthetic district, create one account per role, serve."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--residents", type=int, default=settings.JIAYI_DEMO_RESIDENTS)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="prepare the demo but do not serve")

    def handle(self, *args: Any, **options: Any) -> None:
        # ID numbers, phones and diagnoses are encrypted at rest; a laptop demo keeps its key in var/.
        created = ensure_local_key()
        if created is not None:
            self.stdout.write(f"Created the field-encryption key {created}; keep it with the database.")
        call_command("migrate", interactive=False, verbosity=0)
        if Resident.objects.exists():
            self.stdout.write("A district is already in the database; keeping it.")
        else:
            self.stdout.write(f"Generating a synthetic district of {options['residents']:,} residents…")
            with RichProgress() as progress:
                summary = generate_district(
                    SynthConfig(residents=options["residents"], seed=options["seed"], as_of=date.today()),
                    progress=progress,
                    signings=True,
                    histories=True,
                    services=True,
                )
            self.stdout.write(
                f"{summary.residents:,} residents, {summary.committees} committees, {summary.teams} teams."
            )
            # Sentinel counts with an outbreak ending today, so the CDC officer's page has alerts to work.
            feed = generate_sentinel_feed(seed=options["seed"], end=date.today())
            # Detection runs daily; replaying the last fortnight opens the alerts the schedule would have,
            # whatever weekday the latest outbreak ends on.
            for back in range(14, -1, -1):
                do_detect(date.today() - timedelta(days=back))
            self.stdout.write(
                f"Early-warning feed: {feed.units} reporting units, {feed.counts:,} daily counts, "
                f"{len(feed.outbreaks)} injected outbreaks."
            )
        accounts = create_demo_accounts()
        self.stdout.write(self.style.SUCCESS(f"\nDemo accounts (password for all: {DEMO_PASSWORD})"))
        for account in accounts:
            self.stdout.write(f"  {account.username:<10} {account.role:<18} {account.description}")
        if options["no_serve"]:
            return
        self.stdout.write(self.style.SUCCESS(f"\nOpen http://{options['addrport']}/ and log in.\n"))
        # Reports and other background work need a worker; the demo runs the database-backed one beside
        # the server and stops it with the server.
        worker = subprocess.Popen([sys.executable, "-m", "jiayi", "db_worker", "--interval", "1"])
        try:
            # --insecure serves the static files without a separate web server, as a demo should.
            call_command("runserver", options["addrport"], insecure_serving=True, use_reloader=False)
        finally:
            worker.terminate()
            worker.wait(timeout=10)
