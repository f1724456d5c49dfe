"""E4: ID numbers, phones and diagnosis text are ciphertext in the database and plain text in the ORM."""

from __future__ import annotations

import base64
import re
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from jiayi.crypto import cipher
from jiayi.crypto.reencrypt import encrypt_plain_columns, table_of
from jiayi.records.models import Condition
from jiayi.registry.models import Institution, Resident

CITIZEN_ID = re.compile(r"\d{17}[\dXx]")
MOBILE = re.compile(r"1[3-9]\d{9}")
NEW_KEY = "2:" + base64.b64encode(bytes([42]) * 64).decode("ascii")

pytestmark = pytest.mark.django_db


def _raw_rows(table: str) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return list(cursor.fetchall())


def _raw(table: str, column: str, pk: int) -> str | None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(table)} WHERE id = %s", [pk])  # noqa: S608
        value = cursor.fetchone()[0]
    return None if value is None else str(value)


def test_a_raw_read_of_the_residents_table_shows_no_id_number_or_phone() -> None:
    rows = _raw_rows(Resident._meta.db_table)
    assert len(rows) >= 600
    text = "\n".join("|".join(str(v) for v in row) for row in rows)
    assert not CITIZEN_ID.search(text)
    assert not MOBILE.search(text)
    # The staff table holds licence numbers long enough to contain a phone-like run: check the column.
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM registry_staff")
        phones = [str(value) for (value,) in cursor.fetchall()]
    assert all(value == "" or value.startswith("v1:") for value in phones)


def test_the_orm_reads_plain_values_that_are_ciphertext_in_the_table() -> None:
    resident = Resident.objects.filter(citizen_id__isnull=False).exclude(phone="").first()
    assert resident is not None
    assert resident.citizen_id is not None
    assert CITIZEN_ID.fullmatch(resident.citizen_id)
    assert MOBILE.fullmatch(resident.phone)
    stored = _raw(Resident._meta.db_table, "citizen_id", resident.pk)
    assert stored is not None
    assert stored.startswith("v1:")
    assert resident.citizen_id not in stored
    assert cipher.decrypt(stored, "citizen_id") == resident.citizen_id


def _diagnoses(texts: list[str]) -> list[Condition]:
    residents = list(Resident.objects.order_by("id")[: len(texts)])
    institution = Institution.objects.order_by("id").first()
    assert institution is not None
    now = timezone.now()
    return [
        Condition.objects.create(
            resident=resident,
            institution=institution,
            source_system="test-his",
            source_id=f"dx-{n}",
            received_at=now,
            code="I10",
            display=text,
        )
        for n, (resident, text) in enumerate(zip(residents, texts, strict=True))
    ]


def test_diagnosis_text_is_ciphertext_and_equal_texts_do_not_look_equal() -> None:
    _diagnoses(["原发性高血压", "原发性高血压", "2型糖尿病"])
    conditions = list(Condition.objects.exclude(display="").order_by("id"))
    assert len(conditions) >= 3
    by_text: dict[str, list[str]] = {}
    for condition in conditions:
        stored = _raw(Condition._meta.db_table, "display", condition.pk)
        assert stored is not None
        assert stored.startswith("v1:")
        assert condition.display not in stored
        by_text.setdefault(condition.display, []).append(stored)
        assert _raw(Condition._meta.db_table, "code", condition.pk) == condition.code  # the code stays plain
    repeated = [tokens for tokens in by_text.values() if len(tokens) > 1]
    assert repeated, "the district repeats diagnosis texts"
    assert all(len(set(tokens)) == len(tokens) for tokens in repeated)


def test_equality_lookups_work_and_partial_ones_are_refused() -> None:
    resident = Resident.objects.filter(citizen_id__isnull=False).exclude(phone="").first()
    assert resident is not None
    assert resident.citizen_id is not None
    assert list(Resident.objects.filter(citizen_id=resident.citizen_id)) == [resident]
    assert resident in Resident.objects.filter(phone=resident.phone)
    found = Resident.objects.filter(citizen_id__in=[resident.citizen_id, "110105194912310021", None])
    assert list(found) == [resident]
    assert not Resident.objects.filter(citizen_id="110105194912310021").exists()
    assert Resident.objects.filter(phone="").count() == _count_empty_phones()
    with pytest.raises(FieldError):
        Resident.objects.filter(citizen_id__startswith=resident.citizen_id[:6])
    with pytest.raises(FieldError):
        Resident.objects.filter(phone__endswith=resident.phone[-4:])
    with pytest.raises(FieldError, match="random nonce"):
        Condition.objects.filter(display="高血压")


