"""Background generation of reports (django-tasks): the page enqueues, a worker runs, the page polls."""

from __future__ import annotations

from django_tasks import task

from jiayi.reports import services


@task()
def generate_report(report_id: int) -> str:
    """Generate one queued report; returns its final status."""
    return str(services.generate(report_id).status)


@task()
def issue_due_reports() -> list[int]:
    """Daily: queue the reports due today and generate them here, one after the other."""
    return [services.generate(report.pk).pk for report in services.do_issue_due_reports()]
