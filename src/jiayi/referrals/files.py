"""Files sent with a referral (转诊附件): what is accepted, and where the bytes are kept.

The type of a file is decided by its first bytes, never by its name or the browser's claim: a PDF,
a JPEG or a PNG, nothing else (an HTML page renamed `.pdf` is refused). The bytes are kept in a
private storage under the data directory (`JIAYI_ATTACHMENT_DIR`, by default `var/attachments`),
which no URL serves: they are read back only through the access-checked, audited download views.
Stored names are random, so one file's name says nothing about another's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils import timezone

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
EXTENSIONS: dict[str, str] = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
LABELS: dict[str, str] = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG"}
SNIFF_BYTES = 16
DEFAULT_MAX_MB = 10
# How many files one referral carries at most; a referral is read by a person, not archived.
MAX_FILES_PER_REFERRAL = 10
NAME_MAX_LENGTH = 200


def sniff(head: bytes) -> str | None:
    """The media type the file's first bytes prove, or None when they prove none we accept.

    PDF: `%PDF-` and a version digit; JPEG: the SOI marker followed by another marker; PNG: the
    8-byte signature followed by the IHDR chunk, which the format requires first.
    """
    if head.startswith(b"%PDF-") and head[5:6].isdigit():
        return PDF
    if head.startswith(b"\xff\xd8\xff") and len(head) >= 4:
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return PNG
    return None


def max_bytes() -> int:
    """The largest file accepted, from `JIAYI_ATTACHMENT_MAX_MB` (10 MB by default)."""
    return int(getattr(settings, "JIAYI_ATTACHMENT_MAX_MB", DEFAULT_MAX_MB)) * 1024 * 1024


def max_megabytes() -> int:
    return int(getattr(settings, "JIAYI_ATTACHMENT_MAX_MB", DEFAULT_MAX_MB))


def display_name(name: str) -> str:
    """The uploaded file's own name as readers see it: no directories, no control characters."""
    base = Path(name.replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:NAME_MAX_LENGTH] or "attachment"


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """An upload that passed the checks: its proven type, size and SHA-256."""

    content_type: str
    size: int
    sha256: str


class AttachmentStorage(FileSystemStorage):
    """The private file storage of referral attachments. Its location follows the setting at use, so
    a test or a deployment moving `JIAYI_ATTACHMENT_DIR` moves it; it has no public URL."""

    def __init__(self) -> None:
        super().__init__(base_url=None)

    @property  # type: ignore[override]
    def base_location(self) -> str:
        return str(settings.JIAYI_ATTACHMENT_DIR)

    @property  # type: ignore[override]
    def location(self) -> str:
        return str(Path(self.base_location).resolve())

    def url(self, name: str | None) -> str:
        raise NotImplementedError("referral attachments have no public URL; use the download view")


_storage = AttachmentStorage()


def attachment_storage() -> AttachmentStorage:
    return _storage


def storage_name(instance: Any, filename: str) -> str:
    """A random path by month, with the extension of the proven type (never the uploaded name's)."""
    extension = EXTENSIONS.get(getattr(instance, "content_type", ""), "")
    return f"referrals/{timezone.now():%Y/%m}/{secrets.token_urlsafe(24)}{extension}"
