"""Benchmark the health account's bulk imports: rows/s and FHIR resources/s, SQLite and PostgreSQL.

Each measurement runs in a fresh process against a fresh database holding a generated district. Three
ways of loading the same kind of feed (blood-pressure and glucose readings from smart health posts,
each reading one FHIR Observation) are timed in the same run:

* csv: `jiayi import-csv readings` (services.do_import_csv): chunked, batched lookups, bulk writes;
* fhir: the same readings as FHIR Observations in batch bundle files of 1,000 (written before the clock
  starts; services.import_bundle on each file's bytes, the path of `POST /api/fhir/` and
  `jiayi import-fhir`): every entry validated against the FHIR R4 model (the first of each shape by
  the model, later ones by their values, `fhir_in.check_structure`) and checked on its own, then each
  chunk's references and stored entries looked up in bulk, good entries written with one multi-row
  insert and one chained audit entry each (audit.record_many);
* baseline: the straightforward per-row ORM import: look the resident and institution up, normalise,
  `update_or_create`, one row at a time.

The ratio printed is each path's rate ÷ the baseline's. Peak memory is the worker's own.

    .venv/bin/python bench/records_import.py               # 1M CSV rows and 1M FHIR resources on SQLite
    .venv/bin/python bench/records_import.py --quick       # 100k of each
    .venv/bin/python bench/records_import.py --postgres    # also on PostgreSQL (DATABASE_URL or 127.0.0.1)
    .venv/bin/python bench/records_import.py --postgres-only
    .venv/bin/python bench/records_import.py --only fhir   # one path (fhir or csv) and the baseline
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
RESIDENTS = 20_000
START = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=8)))
CODES = (("8480-6", "mm[Hg]", 100, 80), ("8462-4", "mm[Hg]", 60, 45), ("1558-6", "mmol/L", 4.0, 6.0))


def _readings(n: int, citizen_ids: list[str], institution: str) -> Iterator[list[object]]:
    """n readings spread over the residents, deterministic, all plausible; generated as written so the
    worker's peak memory is the import's, not the test data's."""
    for i in range(n):
        code, unit, low, spread = CODES[i % 3]
        value = round(low + (i * 7919 % 1000) / 1000 * spread, 1)
        when = (START + timedelta(minutes=i % (60 * 24 * 365))).isoformat()
        yield [f"bench-{i}", citizen_ids[i % len(citizen_ids)], institution, when, code, value, unit]


def _worker(mode: str, n: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from jiayi.registry.models import Institution, Resident
    from jiayi.synth import SynthConfig, generate_district

    generate_district(SynthConfig(residents=RESIDENTS, seed=7))
    from django.db import connection

    if connection.vendor == "sqlite":
        # The generator enlarges SQLite's page cache for its bulk load; back to the default so the
        # peak memory printed is the import's own.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size=-2000")
    citizen_ids = [
        c for c in Resident.objects.exclude(citizen_id=None).values_list("citizen_id", flat=True) if c
    ]
    institution = str(Institution.objects.order_by("id").values_list("code", flat=True).first())
    rows = _readings(n, citizen_ids, institution)
    header = ["source_id", "citizen_id", "institution", "effective_at", "code", "value", "unit"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "readings.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
        bundles: list[Path] = []
        if mode == "fhir":
            # The feed arrives as bundle files, as `jiayi import-fhir` reads them: they are written
            # before the clock starts, and reading and parsing them is timed with the import.
            bundles = _write_bundles(path, institution, Path(tmp))
        start = time.perf_counter()
        if mode == "csv":
            from jiayi.records.bulk import READINGS
            from jiayi.records.services import do_import_csv

            with path.open(encoding="utf-8", newline="") as lines:
                outcome = do_import_csv(READINGS, lines, actor=None, source_system="bench")
            assert outcome.ok, outcome.errors[:3]
            assert outcome.created == n
        elif mode == "fhir":
            _fhir(bundles, institution)
        else:
            _baseline(path)
        seconds = time.perf_counter() - start
    from jiayi.records.models import Observation

    assert Observation.objects.count() == n
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": n, "peak_mb": peak_mb}))


def _write_bundles(path: Path, institution: str, folder: Path) -> list[Path]:
    """The readings as batch bundles of 1,000 Observations, one JSON file each."""
    from itertools import islice

    from jiayi.records import fhir_systems as systems

    written: list[Path] = []
    with path.open(encoding="utf-8", newline="") as lines:
        reader = csv.DictReader(lines)
        while chunk := list(islice(reader, 1_000)):
            entries = [
                {
                    "resource": {
                        "resourceType": "Observation",
                        "identifier": [{"system": "urn:bench", "value": row["source_id"]}],
                        "status": "final",
                        "code": {"coding": [{"system": systems.LOINC, "code": row["code"]}]},
                        "subject": {
                            "identifier": {"system": systems.CITIZEN_ID_SYSTEM, "value": row["citizen_id"]}
                        },
                        "effectiveDateTime": row["effective_at"],
                        "valueQuantity": {
                            "value": float(row["value"]),
                            "unit": row["unit"],
                            "code": row["unit"],
                        },
                    }
                }
                for row in chunk
            ]
            bundle = folder / f"bundle-{len(written):05d}.json"
            bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "batch", "entry": entries}))
            written.append(bundle)
    return written


