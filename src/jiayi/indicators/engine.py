"""The indicator engine: declarations compiled with SQLGlot to one SQL query per source and level, run
on the operational database (SQLite, PostgreSQL), on DuckDB over a Parquet snapshot of the fact
tables, or on Apache Spark over the same snapshot.

Every engine returns integer numerators and denominators per unit; values, targets and the JSON rows
are made here in Python from those integers, so the engines' outputs are identical by construction
whenever their counts are.
"""

from __future__ import annotations

import functools
import io
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.db import connection
from sqlglot import exp

from jiayi.indicators import catalogue, facts, results
from jiayi.indicators.catalogue import LEVEL_COLUMNS, LEVELS, Indicator, Side
from jiayi.indicators.models import FactPeriod, PeriodKind, ResidentFact, UnitFact
from jiayi.registry.models import Institution, Place, Staff, Team

ENGINES = ("db", "duckdb", "spark")
RESIDENT_TABLE = ResidentFact._meta.db_table
UNIT_TABLE = UnitFact._meta.db_table
PERIODS = (PeriodKind.YEAR, PeriodKind.QUARTER)


class EngineError(ValueError):
    """A request the engine cannot answer: unknown level, code, period or engine."""


@dataclass(frozen=True, eq=False)
class Query:
    """One compiled query: a source at a level, with one summed column per (indicator, side)."""

    source: str
    level: str
    aliases: tuple[tuple[str, str], ...]  # (indicator code, "num"|"den") per output column
    expression: exp.Select

    def sql(self, dialect: str) -> str:
        return _sql_text(self, dialect)


@functools.lru_cache(maxsize=2048)
def _sql_text(query: Query, dialect: str) -> str:
    # Generating SQL from the tree costs more than running it on a small table: once per dialect.
    return query.expression.sql(dialect=dialect)


def _literal(value: bool | int) -> exp.Expr:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    return exp.Literal.number(value)


_OPS: dict[str, type[exp.Binary]] = {
    "=": exp.EQ,
    "!=": exp.NEQ,
    ">=": exp.GTE,
    ">": exp.GT,
    "<=": exp.LTE,
    "<": exp.LT,
}


def _condition(side: Side) -> exp.Expr | None:
    parts: list[exp.Expr] = [
        _OPS[op](this=exp.column(column), expression=_literal(value)) for column, op, value in side.where
    ]
    if not parts:
        return None
    return exp.and_(*parts)


def _aggregate(side: Side) -> exp.Expr:
    amount: exp.Expr = exp.column(side.measure) if side.measure else exp.Literal.number(1)
    condition = _condition(side)
    if condition is None:
        return exp.Sum(this=amount)
    return exp.Sum(this=exp.Case(ifs=[exp.If(this=condition, true=amount)], default=exp.Literal.number(0)))


def compile_queries(indicators: Sequence[Indicator], level: str, period_id: int) -> list[Query]:
    """One SELECT per source table: the unit id and one aggregate per indicator side."""
    if level not in LEVELS:
        raise EngineError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    sides: dict[str, list[tuple[str, str, Side]]] = defaultdict(list)
    for indicator in indicators:
        if level not in indicator.levels:
            continue
        sides[indicator.numerator.source].append((indicator.code, "num", indicator.numerator))
        sides[indicator.denominator.source].append((indicator.code, "den", indicator.denominator))
    unit = exp.column(catalogue.UNIT_LEVEL_COLUMNS[level])
    queries: list[Query] = []
    for source, entries in sides.items():
        table = RESIDENT_TABLE if source == "resident" else UNIT_TABLE
        where: exp.Expr = exp.and_(
            exp.EQ(this=exp.column("period_id"), expression=exp.Literal.number(period_id)),
            exp.Not(this=exp.Is(this=unit.copy(), expression=exp.Null())),
        )
        if source != "resident":
            where = exp.and_(where, exp.EQ(this=exp.column("kind"), expression=exp.Literal.string(source)))
        columns: list[exp.Expr] = [exp.alias_(unit.copy(), "unit_id")]
        aliases: list[tuple[str, str]] = []
        for index, (code, side_name, side) in enumerate(entries):
            columns.append(exp.alias_(_aggregate(side), f"c{index}"))
            aliases.append((code, side_name))
        select = exp.select(*columns).from_(table).where(where).group_by(unit.copy())
        queries.append(Query(source, level, tuple(aliases), select))
    return queries


