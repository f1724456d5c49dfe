from __future__ import annotations

import base64
from typing import Any

import pytest

from jiayi.crypto import cipher


def test_deterministic_values_round_trip_and_repeat() -> None:
    token = cipher.encrypt("11010519491231002X", "citizen_id")
    assert token.startswith("v1:")
    assert "11010519491231002X" not in token
    assert cipher.encrypt("11010519491231002X", "citizen_id") == token
    assert cipher.decrypt(token, "citizen_id") == "11010519491231002X"


def test_the_purpose_is_bound_to_the_ciphertext() -> None:
    token = cipher.encrypt("13800138000", "phone")
    assert cipher.encrypt("13800138000", "citizen_id") != token
    with pytest.raises(cipher.DecryptionError, match="citizen_id: the stored value does not decrypt"):
        cipher.decrypt(token, "citizen_id")


def test_randomised_values_differ_each_time_and_round_trip() -> None:
    first = cipher.encrypt("高血压 Hypertension", "diagnosis_text", deterministic=False)
    second = cipher.encrypt("高血压 Hypertension", "diagnosis_text", deterministic=False)
    assert first != second
    assert cipher.decrypt(first, "diagnosis_text", deterministic=False) == "高血压 Hypertension"


def test_the_empty_string_stays_empty() -> None:
    assert cipher.encrypt("", "phone") == ""
    assert cipher.decrypt("", "phone") == ""


def test_an_altered_ciphertext_is_refused() -> None:
    token = cipher.encrypt("13800138000", "phone")
    body = bytearray(base64.urlsafe_b64decode(token[3:] + "=" * (-len(token[3:]) % 4)))
    body[-1] ^= 1
    altered = "v1:" + base64.urlsafe_b64encode(bytes(body)).decode().rstrip("=")
    with pytest.raises(cipher.DecryptionError, match="wrong JIAYI_FIELD_KEY, or the value was altered"):
        cipher.decrypt(altered, "phone")


def test_plain_text_and_unknown_key_versions_are_named() -> None:
    with pytest.raises(cipher.DecryptionError, match="not encrypted"):
        cipher.decrypt("13800138000", "phone")
    with pytest.raises(cipher.DecryptionError, match="key version 9, which is not configured"):
        cipher.decrypt("v9:AAAA", "phone")


def test_during_a_rotation_every_key_decrypts_and_the_new_one_encrypts(settings: Any) -> None:
    old_token = cipher.encrypt("13800138000", "phone")
    settings.JIAYI_FIELD_OLD_KEYS = settings.JIAYI_FIELD_KEY
    settings.JIAYI_FIELD_KEY = "2:" + base64.b64encode(bytes([7]) * 64).decode()
    assert cipher.decrypt(old_token, "phone") == "13800138000"
    new_token = cipher.encrypt("13800138000", "phone")
    assert new_token.startswith("v2:")
    assert cipher.encrypt_all("13800138000", "phone") == [new_token, old_token]