def _fhir(bundles: list[Path], institution: str) -> None:
    from jiayi.records.services import import_bundle
    from jiayi.registry.models import Institution

    producer = Institution.objects.get(code=institution)
    for bundle in bundles:
        outcome = import_bundle(bundle.read_bytes(), actor=None, source_system="bench", institution=producer)
        assert outcome.ok, outcome.errors[:3]


def _baseline(path: Path) -> None:
    from django.utils import timezone

    from jiayi.records import lib
    from jiayi.records.models import Observation
    from jiayi.registry.models import Institution, Resident

    now = timezone.now()
    with path.open(encoding="utf-8", newline="") as lines:
        for row in csv.DictReader(lines):
            resident = Resident.objects.get(citizen_id=row["citizen_id"])
            institution = Institution.objects.get(code=row["institution"])
            value, unit = lib.normalise_observation(row["code"], float(row["value"]), row["unit"])
            Observation.objects.update_or_create(
                source_system="bench",
                source_id=row["source_id"],
                defaults={
                    "resident": resident,
                    "institution": institution,
                    "received_at": now,
                    "code": row["code"],
                    "value": value,
                    "unit": unit,
                    "original_value": float(row["value"]),
                    "original_unit": row["unit"],
                    "effective_at": datetime.fromisoformat(row["effective_at"]),
                    "method": "smart_health_post",
                },
            )


def _run(mode: str, n: int, database: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory() as tmp:
        if database == "postgres":
            name = f"jiayi_bench_records_{os.getpid()}"
            base = PG_URL.rsplit("/", 1)[0]
            subprocess.run(["psql", PG_URL, "-qc", f"CREATE DATABASE {name}"], check=True)
            env["DATABASE_URL"] = f"{base}/{name}"
        else:
            env.pop("DATABASE_URL", None)
            env["JIAYI_SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", mode, str(n)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
        finally:
            if database == "postgres":
                subprocess.run(["psql", PG_URL, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="on PostgreSQL alone")
    parser.add_argument("--only", choices=("fhir", "csv"), help="time one path (and the baseline)")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker[0], int(args.worker[1]))
        return
    csv_rows = 100_000 if args.quick else 1_000_000
    sample = 5_000 if args.quick else 20_000  # the per-row baseline is timed on a sample
    databases = (
        ["postgres"] if args.postgres_only else ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    )
    for database in databases:
        baseline = _run("baseline", sample, database)
        base_rate = baseline["rows"] / baseline["seconds"]
        print(f"[{database}] baseline (per-row ORM, {sample:,} rows): {base_rate:,.0f} rows/s")
        for mode, n in (("fhir", csv_rows), ("csv", csv_rows)):
            if args.only and mode != args.only:
                continue
            r = _run(mode, n, database)
            rate = r["rows"] / r["seconds"]
            label = "import-csv readings" if mode == "csv" else "FHIR batch bundles"
            print(
                f"[{database}] {label} {n:>9,} rows: {r['seconds']:6.1f} s, {rate:,.0f} rows/s "
                f"= {rate:,.0f} FHIR resources/s, peak {r['peak_mb']:,.0f} MB, "
                f"{rate / base_rate:.1f}x baseline"
            )


if __name__ == "__main__":
    main()
