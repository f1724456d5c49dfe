from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from jiayi.crypto import cipher, keys


def _key(byte: int, version: int = 1) -> str:
    return f"{version}:" + base64.b64encode(bytes([byte]) * 64).decode("ascii")


def test_a_key_parses_with_and_without_its_version() -> None:
    plain = base64.b64encode(bytes(64)).decode("ascii")
    assert keys.parse_key(plain, source="test").version == 1
    assert keys.parse_key("7:" + plain, source="test").version == 7
    urlsafe = base64.urlsafe_b64encode(bytes([251]) * 64).decode("ascii").rstrip("=")
    assert keys.parse_key(urlsafe, source="test").version == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1:" + base64.b64encode(bytes(32)).decode(), "must be 64 bytes"),
        ("1:not base64!", "not base64"),
        ("x:" + base64.b64encode(bytes(64)).decode(), "positive number"),
        ("0:" + base64.b64encode(bytes(64)).decode(), "positive number"),
    ],
)
def test_a_malformed_key_is_refused_naming_its_source(text: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message) as raised:
        keys.parse_key(text, source="JIAYI_FIELD_KEY")
    assert "JIAYI_FIELD_KEY" in str(raised.value)


def test_two_keys_with_one_version_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="two keys have version 1"):
        keys.build_keyring([_key(1), _key(2)], "test")


def test_without_any_key_reading_fails_with_a_clear_error(settings: Any, tmp_path: Path) -> None:
    settings.JIAYI_FIELD_KEY = ""
    settings.JIAYI_FIELD_KEY_FILE = str(tmp_path / "missing.key")
    with pytest.raises(ImproperlyConfigured, match="No field-encryption key: set JIAYI_FIELD_KEY"):
        cipher.encrypt("13800138000", "phone")


def test_the_local_key_file_is_made_once_and_then_used(settings: Any, tmp_path: Path) -> None:
    settings.JIAYI_FIELD_KEY = ""
    settings.JIAYI_FIELD_KEY_FILE = str(tmp_path / "var" / "field.key")
    created = keys.ensure_local_key()
    assert created == tmp_path / "var" / "field.key"
    assert created.stat().st_mode & 0o777 == 0o600
    token = cipher.encrypt("13800138000", "phone")
    assert keys.ensure_local_key() is None  # kept, not replaced
    keys.forget_keyring()
    assert cipher.decrypt(token, "phone") == "13800138000"


def test_a_configured_key_means_no_local_key_file(settings: Any, tmp_path: Path) -> None:
    settings.JIAYI_FIELD_KEY_FILE = str(tmp_path / "field.key")
    assert keys.ensure_local_key() is None
    assert not (tmp_path / "field.key").exists()


def test_new_keys_are_random_and_valid() -> None:
    first, second = keys.generate_key(3), keys.generate_key(3)
    assert first != second
    assert keys.parse_key(first, source="test").version == 3


def test_the_empty_value_needs_no_key(settings: Any, tmp_path: Path) -> None:
    # Migrations compile the constraints' `alt_id_number <> ''` before any key exists.
    settings.JIAYI_FIELD_KEY = ""
    settings.JIAYI_FIELD_KEY_FILE = str(tmp_path / "missing.key")
    assert cipher.encrypt("", "alt_id_number") == ""
