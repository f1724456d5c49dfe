"""200 concurrent `$book` requests on 20 reserved slots: exactly 20 bookings, each to a different
resident, every other request a 409 "slot no longer available" — on PostgreSQL and on a SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from .race import build_race, check_race, run_race

# PostgreSQL's connection limit is shared with other test runs; each worker holds one connection.
POSTGRES_WORKERS = 40


@pytest.mark.django_db(transaction=True)
def test_it_books_each_reserved_slot_exactly_once_under_200_attempts_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL race")
    race = build_race()
    result = run_race(race["token"], race["residents"], race["slots"], POSTGRES_WORKERS)
    check_race(result, race["residents"], race["slots"])


def test_it_books_each_reserved_slot_exactly_once_under_200_attempts_on_sqlite(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite race")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["JIAYI_SQLITE_PATH"] = str(tmp_path / "race.sqlite3")
    env["DJANGO_SETTINGS_MODULE"] = "jiayi.settings"
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v", "0"], env=env, check=True, timeout=600)
    script = (
        "import django, json; django.setup(); "
        "from tests.referrals.race import build_race, run_race; "
        "race = build_race(); "
        "result = run_race(race['token'], race['residents'], race['slots'], 200); "
        "print(json.dumps({'race': race, 'result': result}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    output = json.loads(done.stdout.strip().splitlines()[-1])
    check_race(output["result"], output["race"]["residents"], output["race"]["slots"])
