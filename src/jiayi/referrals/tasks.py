"""Background tasks of referrals (django-tasks), for a scheduler to enqueue every hour."""

from __future__ import annotations

from django_tasks import task

from jiayi.referrals import services


@task()
def release_reserved_slots() -> int:
    """Release unused reserved slots inside their hospital's lead time; returns how many."""
    return services.do_release_reserved_slots().released
