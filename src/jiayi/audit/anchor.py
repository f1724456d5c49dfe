"""Signed checkpoints of the audit chain, kept outside the database.

An anchor records the id and hash of the newest entry and is signed with HMAC-SHA256 under a key the
database never sees (JIAYI_AUDIT_ANCHOR_KEY). Someone who can rewrite the whole table can recompute
every hash, but cannot produce a log that still contains an anchored entry they removed or changed, nor
forge a new anchor. Copy anchor files off the server (the point of RFC 6962-style checkpoints).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Anchor:
    entry_id: int
    hash: str
    count: int
    created_at: str

    def payload(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


class AnchorError(ValueError):
    """The anchor file is unreadable or its signature does not verify."""


def sign(anchor: Anchor, key: str) -> str:
    return hmac.new(key.encode(), anchor.payload(), hashlib.sha256).hexdigest()


def write(anchor: Anchor, key: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"anchor": asdict(anchor), "algorithm": "HMAC-SHA256", "signature": sign(anchor, key)}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def read(path: Path, key: str) -> Anchor:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        anchor = Anchor(**document["anchor"])
        signature = str(document["signature"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AnchorError(f"cannot read anchor {path}: {error}") from error
    if not hmac.compare_digest(sign(anchor, key), signature):
        raise AnchorError(f"anchor {path} has a bad signature")
    return anchor