@functools.lru_cache(maxsize=512)
def cached_queries(codes: tuple[str, ...], level: str, period_id: int) -> tuple[Query, ...]:
    """compile_queries, remembered: the board asks the same questions again and again."""
    return tuple(compile_queries([catalogue.BY_CODE[code] for code in codes], level, period_id))


Counts = dict[tuple[str, str], dict[int, int]]  # (code, side) → unit id → count
LevelCounts = dict[str, Counts]  # level → counts


def _collect(queries: Sequence[Query], run: Any) -> LevelCounts:
    counts: LevelCounts = defaultdict(lambda: defaultdict(dict))
    for query in queries:
        for row in run(query):
            unit_id = int(row[0])
            for (code, side), value in zip(query.aliases, row[1:], strict=True):
                counts[query.level][(code, side)][unit_id] = int(value or 0)
    return counts


def _run_db(queries: Sequence[Query]) -> LevelCounts:
    dialect = "postgres" if connection.vendor == "postgresql" else connection.vendor

    def run(query: Query) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(query.sql(dialect))
            return list(cursor.fetchall())

    return _collect(queries, run)


# --- Snapshots for the columnar engines --------------------------------------------------------------

RESIDENT_SNAPSHOT_COLUMNS = (
    "period_id",
    *LEVEL_COLUMNS.values(),
    *catalogue.RESIDENT_COLUMNS,
)
UNIT_SNAPSHOT_COLUMNS = (
    "period_id",
    "kind",
    "ref_id",
    *catalogue.UNIT_LEVEL_COLUMNS.values(),
    *catalogue.UNIT_COLUMNS,
)


def _arrow_type(column: str) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    kind = catalogue.RESIDENT_COLUMNS.get(column) or catalogue.UNIT_COLUMNS.get(column)
    if kind == "bool":
        return pa.bool_()
    if column == "kind":
        return pa.string()
    return pa.int64()


def _postgres_table(sql: str, columns: Sequence[str]) -> Any:
    """A query's rows as an Arrow table through COPY … TO STDOUT as CSV: PostgreSQL formats and
    pyarrow parses in C, where building a million Python tuples takes most of a minute."""
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]

    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=list(columns)),
        convert_options=pacsv.ConvertOptions(
            column_types={column: _arrow_type(column) for column in columns},
            true_values=["t"],
            false_values=["f"],
        ),
    )


def _fetched_table(sql: str, columns: Sequence[str]) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    arrays = []
    for index, column in enumerate(columns):
        kind = _arrow_type(column)
        values = [row[index] for row in rows]
        if kind == pa.bool_():
            values = [None if v is None else bool(v) for v in values]
        arrays.append(pa.array(values, type=kind))
    return pa.Table.from_arrays(arrays, names=list(columns))


