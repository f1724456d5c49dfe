"""`jiayi audit verify` finds the first bad entry for every kind of tampering (C4)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from jiayi.audit import services
from jiayi.audit.immutability import unlocked
from jiayi.audit.models import Action, AuditEntry

pytestmark = pytest.mark.django_db


def _append(n: int) -> list[AuditEntry]:
    return [
        services.record(action=Action.READ, resource_type="resident", resource_id=i, resident_id=i)
        for i in range(n)
    ]


def _verify(*args: str) -> str:
    out = StringIO()
    call_command("audit", "verify", *args, stdout=out)
    return out.getvalue()


def _broken_at(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        _verify(*args)
    return str(error.value)


def test_it_passes_an_untouched_log() -> None:
    _append(5)
    assert "intact" in _verify()


def test_it_names_an_entry_edited_in_the_database() -> None:
    entries = _append(6)
    with unlocked():
        AuditEntry.objects.filter(pk=entries[2].pk).update(actor_name="mallory")
    message = _broken_at()
    assert f"#{entries[2].pk}:" in message
    assert "content does not match" in message


def test_it_names_the_entry_after_a_deleted_row() -> None:
    entries = _append(6)
    with unlocked():
        AuditEntry.objects.filter(pk=entries[3].pk).delete()
    message = _broken_at()
    assert f"#{entries[4].pk}:" in message
    assert "previous-hash link" in message


def test_it_names_the_first_of_two_swapped_rows() -> None:
    entries = _append(6)
    columns = [f.attname for f in AuditEntry._meta.concrete_fields if f.attname != "id"]
    first, second = (
        AuditEntry.objects.filter(pk=entries[1].pk).values(*columns).get(),
        AuditEntry.objects.filter(pk=entries[4].pk).values(*columns).get(),
    )
    with unlocked():
        # Unique hashes: park one row's hash while the two trade places.
        AuditEntry.objects.filter(pk=entries[1].pk).update(hash="x" * 64)
        AuditEntry.objects.filter(pk=entries[4].pk).update(**first)
        AuditEntry.objects.filter(pk=entries[1].pk).update(**second)
    assert f"#{entries[1].pk}:" in _broken_at()


def test_it_names_a_truncated_tail_against_a_signed_anchor(tmp_path: Path) -> None:
    entries = _append(6)
    call_command("audit", "anchor", "--dir", str(tmp_path), stdout=StringIO())
    (anchor_file,) = tmp_path.glob("*.json")
    assert "intact" in _verify("--anchor", str(anchor_file))
    with unlocked():
        AuditEntry.objects.filter(pk__gte=entries[3].pk).delete()
    # The remaining chain is self-consistent; only the anchor shows the missing tail.
    assert "intact" in _verify()
    message = _broken_at("--anchor", str(anchor_file))
    assert f"#{entries[-1].pk}:" in message
    assert f"ends at #{entries[2].pk}" in message


def test_it_rejects_an_anchor_with_a_forged_signature(tmp_path: Path) -> None:
    _append(2)
    call_command("audit", "anchor", "--dir", str(tmp_path), stdout=StringIO())
    (anchor_file,) = tmp_path.glob("*.json")
    anchor_file.write_text(anchor_file.read_text().replace('"count": ', '"count": 1'))
    assert "bad signature" in _broken_at("--anchor", str(anchor_file))


def test_it_exits_non_zero_from_the_command_line() -> None:
    entries = _append(3)
    with unlocked():
        AuditEntry.objects.filter(pk=entries[1].pk).update(purpose="edited")
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["jiayi", "audit", "verify"])
    assert exit_info.value.code != 0
