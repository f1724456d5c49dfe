"""Benchmark of the indicator engine on a synthetic district with its signings and history.

Measured, on PostgreSQL (a scratch database, dropped and recreated, or an existing district given by
`--database-url`, e.g. the 1M-resident one; there the period's fact tables are reused when kept,
unless `--rebuild`):
  * building the fact tables for one period (`jiayi indicators build`), and the kept counts from them;
  * full computation: every indicator at every level (district, street, centre, team, doctor), per engine:
    `db` (the SQL on PostgreSQL), `duckdb` (over a Parquet snapshot; the snapshot export timed apart)
    and `spark` (local mode, over the same snapshot; the session started beforehand);
  * dashboard query latency: one level's board (`engine.compute`, which reads the kept counts) as the
    page asks it, p50/p95 over repeated requests at random levels.
Each is compared with the straightforward way measured in the same run: a per-resident Python loop
over the same fact rows, evaluating every declaration's conditions row by row. The loop is checked
to give the same counts.

    .venv/bin/python bench/indicators.py                      # 100,000 residents
    .venv/bin/python bench/indicators.py --residents 20000 --no-spark
    .venv/bin/python bench/indicators.py --database-url postgres://postgres@127.0.0.1:5432/jiayi_1m \
        --as-of 2026-11-20
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SERVER = os.environ.get("JIAYI_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DATABASE = "bench_jiayi_indicators"
AS_OF = date(2026, 6, 30)


def _fresh_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"


def _peak_mb() -> float:
    """This process's peak resident memory (DuckDB runs inside it; Spark's JVM does not)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _python_loop(period_id: int, levels: tuple[str, ...]) -> dict[tuple[str, str, str], dict[int, int]]:
    """The straightforward computation: fetch the fact rows, then for each resident (and unit) row,
    each indicator side and each level, test the conditions in Python and add up."""
    from jiayi.indicators import catalogue
    from jiayi.indicators.models import ResidentFact, UnitFact

    ops = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
    }
    counts: dict[tuple[str, str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    resident_rows = ResidentFact.objects.filter(period_id=period_id).values()
    unit_rows = list(UnitFact.objects.filter(period_id=period_id).values())
    sides = [
        (indicator, name, side)
        for indicator in catalogue.INDICATORS
        for name, side in (("num", indicator.numerator), ("den", indicator.denominator))
    ]
    for row in resident_rows.iterator(chunk_size=5000):
        for indicator, name, side in sides:
            if side.source != "resident":
                continue
            if not all(ops[op](row[column], value) for column, op, value in side.where):
                continue
            amount = row[side.measure] if side.measure else 1
            for level in levels:
                column = catalogue.LEVEL_COLUMNS.get(level)
                unit = row[column] if column else None
                if level in indicator.levels and unit is not None:
                    counts[(indicator.code, name, level)][unit] += amount
    for row in unit_rows:
        for indicator, name, side in sides:
            if side.source != row["kind"]:
                continue
            if not all(ops[op](row[column], value) for column, op, value in side.where):
                continue
            amount = row[side.measure] if side.measure else 1
            for level in levels:
                unit = row[catalogue.UNIT_LEVEL_COLUMNS[level]]
                if level in indicator.levels and unit is not None:
                    counts[(indicator.code, name, level)][unit] += amount
    return counts


def _engine_counts(
    period: Any, engine_name: str, snapshot: Path | None
) -> dict[tuple[str, str, str], dict[int, int]]:
    from jiayi.indicators import catalogue, engine

    counts = engine.compute_level_counts(
        period, list(catalogue.INDICATORS), catalogue.LEVELS, engine_name, snapshot
    )
    return {
        (code, side, level): dict(values)
        for level, by_side in counts.items()
        for (code, side), values in by_side.items()
    }


def _same(loop: dict[Any, dict[int, int]], fast: dict[Any, dict[int, int]]) -> bool:
    keys = set(loop) | set(fast)
    return all(
        {u: c for u, c in loop.get(k, {}).items() if c} == {u: c for u, c in fast.get(k, {}).items() if c}
        for k in keys
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60, help="dashboard requests timed")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    parser.add_argument(
        "--database-url", default=None, help="an existing district (migrated) instead of a fresh one"
    )
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF, help="the period's end")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the period even when kept")
    parser.add_argument("--loop-runs", type=int, default=None, help="loop runs timed for the dashboard")
    args = parser.parse_args()
    if args.quick:
        args.residents, args.requests, args.no_spark = 10_000, 10, True
    as_of: date = args.as_of

    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        _fresh_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from jiayi.indicators import catalogue, engine, facts, results
    from jiayi.indicators.models import FactPeriod, ResidentFact
    from jiayi.registry.models import Resident

    levels = catalogue.LEVELS
    if args.database_url:
        print(f"district: {Resident.objects.count():,} residents at {args.database_url.rsplit('/', 1)[-1]}")
    else:
        from jiayi.synth import SynthConfig, generate_district

        call_command("migrate", verbosity=0)
        start = time.perf_counter()
        generate_district(
            SynthConfig(residents=args.residents, seed=11, as_of=as_of), signings=True, histories=True
        )
        print(
            f"district: {args.residents:,} residents with signings and history, generated in "
            f"{time.perf_counter() - start:.1f} s (PostgreSQL)"
        )

    kept = FactPeriod.objects.filter(kind="year", as_of=as_of).first()
    if kept is not None and not args.rebuild:
        period = kept
        print(f"fact tables of the period (year to {as_of}) reused, built {period.built_at:%Y-%m-%d %H:%M}")
    else:
        start = time.perf_counter()
        period = facts.build_period("year", as_of)
        print(
            f"fact tables built for one period (year to {as_of}): {time.perf_counter() - start:.1f} s, "
            f"kept counts included; peak memory {_peak_mb():.0f} MB"
        )
    rows = ResidentFact.objects.filter(period=period).count()
    start = time.perf_counter()
    results.keep(period, force=True)
    print(
        f"kept counts made from the {rows:,} fact rows (every indicator, side, level and unit): "
        f"{time.perf_counter() - start:.2f} s"
    )

    start = time.perf_counter()
    loop = _python_loop(period.pk, levels)
    baseline = time.perf_counter() - start
    print(
        f"baseline, per-resident Python loop, all {len(catalogue.INDICATORS)} indicators x "
        f"{len(levels)} levels: {baseline:.2f} s; peak memory {_peak_mb():.0f} MB"
    )

    timed: dict[str, float] = {}
    start = time.perf_counter()
    fast = _engine_counts(period, "db", None)
    timed["db (PostgreSQL)"] = time.perf_counter() - start
    assert _same(loop, fast), "the database engine disagrees with the Python loop"
    kept_counts = {
        (code, side, level): dict(values)
        for level in levels
        for (code, side), values in results.level_counts(period, list(catalogue.INDICATORS), level).items()
    }
    assert _same(loop, kept_counts), "the kept counts disagree with the Python loop"

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        start = time.perf_counter()
        engine.write_snapshot(period, directory)
        export = time.perf_counter() - start
        print(f"Parquet snapshot of the period written in {export:.2f} s")
        start = time.perf_counter()
        fast = _engine_counts(period, "duckdb", directory)
        timed["duckdb (Parquet)"] = time.perf_counter() - start
        assert _same(loop, fast), "DuckDB disagrees with the Python loop"
        if not args.no_spark:
            engine.spark_session()
            _engine_counts(period, "spark", directory)  # warm the JVM's query path
            start = time.perf_counter()
            fast = _engine_counts(period, "spark", directory)
            timed["spark (local[2], Parquet)"] = time.perf_counter() - start
            assert _same(loop, fast), "Spark disagrees with the Python loop"

    print(f"full computation, all indicators at all levels (peak memory {_peak_mb():.0f} MB):")
    for name, seconds in timed.items():
        print(f"  {name:28s} {seconds:7.3f} s   {baseline / seconds:6.1f}x faster than the loop")

    rng = random.Random(5)
    timings: list[float] = []
    for _ in range(args.requests):
        level = rng.choice(levels)
        start = time.perf_counter()
        engine.compute(as_of, level=level, period="year")
        timings.append(time.perf_counter() - start)
    loop_timings: list[float] = []
    for _ in range(args.loop_runs or max(3, args.requests // 20)):
        level = rng.choice(levels)
        start = time.perf_counter()
        _python_loop(period.pk, (level,))
        loop_timings.append(time.perf_counter() - start)
    p95 = statistics.quantiles(timings, n=20)[18]
    loop_p95 = statistics.quantiles(loop_timings, n=20)[18] if len(loop_timings) > 1 else loop_timings[0]
    print(
        f"dashboard query (one level's board, PostgreSQL), {len(timings)} requests: "
        f"p50 {1000 * statistics.median(timings):.0f} ms, p95 {1000 * p95:.0f} ms; "
        f"Python loop p95 {1000 * loop_p95:.0f} ms ({loop_p95 / p95:.1f}x slower)"
    )


if __name__ == "__main__":
    main()
