"""The archive of issued reports (已发布报告) and their files, with the progress of their generation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jiayi.reports.kinds import KINDS, ReportKind


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "排队中 Queued"
    RUNNING = "running", "生成中 Running"
    DONE = "done", "已完成 Done"
    FAILED = "failed", "失败 Failed"


class ScopeLevel(models.TextChoices):
    DISTRICT = "district", "区 District"
    CENTRE = "centre", "社区卫生服务中心 Centre"


class IssuedReport(models.Model):
    """One generation of a report for a period and scope. Reports are never overwritten: issuing the same
    report again adds a new version to the archive."""

    kind = models.CharField(max_length=32, choices=[(kind.value, KINDS[kind].title) for kind in ReportKind])
    year = models.PositiveSmallIntegerField()
    quarter = models.PositiveSmallIntegerField(null=True, blank=True)
    scope_level = models.CharField(max_length=12, choices=ScopeLevel.choices)
    scope_id = models.PositiveIntegerField()
    scope_name = models.CharField(max_length=100)
    as_of = models.DateField()
    formats = models.JSONField(default=list)
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    status = models.CharField(max_length=8, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    steps_total = models.PositiveSmallIntegerField(default=1)
    steps_done = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=60, blank=True)
    error = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["scope_level", "scope_id", "kind", "year"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(quarter__isnull=True) | Q(quarter__gte=1, quarter__lte=4),
                name="report_quarter_1_4",
            ),
            models.CheckConstraint(
                condition=Q(steps_done__lte=models.F("steps_total")), name="report_progress_bounded"
            ),
        ]

    def __str__(self) -> str:
        quarter = f" Q{self.quarter}" if self.quarter else ""
        return f"{self.get_kind_display()} {self.year}{quarter} ({self.scope_name})"

    @property
    def title(self) -> str:
        return KINDS[ReportKind(self.kind)].title

    @property
    def percent_done(self) -> int:
        return round(100 * self.steps_done / self.steps_total) if self.steps_total else 0


class ReportFile(models.Model):
    report = models.ForeignKey(IssuedReport, on_delete=models.CASCADE, related_name="files")
    file_format = models.CharField(max_length=4)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "file_format"], name="report_one_file_per_format")
        ]

    def __str__(self) -> str:
        return f"{self.report_id}.{self.file_format}"
