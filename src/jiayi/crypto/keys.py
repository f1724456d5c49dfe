"""The key ring for field encryption: one current key that encrypts, older keys that still decrypt.

A key is 64 random bytes (AES-256-SIV takes two 256-bit halves), written as base64, optionally preceded by
its version number: `2:q83v…`. Without a number a key is version 1. Keys come from the environment
(`JIAYI_FIELD_KEY`, and `JIAYI_FIELD_OLD_KEYS` comma-separated while a rotation runs) or, failing that, from
the key file (`JIAYI_FIELD_KEY_FILE`, one key per line, the first encrypts), which `jiayi demo` and
`jiayi synth` create for a laptop district. The key is held apart from SECRET_KEY and from the database:
a stolen database dump without it reads as ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEY_BYTES = 64


@dataclass(frozen=True)
class FieldKey:
    version: int
    cipher: AESSIV


@dataclass(frozen=True)
class KeyRing:
    current: FieldKey
    by_version: dict[int, FieldKey]

    @property
    def versions(self) -> list[int]:
        """Every version that decrypts, the current one first."""
        return [self.current.version, *sorted(v for v in self.by_version if v != self.current.version)]


def parse_key(text: str, *, source: str) -> FieldKey:
    """`[version:]base64` → a key; a malformed key is an ImproperlyConfigured naming where it came from."""
    text = text.strip()
    version = 1
    if ":" in text:
        number, _, text = text.partition(":")
        if not number.isdigit() or int(number) < 1:
            raise ImproperlyConfigured(f"{source}: the key version before ':' must be a positive number")
        version = int(number)
    try:
        standard = text.replace("-", "+").replace("_", "/")
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{source}: the key is not base64") from None
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(
            f"{source}: the key must be {KEY_BYTES} bytes (base64 of 64 random bytes), not {len(raw)}; "
            "make one with `jiayi crypto new-key`"
        )
    return FieldKey(version, AESSIV(raw))


def generate_key(version: int = 1) -> str:
    """A new random key in the form the settings take."""
    encoded = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
    return f"{version}:{encoded}"


def key_file() -> Path:
    return Path(str(getattr(settings, "JIAYI_FIELD_KEY_FILE", "") or Path(settings.DATA_DIR) / "field.key"))


def _configured_keys() -> tuple[list[str], str]:
    current = str(getattr(settings, "JIAYI_FIELD_KEY", "") or "").strip()
    if current:
        old = str(getattr(settings, "JIAYI_FIELD_OLD_KEYS", "") or "")
        return [current, *(k for k in old.split(",") if k.strip())], "JIAYI_FIELD_KEY"
    path = key_file()
    if path.is_file():
        lines = [line.strip() for line in path.read_text(encoding="ascii").splitlines()]
        return [line for line in lines if line and not line.startswith("#")], str(path)
    raise ImproperlyConfigured(
        "No field-encryption key: set JIAYI_FIELD_KEY (base64 of 64 random bytes, e.g. from "
        f"`jiayi crypto new-key`) or provide the key file {path}. ID numbers, phones and diagnoses are "
        "encrypted at rest and cannot be read or written without it."
    )


def build_keyring(texts: list[str], source: str) -> KeyRing:
    if not texts:
        raise ImproperlyConfigured(f"{source}: no key given")
    keys = [parse_key(text, source=source) for text in texts]
    by_version: dict[int, FieldKey] = {}
    for key in keys:
        if key.version in by_version:
            raise ImproperlyConfigured(f"{source}: two keys have version {key.version}")
        by_version[key.version] = key
    return KeyRing(current=keys[0], by_version=by_version)


_keyring: KeyRing | None = None


def keyring() -> KeyRing:
    global _keyring
    if _keyring is None:
        texts, source = _configured_keys()
        _keyring = build_keyring(texts, source)
    return _keyring


def forget_keyring(**kwargs: Any) -> None:
    """Drop the cached key ring (settings changed, or a rotation swapped keys)."""
    global _keyring
    _keyring = None


def has_key() -> bool:
    try:
        keyring()
    except ImproperlyConfigured:
        return False
    return True


def ensure_local_key() -> Path | None:
    """For a laptop demo or a generated district: create the key file once when no key is configured.

    Returns the file created, or None when a key was already configured. Never used by a deployment,
    which sets JIAYI_FIELD_KEY from its secret store."""
    if str(getattr(settings, "JIAYI_FIELD_KEY", "") or "").strip():
        return None
    path = key_file()
    if path.is_file():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two commands starting together must not each write a different key.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(generate_key() + "\n")
    forget_keyring()
    return path
