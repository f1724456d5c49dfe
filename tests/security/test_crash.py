"""Crash safety (G1): `jiayi import-csv` killed with SIGKILL half-way through a file leaves no partial
records, the audit chain still verifies, and running the same command again completes the import.

The import runs in a child process against a real database: on SQLite a migrated file database in WAL
mode, as deployed (the test database lives in memory); on PostgreSQL the test database itself, which the
child reaches through its own connection. The kill comes when the child has read a given share of the
file, read from its open file descriptor's position in /proc, so it lands mid-way whatever the speed of
the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
ROWS = 12_000
SOURCE = "crash-test"
# Small chunks so that a kill lands between many commits of the row-by-row mode.
CHUNK_ROWS = 1_000
IMPORT = (
    "import sys, django; django.setup(); "
    "from jiayi.records import services; services.CSV_CHUNK_ROWS = int(sys.argv[1]); "
    "from jiayi.cli import main; main(sys.argv[2:])"
)


def write_feed(path: str, rows: int) -> dict[str, Any]:
    """A readings feed of `rows` systolic pressures for residents of the district (run in the child)."""
    from jiayi.registry.models import Resident

    residents = list(
        Resident.objects.filter(citizen_id__isnull=False, committee__responsible_centre__isnull=False)
        .order_by("id")
        .values_list("citizen_id", "committee__responsible_centre__code")[:50]
    )
    with open(path, "w", encoding="utf-8") as feed:
        feed.write("source_id,citizen_id,institution,effective_at,code,value,unit\n")
        for n in range(rows):
            citizen_id, centre = residents[n % len(residents)]
            day = 1 + n % 28
            when = f"2025-06-{day:02d}T08:15:00+08:00"
            feed.write(f"C{n:07d},{citizen_id},{centre},{when},8480-6,{100 + n % 80},mmHg\n")
    return {"residents": len(residents)}


def state() -> dict[str, Any]:
    """What the import left behind (run in the child, or in the test on PostgreSQL)."""
    from jiayi.audit.services import verify_chain
    from jiayi.records.models import Observation

    stored = Observation.objects.filter(source_system=SOURCE)
    # A record is complete when every field the row carried arrived: the value the feed wrote for that
    # source_id, its resident, its time and its code.
    complete = sum(
        1
        for source_id, value, resident_id, effective_at, code in stored.values_list(
            "source_id", "value", "resident_id", "effective_at", "code"
        )
        if value == 100 + int(source_id[1:]) % 80
        and resident_id is not None
        and effective_at is not None
        and code == "8480-6"
    )
    return {
        "stored": stored.count(),
        "complete": complete,
        "distinct": stored.values("source_id").distinct().count(),
        "chain_break": str(verify_chain() or ""),
    }


def _env(tmp_path: Path) -> dict[str, str]:
    # The checkout's own source first, so the child runs the code under test (not an installed copy).
    pythonpath = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="jiayi.settings", PYTHONPATH=pythonpath)
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        env["JIAYI_SQLITE_PATH"] = str(tmp_path / "crash.sqlite3")
    else:
        settings = connection.settings_dict
        env["DATABASE_URL"] = (
            f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
        )
    return env


def _child(env: dict[str, str], code: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", f"import django, json; django.setup(); {code}"],
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _prepare(env: dict[str, str], feed: Path) -> None:
    if connection.vendor == "sqlite":
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "-v", "0"], env=env, check=True, timeout=300
        )
        _child(
            env,
            "from datetime import date; from jiayi.synth import SynthConfig, generate_district; "
            "generate_district(SynthConfig(residents=300, seed=1, as_of=date(2026, 1, 1))); print('{}')",
        )
    found = _child(
        env,
        "from tests.security.test_crash import write_feed; "
        f"print(json.dumps(write_feed({str(feed)!r}, {ROWS})))",
    )
    assert found["residents"] > 0


def _state(env: dict[str, str]) -> dict[str, Any]:
    return _child(env, "from tests.security.test_crash import state; print(json.dumps(state()))")  # type: ignore[no-any-return]


def _import(env: dict[str, str], feed: Path, mode: str) -> subprocess.Popen[str]:
    command = [
        "import-csv",
        "readings",
        str(feed),
        "--source",
        SOURCE,
        "--mode",
        mode,
        "--no-progress",
        "--json",
    ]
    return subprocess.Popen(
        [sys.executable, "-c", IMPORT, str(CHUNK_ROWS), *command],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_share(pid: int, path: Path) -> float:
    """How far the process has read `path`, as a share of its size (0 until it has opened it)."""
    size = path.stat().st_size
    fds = Path(f"/proc/{pid}/fd")
    try:
        for fd in fds.iterdir():
            if os.readlink(fd) == str(path):
                position = int((Path(f"/proc/{pid}/fdinfo") / fd.name).read_text().split()[1])
                return position / size
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return 0.0


def _kill_mid_way(process: subprocess.Popen[str], feed: Path, share: float) -> float:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the import ended before it could be killed: {process.communicate()}")
        read = _read_share(process.pid, feed)
        if read >= share:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            assert process.returncode == -signal.SIGKILL
            return read
        time.sleep(0.02)
    raise AssertionError("the import never got half-way")


def _rerun(env: dict[str, str], feed: Path, mode: str) -> dict[str, Any]:
    process = _import(env, feed, mode)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["rows", "file"])
def test_a_killed_import_leaves_no_partial_records_and_a_rerun_completes(tmp_path: Path, mode: str) -> None:
    from tests.conftest import ensure_district

    if connection.vendor == "postgresql":
        ensure_district()
    env = _env(tmp_path)
    feed = tmp_path / "readings.csv"
    _prepare(env, feed)

    read = _kill_mid_way(_import(env, feed, mode), feed, share=0.5)
    after_kill = _state(env)
    assert read < 1.0
    assert after_kill["chain_break"] == ""
    assert after_kill["stored"] == after_kill["complete"] == after_kill["distinct"]
    if mode == "file":
        # All or nothing: the single transaction died with the process.
        assert after_kill["stored"] == 0
    else:
        # Only whole chunks were committed, and not the whole file.
        assert after_kill["stored"] % CHUNK_ROWS == 0
        assert after_kill["stored"] < ROWS

    summary = _rerun(env, feed, mode)
    final = _state(env)
    assert summary["failed"] == 0
    assert summary["created"] == ROWS - after_kill["stored"]
    assert summary["unchanged"] == after_kill["stored"]
    assert final == {"stored": ROWS, "complete": ROWS, "distinct": ROWS, "chain_break": ""}
