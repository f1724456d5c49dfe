"""32 concurrent writers still produce one linear chain (C4).

On PostgreSQL the writers share the test database. SQLite's in-memory test database uses a shared
cache whose table locks bypass the busy timeout, which is not how jiayi runs SQLite; there the same
writers run in a child process against a migrated file database in WAL mode, as deployed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection

from jiayi.audit import chain, services
from jiayi.audit.models import Action, AuditEntry

WRITERS = 32
PER_WRITER = 5


def run_writers() -> dict[str, object]:
    """Start 32 threads at once, each appending entries; report what the log looks like after."""
    start = threading.Barrier(WRITERS)
    errors: list[str] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(PER_WRITER):
                services.record(action=Action.READ, resource_type="resident", resource_id=f"{n}-{i}")
        except Exception as error:
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = list(AuditEntry.objects.order_by("id").values_list("prev_hash", "hash"))
    return {
        "errors": errors,
        "count": len(rows),
        "genesis_first": bool(rows) and rows[0][0] == chain.GENESIS,
        "linked": all(prev == rows[i - 1][1] for i, (prev, _) in enumerate(rows) if i),
        "distinct_prev": len({prev for prev, _ in rows}),
        "verifies": services.verify_chain() is None,
    }


def _assert_linear(result: dict[str, object]) -> None:
    assert result["errors"] == []
    assert result["count"] == WRITERS * PER_WRITER
    assert result["genesis_first"]
    assert result["linked"]
    assert result["distinct_prev"] == WRITERS * PER_WRITER
    assert result["verifies"]


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_linear_chain_under_32_concurrent_writers_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL writers")
    _assert_linear(run_writers())


def test_it_keeps_one_linear_chain_under_32_concurrent_writers_on_sqlite(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite writers")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["JIAYI_SQLITE_PATH"] = str(tmp_path / "audit.sqlite3")
    env["DJANGO_SETTINGS_MODULE"] = "jiayi.settings"
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v", "0"], env=env, check=True, timeout=300)
    script = (
        "import django, json; django.setup(); "
        "from tests.audit.test_concurrency import run_writers; print(json.dumps(run_writers()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    _assert_linear(json.loads(done.stdout.strip().splitlines()[-1]))