def _count_empty_phones() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM registry_resident WHERE phone = ''")
        return int(cursor.fetchone()[0])


def test_a_new_resident_and_an_update_are_stored_encrypted() -> None:
    resident = Resident.objects.exclude(phone="").first()
    assert resident is not None
    Resident.objects.filter(pk=resident.pk).update(phone="13912345678")
    stored = _raw(Resident._meta.db_table, "phone", resident.pk)
    assert stored is not None
    assert "13912345678" not in stored
    resident.refresh_from_db()
    assert resident.phone == "13912345678"
    assert resident.masked_phone == "139****5678"


def test_the_wrong_key_gives_an_error_naming_the_field(settings: Any) -> None:
    settings.JIAYI_FIELD_KEY = "1:" + base64.b64encode(bytes([9]) * 64).decode("ascii")
    with pytest.raises(
        cipher.DecryptionError, match=r"registry\.Resident\.citizen_id: .*wrong JIAYI_FIELD_KEY"
    ):
        list(Resident.objects.filter(citizen_id__isnull=False)[:1])


def test_plain_values_left_in_a_table_are_encrypted_by_the_migration_step() -> None:
    from django.apps import apps

    resident = Resident.objects.filter(citizen_id__isnull=False).exclude(phone="").first()
    assert resident is not None
    assert resident.citizen_id is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registry_resident SET citizen_id = %s, phone = %s WHERE id = %s",
            [resident.citizen_id, resident.phone, resident.pk],
        )
    with pytest.raises(cipher.DecryptionError, match="not encrypted"):
        Resident.objects.get(pk=resident.pk)
    encrypt_plain_columns(
        apps, "registry.Resident", ["citizen_id", "alt_id_number", "phone"], using="default"
    )
    assert Resident.objects.get(pk=resident.pk).citizen_id == resident.citizen_id
    assert _raw(Resident._meta.db_table, "citizen_id", resident.pk) == cipher.encrypt(
        resident.citizen_id, "citizen_id"
    )


def test_rotation_keeps_lookups_working_and_moves_every_value_to_the_new_key(
    settings: Any,
) -> None:
    resident = Resident.objects.filter(citizen_id__isnull=False).exclude(phone="").first()
    assert resident is not None
    assert resident.citizen_id is not None
    (condition,) = _diagnoses(["原发性高血压 Essential hypertension"])
    settings.JIAYI_FIELD_OLD_KEYS = settings.JIAYI_FIELD_KEY
    settings.JIAYI_FIELD_KEY = NEW_KEY
    # Before the rotation ran: old-key rows are still found by value.
    assert Resident.objects.get(citizen_id=resident.citizen_id) == resident
    assert Resident.objects.filter(citizen_id__in=[resident.citizen_id]).get() == resident
    out = StringIO()
    call_command("crypto", "rotate", "--batch", "250", stdout=out)
    assert "registry.Resident" in out.getvalue()
    assert "re-encrypted" in out.getvalue()
    assert _raw(Resident._meta.db_table, "citizen_id", resident.pk).startswith("v2:")  # type: ignore[union-attr]
    assert _raw(Condition._meta.db_table, "display", condition.pk).startswith("v2:")  # type: ignore[union-attr]
    status = StringIO()
    call_command("crypto", "status", stdout=status)
    assert "v1:" not in status.getvalue()
    # Without the old key, everything still reads.
    settings.JIAYI_FIELD_OLD_KEYS = ""
    assert Resident.objects.get(citizen_id=resident.citizen_id).phone == resident.phone
    assert Condition.objects.get(pk=condition.pk).display == condition.display
    table = table_of(Resident, ["citizen_id"])
    assert table.columns[0].purpose == "citizen_id"


def test_rotation_without_the_old_key_stops_naming_the_row(settings: Any) -> None:
    settings.JIAYI_FIELD_KEY = NEW_KEY
    with pytest.raises(Exception, match=r"encrypted with key version 1, which is not configured"):
        call_command("crypto", "rotate", stdout=StringIO())
