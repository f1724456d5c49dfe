"""Encrypting and decrypting one value: AES-SIV (RFC 5297), authenticated, with the field's purpose
as associated data.

A stored value reads `v<key version>:<base64url>`. Deterministic fields (ID numbers, phones) give the
same ciphertext for the same value, so the ciphertext is its own keyed blind index: equality lookups,
unique constraints and joins work on it unchanged. Randomised fields (free text nobody looks up) put a
16-byte random nonce before the SIV output, so equal texts do not show as equal. The purpose in the
associated data keeps a ciphertext from one field from being accepted as the value of another.

The empty string is stored as itself: "no phone" is no secret, and constraints such as
`alt_id_number <> ''` must not depend on the key.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag

from jiayi.crypto.keys import FieldKey, keyring

NONCE_BYTES = 16


class DecryptionError(ValueError):
    """A stored value that no configured key decrypts: the wrong key, or a value never encrypted."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encrypt_with(
    key: FieldKey, value: str, purpose: str, *, deterministic: bool = True, nonce: bytes | None = None
) -> str:
    """`nonce` (randomised fields only) replaces the random one: the district generator derives it from
    the row, so the same seed gives the same bytes; it must differ between rows."""
    if value == "":
        return ""
    data = value.encode("utf-8")
    if deterministic:
        sealed = key.cipher.encrypt(data, [purpose.encode("ascii")])
    else:
        nonce = nonce if nonce is not None else secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + key.cipher.encrypt(data, [purpose.encode("ascii"), nonce])
    return f"v{key.version}:{_b64(sealed)}"


def encrypt(value: str, purpose: str, *, deterministic: bool = True) -> str:
    """The value encrypted under the current key."""
    if value == "":
        return ""  # without asking for a key: the constraints compare with '' when tables are made
    return encrypt_with(keyring().current, value, purpose, deterministic=deterministic)


def encrypt_all(value: str, purpose: str) -> list[str]:
    """A deterministic value's ciphertext under every key that decrypts, current first: what an equality
    lookup must match while a rotation has re-encrypted only part of the rows."""
    ring = keyring()
    return [encrypt_with(ring.by_version[v], value, purpose) for v in ring.versions]


def key_version(token: str) -> int | None:
    """The key version a stored value names, or None when it does not look encrypted."""
    head, sep, _ = token.partition(":")
    if not sep or len(head) < 2 or head[0] != "v" or not head[1:].isdigit():
        return None
    return int(head[1:])


def decrypt(token: str, purpose: str, *, deterministic: bool = True) -> str:
    if token == "":
        return ""
    version = key_version(token)
    ring = keyring()
    if version is None:
        raise DecryptionError(f"{purpose}: the stored value is not encrypted (run the migrations)")
    key = ring.by_version.get(version)
    if key is None:
        raise DecryptionError(
            f"{purpose}: the stored value was encrypted with key version {version}, which is not "
            f"configured (configured: {', '.join(map(str, ring.versions))})"
        )
    try:
        sealed = _unb64(token.partition(":")[2])
        if deterministic:
            data = key.cipher.decrypt(sealed, [purpose.encode("ascii")])
        else:
            nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
            data = key.cipher.decrypt(body, [purpose.encode("ascii"), nonce])
    except (InvalidTag, ValueError):
        raise DecryptionError(
            f"{purpose}: the stored value does not decrypt with key version {version} "
            "(wrong JIAYI_FIELD_KEY, or the value was altered)"
        ) from None
    return data.decode("utf-8")
