"""`jiayi backup` / `jiayi restore` round trip (G4): what was there at the backup is there again after
the restore, row for row, what was written since is gone, and the audit chain verifies."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jiayi.audit import services
from jiayi.audit.models import Action, AuditEntry
from jiayi.registry.models import Household, Resident
from tests.conftest import ensure_district

pytestmark = pytest.mark.django_db(transaction=True)


def _counts() -> dict[str, int]:
    return {
        "residents": Resident.objects.count(),
        "households": Household.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def test_a_backup_restores_the_same_rows_and_a_verifying_audit_chain(tmp_path: Path) -> None:
    ensure_district()
    services.record(action=Action.READ, resource_type="resident", resource_id="before-backup")
    before = _counts()
    last_hash = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
    out = tmp_path / "jiayi.backup"

    written = StringIO()
    call_command("backup", out=out, stdout=written)
    assert out.stat().st_size > 0
    assert "backup written" in written.getvalue()

    # Changes after the backup: a new resident's worth of audit and one resident fewer.
    services.record(action=Action.READ, resource_type="resident", resource_id="after-backup")
    Resident.objects.filter(pk=Resident.objects.order_by("-pk").values_list("pk", flat=True)[0]).delete()
    assert _counts() != before

    restored = StringIO()
    call_command("restore", str(out), yes=True, stdout=restored)

    assert _counts() == before
    assert AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first() == last_hash
    assert not AuditEntry.objects.filter(resource_id="after-backup").exists()
    assert services.verify_chain() is None
    assert "audit log intact" in restored.getvalue()


def test_it_refuses_a_file_that_is_not_a_backup_and_changes_nothing(tmp_path: Path) -> None:
    ensure_district()
    before = _counts()
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database", encoding="utf-8")
    with pytest.raises(CommandError, match=r"notes\.txt: not .*nothing was restored"):
        call_command("restore", str(bogus), yes=True)
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore", str(tmp_path / "missing.backup"), yes=True)
    assert _counts() == before


def test_it_does_not_overwrite_an_existing_file(tmp_path: Path) -> None:
    existing = tmp_path / "jiayi.backup"
    existing.write_bytes(b"keep me")
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", out=existing)
    assert existing.read_bytes() == b"keep me"
