"""Background tasks run on both backends: the database-backed worker (the embedded default) and Redis
through RQ (production), the latter against the Redis server of the machine running the tests."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django_tasks import task
from django_tasks.base import TaskResultStatus

from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place
from jiayi.reports import data, services
from jiayi.reports.models import IssuedReport, ReportStatus
from jiayi.reports.tasks import generate_report
from tests.conftest import ensure_district

# The workers run in this process and close the database connection after each task, as workers should;
# so the tests commit their data instead of running inside a transaction that would be lost.
pytestmark = pytest.mark.django_db(transaction=True)


@task()
def weighted_sum(values: list[int], weight: int) -> int:
    return sum(values) * weight


def _redis_or_skip() -> None:
    """Redis is required in CI (the machine runs it); elsewhere its absence skips, visibly."""
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {settings.REDIS_URL} is unreachable in CI: {exc}")
        pytest.skip(f"no Redis at {settings.REDIS_URL}")


def test_the_database_worker_runs_an_enqueued_task(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": settings.TASK_BACKENDS["db"], "QUEUES": ["default"]}}
    result = weighted_sum.enqueue([1, 2, 3], 7)
    assert result.status == TaskResultStatus.READY

    call_command("db_worker", "--batch", verbosity=0)

    result.refresh()
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 42)


def test_redis_runs_an_enqueued_task_and_a_report_generation(settings: Any) -> None:
    _redis_or_skip()
    settings.TASKS = {"default": {"BACKEND": settings.TASK_BACKENDS["redis"], "QUEUES": ["default"]}}
    ensure_district()  # committed tables are flushed between tests; the district may be gone
    district = data.district_scope(Place.objects.get(level=PlaceLevel.DISTRICT))
    report = services.do_request_report(
        None, kind="signing_analysis", year=2025, quarter=None, scope=district, formats=["xlsx"]
    )

    arithmetic = weighted_sum.enqueue([4, 5], 2)
    generation = generate_report.enqueue(report.pk)
    # A burst worker in this process (no fork), so it shares the test database connection settings.
    # django-tasks-rq's job class runs the Task objects; RQ's own would try to call them.
    call_command(
        "rqworker",
        "default",
        "--burst",
        "--worker-class",
        "rq.worker.SimpleWorker",
        "--job-class",
        "django_tasks_rq.backend.Job",
    )

    arithmetic.refresh()
    generation.refresh()
    assert (arithmetic.status, arithmetic.return_value) == (TaskResultStatus.SUCCESSFUL, 18)
    assert generation.status == TaskResultStatus.SUCCESSFUL
    assert IssuedReport.objects.get(pk=report.pk).status == ReportStatus.DONE
