"""Retention: at least 185 days, enforced at start-up and by the purge (C2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from jiayi.audit import services
from jiayi.audit.checks import check_audit_retention
from jiayi.audit.models import Action, AuditEntry

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)


def test_it_fails_the_system_check_below_185_days() -> None:
    with override_settings(JIAYI_AUDIT_RETENTION_DAYS=90):
        errors = check_audit_retention()
    assert [e.id for e in errors] == ["jiayi.audit.E001"]
    with override_settings(JIAYI_AUDIT_RETENTION_DAYS=185):
        assert check_audit_retention() == []


def test_it_fails_start_up_commands_below_185_days() -> None:
    with override_settings(JIAYI_AUDIT_RETENTION_DAYS=30), pytest.raises(Exception, match="E001"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


def _entry_at(monkeypatch: pytest.MonkeyPatch, when: datetime, resource_id: str) -> AuditEntry:
    monkeypatch.setattr(services, "_now", lambda: when)
    return services.record(action=Action.READ, resource_type="resident", resource_id=resource_id)


def test_it_refuses_to_purge_inside_the_retention_period(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_at(monkeypatch, NOW - timedelta(days=10), "young")
    monkeypatch.setattr(services, "_now", lambda: NOW)
    before = count = AuditEntry.objects.count()
    with pytest.raises(CommandError, match="kept 185 days"):
        call_command("audit", "purge", "--before", (NOW - timedelta(days=100)).date().isoformat())
    count = AuditEntry.objects.count()
    assert count == before


def test_it_purges_only_old_entries_and_the_rest_still_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    # Everything already in the session's log is older than the frozen "now" below.
    old = _entry_at(monkeypatch, NOW - timedelta(days=400), "old")
    young = _entry_at(monkeypatch, NOW - timedelta(days=30), "young")
    monkeypatch.setattr(services, "_now", lambda: NOW)
    out = StringIO()
    call_command("audit", "purge", "--before", (NOW - timedelta(days=200)).date().isoformat(), stdout=out)
    assert f"through #{old.pk}" in out.getvalue()
    assert not AuditEntry.objects.filter(pk__lte=old.pk).exists()
    assert AuditEntry.objects.filter(pk=young.pk).exists()
    marker = AuditEntry.objects.filter(resource_type=services.PURGE_RESOURCE).latest("id")
    assert marker.detail["purged_through_id"] == old.pk
    assert services.verify_chain() is None
