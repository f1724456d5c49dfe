"""Append-only audit table on SQLite: triggers refuse UPDATE and DELETE (see audit/immutability.py).

PostgreSQL gets its trigger and REVOKEs from `jiayi audit harden`, run by the database owner, because
the role names are deployment facts a migration cannot know.
"""

from typing import Any

from django.db import migrations

from jiayi.audit.immutability import SQLITE_DROP_TRIGGERS, SQLITE_TRIGGERS


def create_triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in SQLITE_TRIGGERS:
        schema_editor.execute(statement)


def drop_triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in SQLITE_DROP_TRIGGERS:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
    ]
