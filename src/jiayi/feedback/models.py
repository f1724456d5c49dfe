"""Residents' satisfaction surveys (满意度调查) and complaints/feedback (投诉与建议) with their handling."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jiayi.registry.models import Institution, Resident, Staff


class Survey(models.Model):
    """A satisfaction questionnaire run in a period (e.g. 2025 年度签约居民满意度调查)."""

    title = models.CharField(max_length=100)
    year = models.PositiveSmallIntegerField()
    opens_on = models.DateField()
    closes_on = models.DateField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-year", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_on__lte=models.F("closes_on")), name="feedback_survey_dates"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    """A question scored 1 (very dissatisfied) to 5 (very satisfied)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)

    class Meta:
        ordering = ["survey", "order"]
        constraints = [models.UniqueConstraint(fields=["survey", "order"], name="feedback_question_order")]

    def __str__(self) -> str:
        return self.text


class SurveyResponse(models.Model):
    """One resident's answers to a survey, about the centre that serves them."""

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="survey_responses")
    centre = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="survey_responses")
    submitted_at = models.DateTimeField()
    comment = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "resident"], name="feedback_one_response_per_resident")
        ]
        indexes = [models.Index(fields=["centre", "survey"])]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.resident_id}"


class Answer(models.Model):
    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    score = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "question"], name="feedback_one_answer_per_question"),
            models.CheckConstraint(condition=Q(score__gte=1) & Q(score__lte=5), name="feedback_score_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.score}"


class Category(models.TextChoices):
    COMPLAINT = "complaint", "投诉 Complaint"
    SUGGESTION = "suggestion", "建议 Suggestion"
    PRAISE = "praise", "表扬 Praise"


class Status(models.TextChoices):
    RECEIVED = "received", "已受理 Received"
    ASSIGNED = "assigned", "处理中 Assigned"
    RESOLVED = "resolved", "已办结 Resolved"
    CLOSED = "closed", "已关闭 Closed"


class Complaint(models.Model):
    """A complaint, suggestion or praise from a resident about a centre, and where its handling stands."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="complaints")
    centre = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="complaints")
    category = models.CharField(max_length=12, choices=Category.choices)
    subject = models.CharField(max_length=100)
    text = models.TextField(max_length=2000)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    received_at = models.DateTimeField()
    assigned_to = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_complaints"
    )
    resolution = models.TextField(max_length=2000, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["centre", "status"])]

    def __str__(self) -> str:
        return self.subject


class ComplaintEvent(models.Model):
    """One step of a complaint's handling: who moved it to which status, when, and with what note."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=12, choices=Status.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.complaint_id} → {self.status}"
