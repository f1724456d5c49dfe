"""The worklist (工作清单) of a family doctor and their team: who needs what, today.

Care builds its own items (follow-ups, assessments, elderly exams, quarterly contacts, renewals). Other
apps add theirs by registering a source from their `AppConfig.ready()`, so care never imports them::

    from jiayi.care.worklist import WorklistItem, register_worklist_source

    def referral_items(staff: Staff, today: date) -> Iterable[WorklistItem]: ...

    register_worklist_source(referral_items)

A source receives the doctor (`registry.Staff`) and the day, and yields the items of that doctor's
signed panel that need action; it must not leak residents outside that panel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jiayi.registry.models import Staff


@dataclass(frozen=True, slots=True)
class WorklistItem:
    """One thing to do for one resident.

    `kind` is a short stable code ("follow_up", "referral_awaiting", …); `priority` sorts within the same
    due bucket, lower first; `high_risk` puts the item at the top of its list; `url` is where the action
    is done.
    """

    kind: str
    resident_id: int
    due_on: date
    title: str
    priority: int
    url: str
    high_risk: bool


WorklistSource = Callable[["Staff", date], Iterable[WorklistItem]]

_SOURCES: list[WorklistSource] = []


def register_worklist_source(fn: WorklistSource) -> None:
    """Add a source of worklist items; registering the same function twice keeps one."""
    if fn not in _SOURCES:
        _SOURCES.append(fn)


def unregister_worklist_source(fn: WorklistSource) -> None:
    """Remove a source (tests use it to undo a registration)."""
    if fn in _SOURCES:
        _SOURCES.remove(fn)


def worklist_sources() -> tuple[WorklistSource, ...]:
    """The registered sources, in registration order."""
    return tuple(_SOURCES)