def write_snapshot(period: FactPeriod, directory: Path) -> dict[str, Path]:
    """Write the period's fact rows as Parquet files (one per table) and return their paths."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    dialect = "postgres" if connection.vendor == "postgresql" else connection.vendor
    for table, columns in ((RESIDENT_TABLE, RESIDENT_SNAPSHOT_COLUMNS), (UNIT_TABLE, UNIT_SNAPSHOT_COLUMNS)):
        select = (
            exp.select(*[exp.column(c) for c in columns])
            .from_(table)
            .where(exp.EQ(this=exp.column("period_id"), expression=exp.Literal.number(period.pk)))
        )
        sql = select.sql(dialect=dialect)
        arrow = _postgres_table(sql, columns) if dialect == "postgres" else _fetched_table(sql, columns)
        path = directory / f"{table}.parquet"
        pq.write_table(arrow, path)
        paths[table] = path
    return paths


def _run_duckdb(queries: Sequence[Query], paths: dict[str, Path]) -> LevelCounts:
    import duckdb

    con = duckdb.connect()
    try:
        # Loaded once into DuckDB's columnar memory, then every query of every level runs on it.
        for table, path in paths.items():
            source = exp.select("*").from_(
                exp.Anonymous(this="read_parquet", expressions=[exp.Literal.string(str(path))])
            )
            con.execute(exp.Create(this=exp.to_table(table), kind="TABLE", expression=source).sql("duckdb"))

        def run(query: Query) -> list[tuple[Any, ...]]:
            return con.execute(query.sql("duckdb")).fetchall()

        return _collect(queries, run)
    finally:
        con.close()


_spark_lock = threading.Lock()
_spark: Any = None


def spark_session() -> Any:
    """One local Spark session per process: starting the JVM costs seconds."""
    global _spark
    with _spark_lock:
        if _spark is None:
            from pyspark.sql import SparkSession

            _spark = (
                SparkSession.builder.master("local[2]")
                .appName("jiayi-indicators")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.default.parallelism", "2")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.sql.session.timeZone", "UTC")
                .getOrCreate()
            )
            _spark.sparkContext.setLogLevel("ERROR")
        return _spark


def _run_spark(queries: Sequence[Query], paths: dict[str, Path]) -> LevelCounts:
    spark = spark_session()
    for table, path in paths.items():
        spark.read.parquet(str(path)).cache().createOrReplaceTempView(table)

    def run(query: Query) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in spark.sql(query.sql("spark")).collect()]

    return _collect(queries, run)


# --- Rows ---------------------------------------------------------------------------------------------


def unit_names(level: str, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(set(ids))
    if level in ("district", "street"):
        return dict(Place.objects.filter(pk__in=wanted).values_list("id", "name"))
    if level in ("centre", "hospital"):
        return dict(Institution.objects.filter(pk__in=wanted).values_list("id", "name"))
    if level == "team":
        return dict(Team.objects.filter(pk__in=wanted).values_list("id", "name"))
    return dict(Staff.objects.filter(pk__in=wanted).values_list("id", "name"))


def unit_district_codes(level: str, ids: Iterable[int]) -> dict[int, str | None]:
    """The code of the district each unit belongs to, for district-specific targets."""
    geo = facts.load_geography()
    codes = dict(Place.objects.filter(level="district").values_list("id", "code"))
    wanted = list(set(ids))
    out: dict[int, str | None] = {}
    if level == "district":
        return {i: codes.get(i) for i in wanted}
    if level == "street":
        return {i: codes.get(geo.street_district.get(i) or -1) for i in wanted}
    if level in ("centre", "hospital"):
        place_of = {i: geo.institution_place.get(i) for i in wanted}
    elif level == "team":
        centre_of = dict(Team.objects.filter(pk__in=wanted).values_list("id", "centre_id"))
        place_of = {i: geo.institution_place.get(centre_of.get(i, -1)) for i in wanted}
    else:
        institution = dict(Staff.objects.filter(pk__in=wanted).values_list("id", "institution_id"))
        place_of = {i: geo.institution_place.get(institution.get(i, -1)) for i in wanted}
    for i, place in place_of.items():
        district = geo.district_of_place(place)
        out[i] = codes.get(district) if district is not None else None
    return out


def _rows(indicators: Sequence[Indicator], level: str, counts: Counts, as_of: date) -> list[dict[str, Any]]:
    unit_ids: set[int] = set()
    for values in counts.values():
        unit_ids |= set(values)
    names = unit_names(level, unit_ids)
    districts = unit_district_codes(level, unit_ids)
    rows: list[dict[str, Any]] = []
    for indicator in indicators:
        if level not in indicator.levels:
            continue
        numerators = counts.get((indicator.code, "num"), {})
        denominators = counts.get((indicator.code, "den"), {})
        for unit_id in sorted(set(numerators) | set(denominators)):
            numerator = numerators.get(unit_id, 0)
            denominator = denominators.get(unit_id, 0)
            value = indicator.value(numerator, denominator)
            target = indicator.target_for(districts.get(unit_id), as_of.year)
            rows.append(
                {
                    "code": indicator.code,
                    "level": level,
                    "unit_id": unit_id,
                    "unit_name": names.get(unit_id, ""),
                    "numerator": numerator,
                    "denominator": denominator,
                    "value": value,
                    "target": target,
                    "met": indicator.met(value, target),
                }
            )
    return rows


def select_indicators(codes: Sequence[str] | None) -> list[Indicator]:
    if not codes:
        return list(catalogue.INDICATORS)
    unknown = [code for code in codes if code not in catalogue.BY_CODE]
    if unknown:
        raise EngineError(f"unknown indicator code(s): {', '.join(unknown)}")
    return [catalogue.BY_CODE[code] for code in codes]


def compute_level_counts(
    period: FactPeriod,
    indicators: Sequence[Indicator],
    levels: Sequence[str],
    engine: str,
    snapshot: Path | None = None,
) -> LevelCounts:
    """Counts of every indicator side at every level, on one engine: one connection (or one loaded
    snapshot) for all the levels' queries. `snapshot` is a directory holding the period's Parquet
    files (`write_snapshot`); without one the columnar engines write a fresh snapshot first."""
    if engine not in ENGINES:
        raise EngineError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    codes = tuple(indicator.code for indicator in indicators)
    queries = [query for level in levels for query in cached_queries(codes, level, period.pk)]
    if engine == "db":
        return _run_db(queries)
    with tempfile.TemporaryDirectory(prefix="jiayi-indicators-") as tmp:
        directory = snapshot or Path(tmp)
        paths = (
            {
                RESIDENT_TABLE: directory / f"{RESIDENT_TABLE}.parquet",
                UNIT_TABLE: directory / f"{UNIT_TABLE}.parquet",
            }
            if snapshot is not None
            else write_snapshot(period, directory)
        )
        if engine == "duckdb":
            return _run_duckdb(queries, paths)
        return _run_spark(queries, paths)


def compute_counts(
    period: FactPeriod, indicators: Sequence[Indicator], level: str, engine: str, snapshot: Path | None = None
) -> Counts:
    if level not in LEVELS:
        raise EngineError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    return compute_level_counts(period, indicators, [level], engine, snapshot).get(level, {})


def compute(
    as_of: date,
    *,
    level: str,
    codes: list[str] | None = None,
    period: str = "year",
    engine: str = "db",
) -> list[dict[str, Any]]:
    """The indicator rows `{code, level, unit_id, unit_name, numerator, denominator, value, target, met}`
    at a level for the period (year or quarter to date) ending on `as_of`.

    On the operational database (`db`) the counts come from the period's kept counts, which equal
    the SQL over the fact rows (`compute_level_counts`) and are kept current with them; the
    columnar engines aggregate a snapshot of the fact rows."""
    if period not in PERIODS:
        raise EngineError(f"period must be year or quarter, got {period!r}")
    if level not in LEVELS:
        raise EngineError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if engine not in ENGINES:
        raise EngineError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    indicators = select_indicators(codes)
    kept = facts.ensure_period(period, as_of)
    if engine == "db":
        counts: Counts = results.level_counts(kept, indicators, level)
    else:
        counts = compute_counts(kept, indicators, level, engine)
    return _rows(indicators, level, counts, as_of)
