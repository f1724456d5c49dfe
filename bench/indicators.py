"""Benchmark of the indicator engine on a synthetic district with its signings and history.

Measured, on PostgreSQL (a scratch database, dropped and recreated):
  * building the fact tables for one period (`jiayi indicators rebuild` does this per kept period);
  * full computation: every indicator at every level (district, street, centre, team, doctor), per engine:
    `db` (the SQL on PostgreSQL), `duckdb` (over a Parquet snapshot; the snapshot export timed apart)
    and `spark` (local mode, over the same snapshot; the session started beforehand);
  * dashboard query latency: one level's board (`engine.compute`) as the page asks it, p50/p95 over
    repeated requests at random levels.
Each is compared with the straightforward way measured in the same run: a per-resident Python loop
over the same fact rows, evaluating every declaration's conditions row by row. The loop is checked
to give the same counts.

    .venv/bin/python bench/indicators.py                      # 100,000 residents
    .venv/bin/python bench/indicators.py --residents 20000 --no-spark
"""

from __future__ import annotations

import argparse
import os
import random
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
                unit = row[catalogue.LEVEL_COLUMNS[level]]
                if level in indicator.levels and unit is not None:
                    counts[(indicator.code, name, level)][unit] += amount
    for row in unit_rows:
        for indicator, name, side in sides:
            if side.source != row["kind"]:
                continue
            if not all(ops[op](row[column], value) for column, op, value in side.where):
                continue
            for level in levels:
                unit = row[catalogue.LEVEL_COLUMNS[level]]
                if level in indicator.levels and unit is not None:
                    counts[(indicator.code, name, level)][unit] += 1
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
    args = parser.parse_args()
    if args.quick:
        args.residents, args.requests, args.no_spark = 10_000, 10, True

    _fresh_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayi.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from jiayi.indicators import catalogue, engine, facts
    from jiayi.synth import SynthConfig, generate_district

    levels = catalogue.LEVELS
    start = time.perf_counter()
    generate_district(
        SynthConfig(residents=args.residents, seed=11, as_of=AS_OF), signings=True, histories=True
    )
    print(
        f"district: {args.residents:,} residents with signings and history, generated in "
        f"{time.perf_counter() - start:.1f} s (PostgreSQL)"
    )

    start = time.perf_counter()
    period = facts.build_period("year", AS_OF)
    print(f"fact tables built for one period (year to {AS_OF}): {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    loop = _python_loop(period.pk, levels)
    baseline = time.perf_counter() - start
    print(
        f"baseline, per-resident Python loop, all {len(catalogue.INDICATORS)} indicators x "
        f"{len(levels)} levels: {baseline:.2f} s"
    )

    results: dict[str, float] = {}
    start = time.perf_counter()
    fast = _engine_counts(period, "db", None)
    results["db (PostgreSQL)"] = time.perf_counter() - start
    assert _same(loop, fast), "the database engine disagrees with the Python loop"

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        start = time.perf_counter()
        engine.write_snapshot(period, directory)
        export = time.perf_counter() - start
        print(f"Parquet snapshot of the period written in {export:.2f} s")
        start = time.perf_counter()
        fast = _engine_counts(period, "duckdb", directory)
        results["duckdb (Parquet)"] = time.perf_counter() - start
        assert _same(loop, fast), "DuckDB disagrees with the Python loop"
        if not args.no_spark:
            engine.spark_session()
            _engine_counts(period, "spark", directory)  # warm the JVM's query path
            start = time.perf_counter()
            fast = _engine_counts(period, "spark", directory)
            results["spark (local[2], Parquet)"] = time.perf_counter() - start
            assert _same(loop, fast), "Spark disagrees with the Python loop"

    print("full computation, all indicators at all levels:")
    for name, seconds in results.items():
        print(f"  {name:28s} {seconds:7.3f} s   {baseline / seconds:6.1f}x faster than the loop")

    rng = random.Random(5)
    timings: list[float] = []
    for _ in range(args.requests):
        level = rng.choice(levels)
        start = time.perf_counter()
        engine.compute(AS_OF, level=level, period="year")
        timings.append(time.perf_counter() - start)
    loop_timings: list[float] = []
    for _ in range(max(3, args.requests // 20)):
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
