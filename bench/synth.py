"""Benchmark `jiayi synth`: wall time, rows/s and peak memory at 100k and 1M residents.

Each size runs in a fresh process against a fresh database, so peak memory is the generator's own.
The baseline, measured in the same run, is the straightforward way to fill the same table: one Python
object per resident built with the standard library and saved with the ORM's bulk_create. Its rows/s is
measured on a smaller sample; the ratio printed is generator rows/s ÷ baseline rows/s.

    .venv/bin/python bench/synth.py                 # 100k and 1M on SQLite
    .venv/bin/python bench/synth.py --quick         # 20k and 100k
    .venv/bin/python bench/synth.py --postgres      # also on PostgreSQL (DATABASE_URL or 127.0.0.1)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")


def _worker(mode: str, residents: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if mode == "synth":
        from jiayi.synth import SynthConfig, generate_district

        start = time.perf_counter()
        summary = generate_district(SynthConfig(residents=residents, seed=7))
        seconds = time.perf_counter() - start
        rows = summary.total_rows
    else:
        import random
        from datetime import date, timedelta

        from jiayi.registry.identity import make_citizen_id
        from jiayi.registry.models import Household, Resident
        from jiayi.synth import SynthConfig, generate_district

        generate_district(SynthConfig(residents=10, seed=7))
        committee_id = Resident.objects.values_list("committee_id", flat=True).first()
        rng = random.Random(7)
        start = time.perf_counter()
        batch: list[Resident] = []
        for i in range(residents):
            birth = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 33_000))
            household = Household.objects.create(code=f"B{i:09d}")
            batch.append(
                Resident(
                    citizen_id=make_citizen_id("310105", birth, i % 1000),
                    name="张" + rng.choice("伟芳娜敏静"),
                    sex="male" if (i % 1000) % 2 else "female",
                    birth_date=birth,
                    phone=f"139{rng.randrange(10**8):08d}",
                    committee_id=committee_id,
                    household=household,
                    relationship="head",
                )
            )
            if len(batch) == 1000:
                Resident.objects.bulk_create(batch, ignore_conflicts=True)
                batch.clear()
        Resident.objects.bulk_create(batch, ignore_conflicts=True)
        seconds = time.perf_counter() - start
        rows = residents * 2
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": peak_mb}))


def _run(mode: str, residents: int, database: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory() as tmp:
        if database == "postgres":
            name = f"jiayi_bench_{os.getpid()}"
            base = PG_URL.rsplit("/", 1)[0]
            subprocess.run(["psql", PG_URL, "-qc", f"CREATE DATABASE {name}"], check=True)
            env["DATABASE_URL"] = f"{base}/{name}"
        else:
            env.pop("DATABASE_URL", None)
            env["JIAYI_SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
        try:
            wall = time.perf_counter()
            out = subprocess.run(
                [sys.executable, __file__, "--worker", mode, str(residents)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - wall
        finally:
            if database == "postgres":
                subprocess.run(["psql", PG_URL, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]))
        return
    sizes = [20_000, 100_000] if args.quick else [100_000, 1_000_000]
    databases = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    for database in databases:
        baseline = _run("baseline", 5_000 if args.quick else 20_000, database)
        base_rate = baseline["rows"] / baseline["seconds"]
        print(f"[{database}] baseline (ORM, one object per row): {base_rate:,.0f} rows/s")
        for n in sizes:
            r = _run("synth", n, database)
            rate = r["rows"] / r["seconds"]
            print(
                f"[{database}] synth {n:>9,} residents: {r['seconds']:6.1f} s generate "
                f"({r['process_seconds']:.1f} s with start-up and migrations), {rate:,.0f} rows/s, "
                f"peak {r['peak_mb']:,.0f} MB, {rate / base_rate:.1f}x baseline"
            )


if __name__ == "__main__":
    main()
