"""Background building of indicator periods (django-tasks).

A year-to-date period at a past month end is built once (about seven minutes for a million residents
on PostgreSQL) and kept current from then on; the monthly trend asks for it here instead of making a
page request wait for it."""

from __future__ import annotations

from datetime import date

from django_tasks import task

from jiayi.indicators import facts


@task()
def build_period(kind: str, as_of: str) -> int:
    """Build (kind, as_of) unless it is already kept; returns the period's id."""
    return facts.ensure_period(kind, date.fromisoformat(as_of)).pk
