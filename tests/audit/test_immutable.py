"""The audit table refuses UPDATE and DELETE below the application (C3)."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from jiayi.audit import services
from jiayi.audit.immutability import unlocked
from jiayi.audit.models import Action, AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry() -> AuditEntry:
    return services.record(action=Action.READ, resource_type="resident", resource_id="1")


@pytest.fixture
def hardened() -> None:
    """PostgreSQL with the harden trigger. DDL is transactional there, so the trigger goes away with
    the test's rollback and never reaches suites that delete users."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL hardening")
    call_command("audit", "harden", stdout=StringIO())


def _refused(sql: str, params: list[object]) -> None:
    with (
        pytest.raises(DatabaseError, match=r"append-only|permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)


def test_it_refuses_update_and_delete_on_sqlite(entry: AuditEntry) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite triggers come from a migration")
    _refused("UPDATE audit_auditentry SET actor_name = 'x' WHERE id = %s", [entry.pk])
    _refused("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).actor_name == entry.actor_name


def test_it_refuses_update_and_delete_on_postgresql_after_harden(entry: AuditEntry, hardened: None) -> None:
    _refused("UPDATE audit_auditentry SET actor_name = 'x' WHERE id = %s", [entry.pk])
    _refused("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])
    with unlocked():
        # The owner's maintenance path (retention purge) still works.
        AuditEntry.objects.filter(pk=entry.pk).update(purpose="maintenance")


def test_it_revokes_update_and_delete_from_the_application_role(entry: AuditEntry, hardened: None) -> None:
    # Role and grants live in the test's transaction and vanish with its rollback.
    role = f"jiayi_app_test_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON audit_auditentry TO {role}")
    call_command("audit", "harden", "--role", role, stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {role}")
        # Even with the trigger's maintenance flag set, the role itself lacks the privileges.
        cursor.execute("SELECT set_config('jiayi.audit_unlocked', 'on', false)")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM audit_auditentry")
        _refused("UPDATE audit_auditentry SET ip = 'x' WHERE id = %s", [entry.pk])
        _refused("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute("SELECT set_config('jiayi.audit_unlocked', 'off', false)")


def test_it_explains_that_harden_is_for_postgresql() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("SQLite message")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("audit", "harden")
