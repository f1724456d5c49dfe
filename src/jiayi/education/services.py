"""Health education from the record: a resident's profile, recommendations, deliveries and reads.

Reading an article earns points through the ledger, keyed by (resident, article), so reading it again or
replaying the reads pays once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiayi.care.choices import ExerciseFrequency, SmokingStatus
from jiayi.care.models import Assessment, PlanItem
from jiayi.education import recommend as rec
from jiayi.education.models import Article, Channel, Delivery, Reading
from jiayi.points import rules as point_rules
from jiayi.points import services as points
from jiayi.points.models import EventKind
from jiayi.records.choices import ClinicalStatus, ObservationCode
from jiayi.records.models import Condition, Observation
from jiayi.registry.models import Resident

ACTIVE = (ClinicalStatus.ACTIVE, ClinicalStatus.RECURRENCE, ClinicalStatus.RELAPSE)
_LATEST: dict[str, str] = {
    ObservationCode.SYSTOLIC_BP: "sbp",
    ObservationCode.DIASTOLIC_BP: "dbp",
    ObservationCode.FASTING_GLUCOSE: "fasting_glucose",
    ObservationCode.HBA1C: "hba1c",
    ObservationCode.BMI: "bmi",
}

REASON_TEXT = {
    "plan": "家庭医生为您制定的健康管理计划",
    "condition": "与您的诊断相关",
    "risk": "与您近期的检查结果相关",
    "general": "适合所有人的健康常识",
    "age": "适合您的年龄段",
}


def profile_of(resident: Resident, *, today: date) -> rec.Profile:
    """What the record says about the resident that bears on advice."""
    conditions = frozenset(
        Condition.objects.filter(resident=resident, clinical_status__in=ACTIVE).values_list("code", flat=True)
    )
    latest: dict[str, float] = {}
    for code, value in (
        Observation.objects.filter(resident=resident, code__in=list(_LATEST))
        .order_by("code", "-effective_at")
        .values_list("code", "value")
    ):
        latest.setdefault(_LATEST[code], value)
    assessment = Assessment.objects.filter(resident=resident).order_by("-year").first()
    if assessment is not None:
        for name in ("sbp", "dbp", "bmi"):
            value = getattr(assessment, name)
            if value is not None and name not in latest:
                latest[name] = float(value)
    age = resident.age_on(today)
    plan_codes = frozenset(
        PlanItem.objects.filter(resident=resident, done_on__isnull=True).values_list("code", flat=True)
    )
    return rec.Profile(
        age=age,
        sex=resident.sex,
        conditions=conditions,
        risks=rec.risks_from(
            age=age,
            conditions=conditions,
            smoker=assessment is not None and assessment.smoking == SmokingStatus.CURRENT,
            inactive=assessment is not None and assessment.exercise == ExerciseFrequency.NONE,
            **latest,
        ),
        plan_codes=plan_codes,
    )


def tags_of(article: Article) -> rec.Tags:
    return rec.Tags(
        article_id=article.pk,
        topic=article.topic,
        icd10_prefixes=tuple(article.icd10_prefixes),
        risk_tags=tuple(article.risk_tags),
        min_age=article.min_age,
        max_age=article.max_age,
        sex=article.sex,
    )


@dataclass(frozen=True, slots=True)
class Suggested:
    article: Article
    score: int
    reasons: tuple[str, ...]
    read: bool

    @property
    def reason_text(self) -> str:
        return "；".join(REASON_TEXT[r.split(":")[0]] for r in self.reasons)


def recommendations(resident: Resident, *, today: date, limit: int = 8) -> list[Suggested]:
    articles = {a.pk: a for a in Article.objects.filter(active=True)}
    read = set(Reading.objects.filter(resident=resident).values_list("article_id", flat=True))
    ranked = rec.recommend(
        profile_of(resident, today=today), (tags_of(a) for a in articles.values()), read=read, limit=limit
    )
    return [Suggested(articles[r.article_id], r.score, r.reasons, r.article_id in read) for r in ranked]


def deliver(
    resident: Resident, article: Article, *, channel: str = Channel.APP, reason: str = "", by: Any = None
) -> Delivery:
    return Delivery.objects.create(
        resident=resident,
        article=article,
        channel=channel,
        reason=reason[:200],
        delivered_at=timezone.now(),
        delivered_by=by,
    )


def mark_read(resident: Resident, article: Article) -> tuple[Reading, int]:
    """Record that the resident read the article; returns the reading and the points it earned now."""
    with transaction.atomic():
        reading, created = Reading.objects.get_or_create(
            resident=resident, article=article, defaults={"read_at": timezone.now()}
        )
        if not created:
            return reading, 0
        entry = points.award(
            point_rules.PointEvent(
                resident.pk,
                point_rules.local_day(reading.read_at),
                point_rules.education_read_key(resident.pk, article.pk),
                EventKind.EDUCATION_READ,
            )
        )
    return reading, entry.points if entry is not None else 0
