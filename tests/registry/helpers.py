"""Small helpers shared by the registry tests."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from django.db.models import QuerySet

from jiayi.audit.models import AuditEntry
from jiayi.registry import identity
from jiayi.registry.models import Resident

# Anything that looks like a full citizen ID or mainland mobile number (security.md E2).
UNMASKED = re.compile(r"\d{17}[\dXx]|1[3-9]\d{9}")
BIRTH = date(1949, 12, 31)


def assert_nothing_unmasked(content: bytes | str) -> None:
    text = content.decode() if isinstance(content, bytes) else content
    # JSON escapes non-ASCII text; decode it so a full-width or escaped number cannot slip past.
    if text.startswith(("{", "[")):
        text = json.dumps(json.loads(text), ensure_ascii=False)
    found = UNMASKED.findall(text)
    assert not found, f"unmasked identifiers in the response: {len(found)}"


def unused_citizen_id(birth: date = BIRTH, *, female: bool = True, region: str = "110105") -> str:
    """A valid citizen ID nobody in the database holds."""
    for sequence in range(0 if female else 1, 1000, 2):
        number = identity.make_citizen_id(region, birth, sequence)
        if not Resident.objects.filter(citizen_id=number).exists():
            return number
    raise AssertionError("no free sequence number left")


def new_resident(committee_id: int, **overrides: Any) -> dict[str, Any]:
    """Data of a valid new resident (female, born 1949-12-31) in a committee."""
    data: dict[str, Any] = {
        "name": "王秀英",
        "sex": "female",
        "birth_date": BIRTH,
        "citizen_id": unused_citizen_id(),
        "phone": "13812345678",
        "committee_id": committee_id,
        "is_resident": True,
        "is_registered": False,
    }
    data.update(overrides)
    return data


def as_json(data: dict[str, Any]) -> str:
    return json.dumps(data, default=str)


def audit_entries(**filters: Any) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(**filters).order_by("id")
