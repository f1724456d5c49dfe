"""Keeping the audit table append-only below the application.

SQLite: triggers (created by migration 0002) abort any UPDATE or DELETE unless the SQL function
`jiayi_audit_unlocked()` returns 1. Only jiayi registers that function, per connection, and it returns
1 only inside `unlocked()`; any other client (the sqlite3 shell, a script) gets "no such function", so
the change is refused there too.

PostgreSQL: `jiayi audit harden` installs a trigger that refuses UPDATE/DELETE unless the session
setting `jiayi.audit_unlocked` is `on`, and REVOKEs UPDATE, DELETE and TRUNCATE from the application
role, so the application's own login cannot change the log even if it sets that flag. The trigger is
for the table owner, who keeps the privileges (migrations, retention purges).

`unlocked()` is used by exactly two code paths: the retention purge and `flush` (the whole-database
reset used by the test runner and `manage.py flush`), plus tamper tests that must edit the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "audit_auditentry"
_FLAG = "_jiayi_audit_unlocked"
SQLITE_FUNCTION = "jiayi_audit_unlocked"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
    WHEN NOT {SQLITE_FUNCTION}() BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
    WHEN NOT {SQLITE_FUNCTION}() BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
]
SQLITE_DROP_TRIGGERS = [
    f"DROP TRIGGER IF EXISTS {TABLE}_no_update",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_delete",
]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION jiayi_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('jiayi.audit_unlocked', true), '') = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$"""
PG_TRIGGER = f"""
CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
FOR EACH ROW EXECUTE FUNCTION jiayi_audit_refuse_change()"""
PG_DROP_TRIGGER = f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}"


def register_sqlite_function(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """`connection_created` receiver: give each SQLite connection the flag the triggers consult."""
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function(SQLITE_FUNCTION, 0, lambda: 1 if getattr(connection, _FLAG, False) else 0)


@contextmanager
def unlocked(using: str = "default") -> Iterator[None]:
    """Allow UPDATE/DELETE on the audit table on this connection for the duration of the block."""
    connection = connections[using]
    connection.ensure_connection()
    setattr(connection, _FLAG, True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jiayi.audit_unlocked', 'on', false)")
    try:
        yield
    finally:
        setattr(connection, _FLAG, False)
        if connection.vendor == "postgresql" and connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('jiayi.audit_unlocked', 'off', false)")


def harden_postgresql(connection: BaseDatabaseWrapper, role: str | None) -> list[str]:
    """Install the trigger and, given the application role, revoke its UPDATE/DELETE/TRUNCATE."""
    statements = [PG_FUNCTION, PG_DROP_TRIGGER, PG_TRIGGER]
    if role:
        quoted = connection.ops.quote_name(role)
        statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {TABLE} FROM {quoted}")
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements
