"""Kept indicator counts (指标结果): every side of every indicator at every unit of every level, per
kept period, so a board reads a few hundred rows instead of aggregating every resident's facts.

They are made from the fact tables by the engine's own SQL when a period is built (or when the
declarations changed since), and then kept current by deltas: whenever a resident's fact rows are
replaced, the old rows' contributions are taken away and the new rows' added, in the same
transaction. Additive deltas commute, so concurrent writers cannot lose each other's changes, and a
full rebuild gives the same table (a property test checks it after random writes).
"""

from __future__ import annotations

import functools
import hashlib
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.db import connection, transaction
from sqlglot import exp

from jiayi.indicators import catalogue
from jiayi.indicators.catalogue import LEVEL_COLUMNS, LEVELS, Indicator, Side
from jiayi.indicators.models import FactPeriod, IndicatorCount, ResidentFact, UnitFact

COLUMNS = ("period_id", "level", "unit_id", "code", "side", "amount", "members")
TABLE = IndicatorCount._meta.db_table
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
# Adds a delta to a kept count, creating the row when the unit is new to the figure.
_UPSERT = (
    f"INSERT INTO {TABLE} AS kept ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "  # noqa: S608
    "ON CONFLICT (period_id, level, code, side, unit_id) DO UPDATE SET "
    "amount = kept.amount + excluded.amount, members = kept.members + excluded.members"
)
_DROP_EMPTY = f"DELETE FROM {TABLE} WHERE period_id = %s AND level = %s AND unit_id = %s AND members <= 0"  # noqa: S608

Key = tuple[str, int, str, str]  # (level, unit id, code, "num"|"den")


@functools.cache
def declarations_key() -> str:
    """A fingerprint of what the kept counts depend on: every declaration's sides and levels."""
    text = repr([(i.code, i.numerator, i.denominator, i.levels) for i in catalogue.INDICATORS])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@functools.cache
def _resident_sides() -> tuple[tuple[str, str, Side, tuple[str, ...]], ...]:
    """(code, side name, side, levels) for every side over the residents' facts."""
    return tuple(
        (indicator.code, name, side, indicator.levels)
        for indicator in catalogue.INDICATORS
        for name, side in (("num", indicator.numerator), ("den", indicator.denominator))
        if side.source == "resident"
    )


def resident_columns() -> list[str]:
    """The fact columns a delta needs: the units and whatever the declarations test or sum."""
    used: set[str] = set()
    for _code, _name, side, _levels in _resident_sides():
        used |= side.columns()
    return [*LEVEL_COLUMNS.values(), *sorted(used)]


def _dialect() -> str:
    return "postgres" if connection.vendor == "postgresql" else connection.vendor


@functools.lru_cache(maxsize=256)
def _count_sql(query: Any, dialect: str) -> str:
    """The engine's query with the row count per unit added: generated once per query and dialect
    (making SQL text from the tree costs more than running it on a small table)."""
    select = query.expression.copy().select(exp.alias_(exp.Count(this=exp.Star()), "members"), copy=False)
    return str(select.sql(dialect=dialect))


def _count_rows(period: FactPeriod, indicators: Sequence[Indicator], resident: bool) -> list[tuple[Any, ...]]:
    """The engine's queries over the facts with a row count added, flattened to kept-count rows."""
    from jiayi.indicators import engine

    codes = tuple(indicator.code for indicator in indicators)
    out: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for level in LEVELS:
            for query in engine.cached_queries(codes, level, period.pk):
                if (query.source == "resident") != resident:
                    continue
                cursor.execute(_count_sql(query, _dialect()))
                for row in cursor.fetchall():
                    unit_id, members = int(row[0]), int(row[-1])
                    for (code, side), value in zip(query.aliases, row[1:-1], strict=True):
                        out.append((period.pk, level, unit_id, code, side, int(value or 0), members))
    return out


def _insert(rows: Iterable[tuple[Any, ...]]) -> None:
    from jiayi.synth.writer import insert_rows

    insert_rows(IndicatorCount, COLUMNS, rows)


def keep(period: FactPeriod, *, force: bool = False) -> None:
    """Make the period's kept counts from its fact rows: after a build (`force`), or when the
    declarations changed since they were made."""
    with transaction.atomic():
        # One maker at a time: a second request waits here and then finds the counts made.
        locked = FactPeriod.objects.select_for_update().get(pk=period.pk)
        key = declarations_key()
        if force or locked.counts_key != key:
            IndicatorCount.objects.filter(period=period).delete()
            indicators = list(catalogue.INDICATORS)
            _insert(_count_rows(period, indicators, resident=True))
            _insert(_count_rows(period, indicators, resident=False))
            FactPeriod.objects.filter(pk=period.pk).update(counts_key=key)
    period.counts_key = key


