"""Benchmark of the synthetic referrals generator on a signed district.

Measured: `generate_referrals` (departments, weekly templates, six weeks of slots with the reserved share,
referrals, appointments, visits, down-referrals, releases; rows through `insert_rows`). Baseline, in the
same run and on the same district: the straightforward way to make just the slots, `do_generate_slots`
for every template (the ORM's bulk_create of model instances), inside a transaction that is rolled back.
The ratio compares slots per second of the whole generator with slots per second of the baseline.

    .venv/bin/python bench/referrals_synth.py                  # 100,000 residents, SQLite file
    .venv/bin/python bench/referrals_synth.py --residents 20000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path


class Rollback(Exception):
    """Leaves the baseline's rows behind by rolling its transaction back."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.residents = 10_000
    folder = Path(tempfile.mkdtemp(prefix="jiayi-referrals-bench-"))
    os.environ.setdefault("JIAYI_SQLITE_PATH", str(folder / "bench.sqlite3"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from jiayi.referrals import services
    from jiayi.referrals.models import Department, ScheduleTemplate
    from jiayi.referrals.synth import _catalogue, generate_referrals
    from jiayi.registry.choices import HOSPITAL_KINDS
    from jiayi.registry.models import Institution
    from jiayi.synth import SynthConfig, generate_district

    call_command("migrate", verbosity=0)
    as_of = date(2026, 1, 1)
    cfg = SynthConfig(residents=args.residents, seed=7, as_of=as_of)
    generate_district(cfg, signings=True, histories=False)

    catalogue = _catalogue()
    first, last = as_of - timedelta(weeks=4), as_of + timedelta(weeks=2)
    baseline_slots = 0
    start = time.perf_counter()
    try:
        with transaction.atomic():
            for hospital in Institution.objects.filter(kind__in=HOSPITAL_KINDS).order_by("id"):
                for entry in catalogue["departments"]:
                    if hospital.kind not in entry["kinds"]:
                        continue
                    department = Department.objects.create(
                        hospital=hospital, code=entry["code"], name=entry["name"]
                    )
                    for session in catalogue["sessions"]:
                        template = ScheduleTemplate.objects.create(
                            department=department,
                            service_kind=entry["service_kind"],
                            weekday=session["weekday"],
                            start_time=clock.fromisoformat(session["start"]),
                            end_time=clock.fromisoformat(session["end"]),
                            slot_minutes=session["minutes"],
                        )
                        baseline_slots += services.do_generate_slots(template, first, last)
            raise Rollback
    except Rollback:
        pass
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    counts = generate_referrals(cfg, as_of=as_of, seed=7)
    measured = time.perf_counter() - start

    print(f"residents: {args.residents:,}  counts: {counts}")
    rate, baseline_rate = counts["slots"] / measured, baseline_slots / baseline
    print(f"generate_referrals: {measured:.2f} s, {rate:,.0f} slots/s (everything included)")
    print(
        f"baseline ORM slots only: {baseline:.2f} s, {baseline_slots:,} slots, {baseline_rate:,.0f} slots/s"
    )
    print(f"ratio (slots/s, generator ÷ baseline): {rate / baseline_rate:.2f}")


if __name__ == "__main__":
    main()
