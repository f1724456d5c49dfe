"""The district generator's bulk writer encrypts as the ORM would, and reproducibly."""

from __future__ import annotations

from jiayi.crypto import cipher
from jiayi.records.models import Condition
from jiayi.registry.models import Resident
from jiayi.synth.writer import _encrypter


def test_identifier_columns_are_encrypted_like_the_orm_does() -> None:
    encrypt = _encrypter(Resident, ["id", "citizen_id", "alt_id_number", "phone", "name"])
    assert encrypt is not None
    ((pk, citizen_id, alt, phone, name),) = encrypt([(1, "11010519491231002X", "", "13800138000", "张伟")])
    assert (pk, alt, name) == (1, "", "张伟")
    assert citizen_id == cipher.encrypt("11010519491231002X", "citizen_id")
    assert cipher.decrypt(phone, "phone") == "13800138000"


def test_diagnosis_text_differs_between_rows_and_repeats_between_runs() -> None:
    encrypt = _encrypter(Condition, ["id", "code", "display"])
    assert encrypt is not None
    rows = [(1, "I10", "原发性高血压"), (2, "I10", "原发性高血压")]
    first, second = encrypt(rows), encrypt(rows)
    assert first == second  # same seed, same bytes
    assert first[0][2] != first[1][2]  # equal texts still look different
    assert cipher.decrypt(first[1][2], "diagnosis_text", deterministic=False) == "原发性高血压"


def test_a_table_without_encrypted_columns_is_left_alone() -> None:
    assert _encrypter(Condition, ["id", "code"]) is None
