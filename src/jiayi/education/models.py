"""Health education (健康教育): articles tagged by whom they are for, what was delivered to whom, what
was read."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jiayi.registry.models import Resident


class Topic(models.TextChoices):
    HYPERTENSION = "hypertension", "高血压 Hypertension"
    DIABETES = "diabetes", "糖尿病 Diabetes"
    FALLS = "falls", "跌倒预防 Falls"
    VACCINATION = "vaccination", "预防接种 Vaccination"
    SMOKING = "smoking", "控烟 Smoking"
    DIET = "diet", "合理膳食 Diet"
    EXERCISE = "exercise", "身体活动 Exercise"
    MENTAL_HEALTH = "mental_health", "心理健康 Mental health"
    CHILD_CARE = "child_care", "儿童保健 Child care"
    MATERNAL = "maternal", "孕产期保健 Maternal care"
    ELDERLY = "elderly", "老年健康 Healthy ageing"
    CANCER_SCREENING = "cancer_screening", "癌症筛查 Cancer screening"


class SexTarget(models.TextChoices):
    ANY = "", "不限 Any"
    MALE = "male", "男 Male"
    FEMALE = "female", "女 Female"


class Article(models.Model):
    """A short health-education article (健康教育资料), tagged by the people it is meant for."""

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=100)
    summary = models.CharField(max_length=200)
    body = models.TextField(help_text="Paragraphs separated by a blank line.")
    topic = models.CharField(max_length=24, choices=Topic.choices)
    icd10_prefixes = models.JSONField(
        default=list, blank=True, help_text='Conditions it is for, as ICD-10 prefixes, e.g. ["I10", "I11"].'
    )
    risk_tags = models.JSONField(
        default=list, blank=True, help_text='Risks it addresses, e.g. ["high_bp", "smoker", "fall_risk"].'
    )
    min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(null=True, blank=True)
    sex = models.CharField(max_length=8, choices=SexTarget.choices, blank=True, default=SexTarget.ANY)
    source = models.CharField(max_length=200, blank=True, help_text="The guideline it follows.")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["topic", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_age__isnull=True)
                | Q(max_age__isnull=True)
                | Q(min_age__lte=models.F("max_age")),
                name="education_article_age_band_ordered",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]


class Channel(models.TextChoices):
    APP = "app", "居民端推送 App"
    SMS = "sms", "短信 SMS"
    CLINIC = "clinic", "门诊发放 Handed out at the clinic"
    LECTURE = "lecture", "健康讲座 Lecture"


class Delivery(models.Model):
    """An article sent or handed to a resident (推送/发放记录), and why."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="education_deliveries")
    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    reason = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField()
    delivered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-delivered_at", "-id"]
        indexes = [models.Index(fields=["resident", "delivered_at"]), models.Index(fields=["article"])]

    def __str__(self) -> str:
        return f"{self.article_id} → {self.resident_id}"


class Reading(models.Model):
    """A resident read an article (已阅读): the first read counts, later ones change nothing."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="education_readings")
    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="readings")
    read_at = models.DateTimeField()

    class Meta:
        ordering = ["-read_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["resident", "article"], name="education_read_once_per_article")
        ]

    def __str__(self) -> str:
        return f"{self.article_id} read by {self.resident_id}"
