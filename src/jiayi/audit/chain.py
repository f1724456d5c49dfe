"""The audit hash chain: h_i = SHA-256(h_{i-1} ‖ canonical(entry_i)). Pure functions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(fields: Mapping[str, Any]) -> bytes:
    """A byte form of an entry that does not depend on dict order or whitespace."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def link(previous_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(previous_hash.encode() + b"|" + canonical(fields)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first entry whose stored hashes disagree with the chain."""

    entry_id: int
    reason: str


def verify(
    entries: Iterable[tuple[int, str, str, Mapping[str, Any]]], *, start: str = GENESIS
) -> ChainBreak | None:
    """Check (id, prev_hash, hash, fields) tuples in id order; return the first break or None.

    `start` is the hash the first entry must link to: the genesis value, or after a retention purge
    the hash of the last purged entry (which the purge marker, itself chained, vouches for)."""
    expected_prev = start
    for entry_id, prev_hash, stored_hash, fields in entries:
        if prev_hash != expected_prev:
            return ChainBreak(entry_id, "previous-hash link does not match the entry before it")
        if link(prev_hash, fields) != stored_hash:
            return ChainBreak(entry_id, "entry content does not match its hash")
        expected_prev = stored_hash
    return None
