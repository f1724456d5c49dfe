"""Benchmark of the health-points ledger replay (`jiayi points award-pending`).

The measured path is `points.services.award_events`: read the rule's paid keys once, apply the daily caps
in memory, bulk-insert the entries and move the balances with one UPDATE per distinct amount. The
baseline is the straightforward way, what a hook does for one event: `award()` per event (lock the
account, check the key, sum the day, insert, update the balance); it is timed on a sample of events of
another rule in the same run and scaled to all events. The run then checks that every balance equals its
ledger sum and times a second replay, which must pay nothing.

    .venv/bin/python bench/points_replay.py                 # 20,000 residents, 200,000 events
    .venv/bin/python bench/points_replay.py --quick         # 5,000 residents, 40,000 events
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    residents, events, samples = (5_000, 40_000, 1_000) if args.quick else (20_000, 200_000, 2_000)

    tmp = tempfile.mkdtemp(prefix="jiayi-bench-points-")
    os.environ.pop("DATABASE_URL", None)
    os.environ["JIAYI_SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Sum

    from jiayi.points import services
    from jiayi.points.models import EventKind, PointAccount, PointEntry
    from jiayi.points.rules import PointEvent
    from jiayi.registry.models import Resident
    from jiayi.synth import SynthConfig, generate_district

    call_command("migrate", verbosity=0)
    generate_district(SynthConfig(residents=residents, seed=7))
    services.ensure_default_rules()
    ids = list(Resident.objects.order_by("id").values_list("id", flat=True))
    start_day = date(2025, 1, 1)

    def make(kind: str, n: int) -> list[PointEvent]:
        # Several uploads per resident and day, so the daily cap is exercised.
        return [
            PointEvent(
                ids[i % len(ids)],
                start_day + timedelta(days=(i // (len(ids) * 4)) % 365),
                f"{kind}:{i}",
                kind,
            )
            for i in range(n)
        ]

    baseline_events = make(EventKind.EDUCATION_READ, samples)
    t0 = time.perf_counter()
    for event in baseline_events:
        services.award(event)
    baseline_per_event = (time.perf_counter() - t0) / samples

    measured_events = make(EventKind.SELF_MEASUREMENT, events)
    t0 = time.perf_counter()
    result = services.award_events(EventKind.SELF_MEASUREMENT, measured_events)
    measured = time.perf_counter() - t0

    t0 = time.perf_counter()
    again = services.award_events(EventKind.SELF_MEASUREMENT, measured_events)
    replay = time.perf_counter() - t0

    ledger = dict(
        PointEntry.objects.values_list("resident_id")
        .annotate(s=Sum("points"))
        .values_list("resident_id", "s")
    )
    mismatches = sum(
        1 for r, b in PointAccount.objects.values_list("resident_id", "balance") if ledger.get(r, 0) != b
    )
    baseline_total = baseline_per_event * events
    print(f"residents {residents:,}, events {events:,} (SQLite)")
    print(
        f"replay (bulk):         {measured:8.2f} s  {events / measured:10,.0f} events/s, "
        f"{result.entries:,} entries"
    )
    print(f"baseline (per event):  {baseline_total:8.2f} s  (scaled from {samples:,} events)")
    print(f"ratio baseline/bulk:   {baseline_total / measured:8.1f}x")
    print(f"second replay:         {replay:8.2f} s, {again.entries} entries paid (must be 0)")
    print(f"balances != ledger sum: {mismatches} (must be 0)")
    if again.entries or mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
