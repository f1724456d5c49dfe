"""Background tasks of health management (django-tasks)."""

from __future__ import annotations

from django_tasks import task

from jiayi.care import report
from jiayi.care.models import ReportBatch


@task()
def generate_centre_reports(batch_id: int) -> int:
    """Generate the yearly reports of a centre's batch; returns how many were generated."""
    batch = ReportBatch.objects.get(pk=batch_id)
    return report.run_batch(batch).done
