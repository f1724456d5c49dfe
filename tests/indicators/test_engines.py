"""The same declarations give the same JSON on the operational database, DuckDB and Spark."""

from __future__ import annotations

import json

import pytest

from jiayi.indicators import engine
from jiayi.indicators.catalogue import LEVELS

from .test_fixture_indicators import populate
from .world import AS_OF, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated() -> None:
    populate(build_world())


def _json(engine_name: str, level: str, period: str = "year") -> str:
    return json.dumps(engine.compute(AS_OF, level=level, period=period, engine=engine_name), sort_keys=True)


def test_duckdb_matches_the_database_at_every_level(populated: None) -> None:
    for level in LEVELS:
        expected = _json("db", level)
        assert json.loads(expected), level
        assert _json("duckdb", level) == expected, level


@pytest.mark.slow
def test_spark_matches_the_database(populated: None) -> None:
    for level, period in (("doctor", "year"), ("street", "quarter")):
        assert _json("spark", level, period) == _json("db", level, period), level


def test_compiled_sql_is_dialect_specific_but_equivalent() -> None:
    from jiayi.indicators import catalogue

    [query] = [
        q
        for q in engine.compile_queries([catalogue.get("signing.coverage")], "team", 7)
        if q.source == "resident"
    ]
    sqlite = query.sql("sqlite")
    assert "GROUP BY team_id" in sqlite
    assert "period_id = 7" in sqlite
    assert query.aliases == (("signing.coverage", "num"), ("signing.coverage", "den"))
