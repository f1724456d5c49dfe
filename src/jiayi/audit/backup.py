"""Backing up and restoring the whole database, audit log included (G4).

SQLite: the online backup API copies a consistent snapshot page by page while the site keeps running,
and restores the same way into the live file. PostgreSQL: `pg_dump --format=custom` and `pg_restore
--clean --single-transaction` from the machine's client tools, so a failed restore changes nothing.

Either way a restore ends by checking the audit hash chain: a backup whose log does not verify is
reported, not silently accepted.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connections

from jiayi.audit import chain
from jiayi.audit.immutability import TABLE

# The first bytes of each kind of file, checked before anything in the database is touched.
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(RuntimeError):
    """A backup or restore cannot be done as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class Outcome:
    path: Path
    seconds: float
    audit_entries: int
    chain_break: chain.ChainBreak | None = None


def _audit_count(using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {TABLE}")  # noqa: S608  (a constant table name)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _pg_arguments(settings: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for the client tools; the password travels in the environment only."""
    arguments = ["--dbname", str(settings["NAME"])]
    if settings.get("HOST"):
        arguments += ["--host", str(settings["HOST"])]
    if settings.get("PORT"):
        arguments += ["--port", str(settings["PORT"])]
    if settings.get("USER"):
        arguments += ["--username", str(settings["USER"])]
    env = dict(os.environ)
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings["PASSWORD"])
    return arguments, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client tools (Debian: postgresql-client)"
        )
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(out: Path, using: str = "default") -> Outcome:
    """Write a consistent copy of the database to `out` (which must not exist yet)."""
    if out.exists():
        raise BackupError(f"{out}: already exists; choose a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    connection = connections[using]
    started = time.monotonic()
    entries = _audit_count(using)
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(out)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
    elif connection.vendor == "postgresql":
        arguments, env = _pg_arguments(connection.settings_dict)
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(out), *arguments], env)
    else:
        raise BackupError(f"no backup method for the {connection.vendor} database")
    return Outcome(out, time.monotonic() - started, entries)


def _check_file(path: Path, vendor: str) -> None:
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with path.open("rb") as head:
        magic = head.read(16)
    expected = SQLITE_MAGIC if vendor == "sqlite" else PG_DUMP_MAGIC
    if not magic.startswith(expected):
        kind = "an SQLite database" if vendor == "sqlite" else "a pg_dump custom-format archive"
        raise BackupError(f"{path}: not {kind}; nothing was restored")
    if vendor == "sqlite":
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = source.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", [TABLE]
            ).fetchone()
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{path}: unreadable SQLite file ({error}); nothing was restored") from None
        finally:
            source.close()
        if found is None:
            raise BackupError(f"{path}: not a jiayi backup (no audit table); nothing was restored")


def restore(path: Path, using: str = "default") -> Outcome:
    """Replace the database's contents with the backup at `path`, then verify the audit chain."""
    from jiayi.audit.services import verify_chain

    connection = connections[using]
    _check_file(path, connection.vendor)
    started = time.monotonic()
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        if connection.in_atomic_block:
            raise BackupError("cannot restore inside a transaction")
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            source.backup(connection.connection)
        finally:
            source.close()
    elif connection.vendor == "postgresql":
        # pg_restore drops and recreates every table: no connection of ours may hold a lock meanwhile.
        connection.close()
        arguments, env = _pg_arguments(connection.settings_dict)
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                *arguments,
                str(path),
            ],
            env,
        )
    else:
        raise BackupError(f"no restore method for the {connection.vendor} database")
    seconds = time.monotonic() - started
    return Outcome(path, seconds, _audit_count(using), verify_chain())
