"""Which residents a fact computation covers: a list (the hooks' few residents) or an id range (the
rebuild's chunks, which the database reads by index range instead of a long IN list)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResidentScope:
    ids: Sequence[int] | None = None
    low: int = 0
    high: int = 0

    def of(self, field: str = "resident_id") -> dict[str, Any]:
        """Filter keywords selecting the scope's residents through `field`."""
        if self.ids is not None:
            return {f"{field}__in": list(self.ids)}
        return {f"{field}__gte": self.low, f"{field}__lte": self.high}