def analyze_tables() -> None:
    """Fresh planner statistics after a bulk build (PostgreSQL): the build replaces most of the fact
    table, and with stale statistics the planner reads one resident's rows through the wrong index,
    so every write's refresh took seconds at a million residents instead of a tenth of one."""
    if connection.vendor != "postgresql":
        return
    tables = (ResidentFact._meta.db_table, UnitFact._meta.db_table, TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")


def is_kept(period: FactPeriod) -> bool:
    return period.counts_key == declarations_key()


def recount_units(period: FactPeriod) -> None:
    """Redo the counts over committees, GPs, centres and posts after their rows were recomputed (a
    few thousand rows at most: always all of them)."""
    if not is_kept(period):
        return
    codes_sides = [
        (indicator.code, name)
        for indicator in catalogue.INDICATORS
        for name, side in (("num", indicator.numerator), ("den", indicator.denominator))
        if side.source != "resident"
    ]
    with transaction.atomic():
        for code, name in codes_sides:
            IndicatorCount.objects.filter(period=period, code=code, side=name).delete()
        _insert(_count_rows(period, list(catalogue.INDICATORS), resident=False))


def _contributions(rows: Iterable[Mapping[str, Any]], sign: int, into: dict[Key, list[int]]) -> None:
    """Add (sign=1) or take away (sign=-1) what these fact rows count, exactly as the SQL counts it:
    every row grouped at a unit adds to `members`, and to `amount` when the side's conditions hold."""
    sides = _resident_sides()
    for row in rows:
        units = {level: row[column] for level, column in LEVEL_COLUMNS.items()}
        for code, name, side, levels in sides:
            held = all(_OPS[op](row[column], value) for column, op, value in side.where)
            amount = (int(row[side.measure]) if side.measure else 1) if held else 0
            for level in levels:
                unit = units.get(level)
                if unit is None:
                    continue
                entry = into.setdefault((level, unit, code, name), [0, 0])
                entry[0] += sign * amount
                entry[1] += sign


def apply_delta(
    period: FactPeriod,
    old_rows: Iterable[Mapping[str, Any]] | None,
    new_rows: Iterable[Mapping[str, Any]],
) -> None:
    """Move the kept counts from what `old_rows` counted to what `new_rows` count (one period's rows
    of the same residents). `old_rows` is None when the period keeps no counts: nothing to do."""
    if old_rows is None:
        return
    delta: dict[Key, list[int]] = {}
    _contributions(old_rows, -1, delta)
    _contributions(new_rows, 1, delta)
    changes = [
        (period.pk, level, unit, code, side, amount, members)
        for (level, unit, code, side), (amount, members) in delta.items()
        if amount or members
    ]
    if not changes:
        return
    emptied = sorted({(level, unit) for (level, unit, _c, _s), (_a, members) in delta.items() if members < 0})
    with connection.cursor() as cursor:
        cursor.executemany(_UPSERT, changes)
        if emptied:
            cursor.executemany(_DROP_EMPTY, [(period.pk, level, unit) for level, unit in emptied])


def _kept_key_locked(period: FactPeriod) -> str:
    """The period's counts key, read under a share lock held to the end of the writer's transaction:
    writers run side by side, but `keep` (which locks the row for update) waits until they commit,
    so counts it makes see their fact rows, and writers after it add their deltas to its counts."""
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    table = FactPeriod._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT counts_key FROM {table} WHERE id = %s{lock}", [period.pk])  # noqa: S608
        found = cursor.fetchone()
    return str(found[0]) if found else ""


def old_rows(period: FactPeriod, resident_ids: Sequence[int]) -> list[dict[str, Any]] | None:
    """The residents' current fact rows in the period, as a delta needs them; None when the period
    keeps no counts (they are made from the facts when first read)."""
    key = _kept_key_locked(period)
    period.counts_key = key
    if key != declarations_key():
        return None
    return list(
        ResidentFact.objects.filter(period=period, resident_id__in=list(resident_ids)).values(
            *resident_columns()
        )
    )


def level_counts(
    period: FactPeriod, indicators: Sequence[Indicator], level: str
) -> dict[tuple[str, str], dict[int, int]]:
    """The kept counts of these indicators at a level, shaped as the engines return theirs."""
    if not is_kept(period):
        keep(period)
    codes = [indicator.code for indicator in indicators if level in indicator.levels]
    counts: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for code, side, unit_id, amount in IndicatorCount.objects.filter(
        period=period, level=level, code__in=codes
    ).values_list("code", "side", "unit_id", "amount"):
        counts[(code, side)][unit_id] = amount
    return counts
